import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { getConfig } from "../src/config";
import { AppError } from "../src/errors";
import { appDeps } from "../src/deps";
import { alertBody, BASE, makeToken, uniqueOrg } from "./helpers";
import { orgD1 } from "./shard-helpers";

const app = createApp();

/** Calls a fresh app with some vars overridden, as a deployment with that configuration would run. */
async function callWith(overrides: Partial<Env>, method: string, path: string, init: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  if (init.body !== undefined) headers.set("Content-Type", "application/json");
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`${BASE}${path}`, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) }),
    { ...env, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

describe("configuration", () => {
  it("applies the documented defaults when vars are empty", () => {
    const config = getConfig({
      ...env,
      ENVIRONMENT: "",
      CORS_ORIGINS: "",
      MAX_BODY_BYTES: "",
      MAX_ALERT_DATA_BYTES: "",
      IDEMPOTENCY_TTL_SECONDS: "",
      JWKS_CACHE_SECONDS: "",
      RATE_LIMIT_PERIOD_SECONDS: "",
      JWT_ISSUER: "",
      JWT_AUDIENCE: "",
      JWT_JWKS_URL: "",
    });
    expect(config).toMatchObject({
      environment: "production",
      corsOrigins: [],
      maxBodyBytes: 262_144,
      maxAlertDataBytes: 16_384,
      idempotencyTtlSeconds: 86_400,
      rateLimitPeriodSeconds: 60,
      jwt: { jwksCacheSeconds: 600, issuer: undefined, audience: undefined, jwksUrl: undefined, clockToleranceSeconds: 30 },
    });
  });

  it.each([
    ["MAX_BODY_BYTES", "lots"],
    ["MAX_BODY_BYTES", "10"],
    ["MAX_ALERT_DATA_BYTES", "-1"],
    ["IDEMPOTENCY_TTL_SECONDS", "1.5"],
    ["ENVIRONMENT", "staging"],
    ["JWT_JWKS_URL", "ftp://keys.example"],
    ["JWT_SECRET", "too-short"],
  ])("refuses %s=%s with 500 CONFIG_INVALID, before touching any data", async (name, value) => {
    expect(() => getConfig({ ...env, [name]: value })).toThrow(AppError);
    const org = uniqueOrg();
    const res = await callWith({ [name]: value }, "POST", "/api/v1/alerts", { token: await makeToken({ org }), body: alertBody() });
    expect(res.status).toBe(500);
    expect(res.json.error.code).toBe("CONFIG_INVALID");
    for (const shard of appDeps(env).shards.shards) {
      const count = await shard.d1.prepare("SELECT count(*) AS n FROM alerts WHERE org_id = ?").bind(org).first<{ n: number }>();
      expect(count!.n).toBe(0);
    }
  });

  it("enforces a smaller MAX_BODY_BYTES", async () => {
    const token = await makeToken({ org: uniqueOrg() });
    const body = alertBody({ message: "m".repeat(1500) });
    expect((await callWith({}, "POST", "/api/v1/alerts", { token, body })).status).toBe(201);
    const res = await callWith({ MAX_BODY_BYTES: "1024" }, "POST", "/api/v1/alerts", { token, body });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("enforces a smaller MAX_ALERT_DATA_BYTES", async () => {
    const token = await makeToken({ org: uniqueOrg() });
    const body = alertBody({ data: { note: "d".repeat(150) } });
    const res = await callWith({ MAX_ALERT_DATA_BYTES: "100" }, "POST", "/api/v1/alerts", { token, body });
    expect(res.status).toBe(413);
    expect(res.json.error).toMatchObject({ code: "DATA_TOO_LARGE", details: { limit: 100 } });
    expect((await callWith({ MAX_ALERT_DATA_BYTES: "1024" }, "POST", "/api/v1/alerts", { token, body })).status).toBe(201);
  });

  it("remembers idempotency keys for IDEMPOTENCY_TTL_SECONDS", async () => {
    const org = uniqueOrg();
    const token = await makeToken({ org });
    const before = Date.now();
    const res = await callWith({ IDEMPOTENCY_TTL_SECONDS: "120" }, "POST", "/api/v1/alerts", {
      token,
      body: alertBody(),
      headers: { "Idempotency-Key": "ttl-check" },
    });
    expect(res.status).toBe(201);
    const row = await (await orgD1(org)).prepare("SELECT created_at, expires_at FROM idempotency_keys WHERE org_id = ?")
      .bind(org)
      .first<{ created_at: number; expires_at: number }>();
    expect(row!.expires_at - row!.created_at).toBe(120_000);
    expect(row!.created_at).toBeGreaterThanOrEqual(before);
  });

  it("requires the configured issuer and audience", async () => {
    const org = uniqueOrg();
    const overrides = { JWT_ISSUER: "https://id.example", JWT_AUDIENCE: "herald" };
    const bare = await callWith(overrides, "GET", "/api/v1/alerts", { token: await makeToken({ org }) });
    expect(bare.status).toBe(401);
    expect(bare.json.error.code).toBe("AUTH_FAILED");
    const good = await callWith(overrides, "GET", "/api/v1/alerts", {
      token: await makeToken({ org, issuer: "https://id.example", audience: "herald" }),
    });
    expect(good.status).toBe(200);
  });

  it("allows any origin when CORS_ORIGINS is *", async () => {
    const res = await callWith({ CORS_ORIGINS: "*" }, "GET", "/health", { headers: { Origin: "https://anywhere.example" } });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    const none = await callWith({ CORS_ORIGINS: "" }, "GET", "/health", { headers: { Origin: "https://anywhere.example" } });
    expect(none.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("sends RATE_LIMIT_PERIOD_SECONDS as Retry-After", async () => {
    const token = await makeToken({ org: uniqueOrg() });
    const exhausted = { limit: async () => ({ success: false }) } as unknown as RateLimit;
    const res = await callWith({ API_RATE_LIMITER: exhausted, RATE_LIMIT_PERIOD_SECONDS: "10" }, "GET", "/api/v1/alerts", { token });
    expect(res.status).toBe(429);
    expect(res.json.error.code).toBe("RATE_LIMITED");
    expect(res.headers.get("Retry-After")).toBe("10");
  });
});
