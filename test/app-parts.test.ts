import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { appDeps, orgDeps } from "../src/deps";
import { AppError, ErrorCode } from "../src/errors";
import { assertRole, hasRole } from "../src/lib/roles";
import { uniqueOrg } from "./helpers";
import { orgShard } from "./shard-helpers";

describe("AppError carries its response", () => {
  it("answers its status, its headers, X-Request-Id and the JSON error body", async () => {
    const err = new AppError(429, ErrorCode.RATE_LIMITED, "Slow down", { limit: 1 }, { "Retry-After": "10" });
    const res = err.getResponse("req-1");
    expect(res.status).toBe(429);
    expect(res.headers.get("Content-Type")).toBe("application/json");
    expect(res.headers.get("Retry-After")).toBe("10");
    expect(res.headers.get("X-Request-Id")).toBe("req-1");
    expect(await res.json()).toEqual({ error: { code: "RATE_LIMITED", message: "Slow down", details: { limit: 1 }, requestId: "req-1" } });
  });

  it("leaves out details and requestId when it has none (a hub's refusal)", async () => {
    const res = new AppError(404, ErrorCode.NOT_FOUND, "No such hub route").getResponse();
    expect(res.headers.get("X-Request-Id")).toBeNull();
    expect(await res.text()).toBe('{"error":{"code":"NOT_FOUND","message":"No such hub route"}}');
  });
});

describe("role checks", () => {
  it("hasRole is true only for a listed role; assertRole throws 403 FORBIDDEN with the message", () => {
    expect(hasRole({ role: "service" }, "admin", "service")).toBe(true);
    expect(hasRole({ role: "agent" }, "admin", "service")).toBe(false);
    expect(() => assertRole({ role: "admin" }, ["admin"], "Admins only")).not.toThrow();
    try {
      assertRole({ role: "member" }, ["admin"], "Admins only");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ status: 403, code: "FORBIDDEN", message: "Admins only" });
    }
  });
});

describe("orgDeps(env, org)", () => {
  it("is built once per env and shard, from its config, with one object for the services that notify", async () => {
    const org = uniqueOrg();
    const d = await orgDeps(env, org);
    expect(await orgDeps(env, org)).toBe(d);
    expect(appDeps(env)).toBe(appDeps(env));
    expect(d.config).toBe(appDeps(env).config);
    expect(d.shard.index).toBe(await orgShard(org));
    expect(d.db).toBe(d.shard.db);
    expect(d.env).toBe(env);
    expect(d.notifications.env).toBe(env);
    expect(d.notifications.db).toBe(d.db);
    expect(d.notifications.config).toBe(d.config);
    expect(d.notifications.realtime).toBe(d.realtime);
    expect(d.limits.maxAlertDataBytes).toBe(d.config.maxAlertDataBytes);
  });
});
