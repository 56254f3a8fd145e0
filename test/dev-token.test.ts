import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { BASE, call, uniqueOrg } from "./helpers";

const app = createApp();
const DEV = { ENVIRONMENT: "development" };

/** Calls the app as a deployment with these vars would (ENVIRONMENT=development unless overridden). */
async function fetchWith(vars: Partial<Env>, method: string, path: string, o: { body?: unknown; token?: string; rawBody?: string } = {}) {
  const headers = new Headers();
  if (o.token) headers.set("Authorization", `Bearer ${o.token}`);
  if (o.body !== undefined || o.rawBody !== undefined) headers.set("Content-Type", "application/json");
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`${BASE}${path}`, { method, headers, body: o.rawBody ?? (o.body === undefined ? undefined : JSON.stringify(o.body)) }),
    { ...env, ...vars } as Env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as any) : undefined };
}

describe("POST /api/dev/token", () => {
  it("is 404 NOT_FOUND in the test environment, even with a bad body, and mints nothing", async () => {
    for (const body of [{}, { role: "root" }]) {
      const res = await call("POST", "/api/dev/token", { body });
      expect(res.status).toBe(404);
      expect(res.json.error.code).toBe("NOT_FOUND");
      expect(res.json.token).toBeUndefined();
    }
  });

  it("is 404 NOT_FOUND in production", async () => {
    const res = await fetchWith({ ENVIRONMENT: "production" }, "POST", "/api/dev/token", { body: {} });
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe("NOT_FOUND");
  });

  it("mints, with no bearer, an admin of dev-org by default, valid for an hour", async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await fetchWith(DEV, "POST", "/api/dev/token", { body: {} });
    expect(res.status).toBe(200);
    expect(res.json.claims).toMatchObject({ sub: "dev-admin", org: "dev-org", role: "admin" });
    expect(res.json.claims.exp - res.json.claims.iat).toBe(3600);
    expect(res.json.claims.iat).toBeGreaterThanOrEqual(before);
    expect(res.json.expiresAt).toBe(new Date(res.json.claims.exp * 1000).toISOString());
    expect(decodeJwt(res.json.token)).toMatchObject(res.json.claims);
  });

  it("mints a token the API accepts: GET /api/v1/alerts and POST /api/v1/realtime/ticket as that user", async () => {
    const org = uniqueOrg();
    const minted = await fetchWith(DEV, "POST", "/api/dev/token", {
      body: { sub: "agent-7", org, role: "agent", name: "Agent Seven", email: "a7@example.com", ttlSeconds: 120 },
    });
    expect(minted.status).toBe(200);
    expect(minted.json.claims).toMatchObject({ sub: "agent-7", org, role: "agent", name: "Agent Seven", email: "a7@example.com" });
    expect(minted.json.claims.exp - minted.json.claims.iat).toBe(120);
    const token = minted.json.token as string;

    const alerts = await fetchWith(DEV, "GET", "/api/v1/alerts", { token });
    expect(alerts.status).toBe(200);
    expect(alerts.json.items).toEqual([]);
    const ticket = await fetchWith(DEV, "POST", "/api/v1/realtime/ticket", { token });
    expect(ticket.status).toBe(201);
    expect(typeof ticket.json.ticket).toBe("string");
    // The same secret verifies it wherever it is configured.
    expect((await call("GET", "/api/v1/alerts", { token })).status).toBe(200);
  });

  it("carries JWT_ISSUER and JWT_AUDIENCE when configured, so the token passes their checks", async () => {
    const vars = { ...DEV, JWT_ISSUER: "https://issuer.example", JWT_AUDIENCE: "herald-dev" };
    const minted = await fetchWith(vars, "POST", "/api/dev/token", { body: { org: uniqueOrg() } });
    expect(minted.status).toBe(200);
    expect(minted.json.claims).toMatchObject({ iss: "https://issuer.example", aud: "herald-dev" });
    expect((await fetchWith(vars, "GET", "/api/v1/alerts", { token: minted.json.token })).status).toBe(200);
    const other = await fetchWith({ ...vars, JWT_AUDIENCE: "someone-else" }, "GET", "/api/v1/alerts", { token: minted.json.token });
    expect(other.status).toBe(401);
    expect(other.json.error.code).toBe("AUTH_FAILED");
  });

  it.each([
    ["an unknown role", { role: "root" }],
    ["an unknown field", { sub: "u1", admin: true }],
    ["a ttl below 60 s", { ttlSeconds: 59 }],
    ["a ttl above a day", { ttlSeconds: 86_401 }],
    ["a ttl that is not an integer", { ttlSeconds: 90.5 }],
    ["an id with a space", { sub: "dev admin" }],
    ["an invalid email", { email: "not-an-email" }],
  ])("refuses %s with 400 VALIDATION_FAILED", async (_what, body) => {
    const res = await fetchWith(DEV, "POST", "/api/dev/token", { body });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("VALIDATION_FAILED");
  });

  it("refuses a body that is not JSON with 400 INVALID_JSON", async () => {
    const res = await fetchWith(DEV, "POST", "/api/dev/token", { rawBody: "{" });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("INVALID_JSON");
  });

  it("is inside the /api body limit: a body over MAX_BODY_BYTES is 413 PAYLOAD_TOO_LARGE", async () => {
    const res = await fetchWith({ ...DEV, MAX_BODY_BYTES: "1024" }, "POST", "/api/dev/token", { body: { name: "x".repeat(2000) } });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("needs no body in production to answer 404, and a JSON body in development (415 without)", async () => {
    expect((await fetchWith({ ENVIRONMENT: "production" }, "POST", "/api/dev/token")).status).toBe(404);
    const res = await fetchWith(DEV, "POST", "/api/dev/token");
    expect(res.status).toBe(415);
    expect(res.json.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("is 503 SERVICE_UNAVAILABLE when tokens are verified against a JWKS (an HS256 token could not pass)", async () => {
    const res = await fetchWith({ ...DEV, JWT_JWKS_URL: "https://keys.example/.well-known/jwks.json" }, "POST", "/api/dev/token", { body: {} });
    expect(res.status).toBe(503);
    expect(res.json.error.code).toBe("SERVICE_UNAVAILABLE");
    expect(res.json.error.message).toMatch(/JWT_SECRET/);
  });

  it("is not in the OpenAPI document", async () => {
    const doc = await fetchWith(DEV, "GET", "/openapi.json");
    expect(Object.keys(doc.json.paths)).not.toContain("/api/dev/token");
  });
});
