import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import { call, makeToken, uniqueOrg } from "../helpers";
import { refusedUpgrade } from "../ws-helpers";

// This project runs wrangler.toml's top-level [vars] as `wrangler deploy` ships
// them, plus only the secret a deployment sets (vitest.config.ts, "deployed").
describe("the deployed configuration (wrangler.toml's top-level vars)", () => {
  it("is production with no browser origins and no insecure webhooks", () => {
    const config = getConfig(env);
    expect(config.environment).toBe("production");
    expect(config.corsOrigins).toEqual([]);
    expect(config.allowedOrigins).toEqual([]);
    expect(config.delivery.allowInsecureWebhooks).toBe(false);
  });

  it("has no dev outbox: GET /api/v1/dev/outbox is 404 NOT_FOUND", async () => {
    const token = await makeToken({ org: uniqueOrg(), role: "admin" });
    const res = await call("GET", "/api/v1/dev/outbox", { token });
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe("NOT_FOUND");
  });

  it.each([
    "http://localhost:9999/herald",
    "http://crm.example.com/hook",
    "https://127.0.0.1/hook",
    "https://10.0.0.7/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/hook",
  ])("refuses the webhook target %s with 400 WEBHOOK_URL_NOT_ALLOWED, storing nothing", async (url) => {
    const token = await makeToken({ org: uniqueOrg(), role: "admin" });
    const res = await call("POST", "/api/v1/webhooks", { token, body: { url, events: ["alert:*"] } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("WEBHOOK_URL_NOT_ALLOWED");
    const list = await call("GET", "/api/v1/webhooks", { token });
    expect(list.status).toBe(200);
    expect(list.json.items).toEqual([]);
  });

  it("answers no browser origin's CORS preflight", async () => {
    const res = await call("OPTIONS", "/api/v1/alerts", {
      headers: { Origin: "https://app.example.com", "Access-Control-Request-Method": "POST" },
    });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("still serves server-side clients (no Origin)", async () => {
    const token = await makeToken({ org: uniqueOrg(), role: "admin" });
    const res = await call("GET", "/api/v1/alerts", { token });
    expect(res.status).toBe(200);
  });
});

describe("the deployed configuration and browsers", () => {
  it("refuses a browser's WebSocket upgrade with close 4403 ORIGIN_NOT_ALLOWED until ALLOWED_ORIGINS is set", async () => {
    const token = await makeToken({ org: uniqueOrg(), sub: "u1", role: "agent" });
    const r = await refusedUpgrade("/api/v1/ws", { token, headers: { Origin: "https://app.example.com" } });
    expect(r.code).toBe(4403);
    expect(r.reason.code).toBe("ORIGIN_NOT_ALLOWED");
  });
});
