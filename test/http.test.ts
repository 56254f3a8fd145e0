import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import pkg from "../package.json";
import { idempotencyKeys } from "../src/db/schema";
import { ErrorCode } from "../src/errors";
import worker from "../src/index";
import { alertBody, call, makeToken, uniqueOrg } from "./helpers";
import { orgDb } from "./shard-helpers";

const ALERTS = "/api/v1/alerts";

/** A fresh org with an admin token (admins see every alert of their org). */
async function freshAdmin() {
  const org = uniqueOrg();
  return { org, token: await makeToken({ org, sub: "admin1", role: "admin" }) };
}

/** Asserts the org still has no alerts. */
async function expectNoAlerts(token: string) {
  const list = await call("GET", ALERTS, { token });
  expect(list.status, list.text).toBe(200);
  expect(list.json.items).toEqual([]);
}

describe("health", () => {
  it("reports ok, the package version and D1 reachability without a token", async () => {
    const res = await call("GET", "/health");
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ status: "ok", version: pkg.version, d1: { reachable: true } });
    expect(typeof res.json.d1.latencyMs).toBe("number");
  });
});

describe("OpenAPI document", () => {
  it("is an OpenAPI 3.1 document listing every route and the bearer scheme", async () => {
    const res = await call("GET", "/openapi.json");
    expect(res.status, res.text).toBe(200);
    const doc = res.json;
    expect(String(doc.openapi)).toMatch(/^3\.1/);
    expect(doc.info.version).toBe(pkg.version);

    const expected: Record<string, string[]> = {
      "/health": ["get"],
      "/api/v1/alerts": ["get", "post"],
      "/api/v1/alerts/stats": ["get"],
      "/api/v1/alerts/bulk": ["post"],
      "/api/v1/alerts/{id}": ["get"],
      "/api/v1/alerts/{id}/history": ["get"],
      "/api/v1/alerts/{id}/status": ["patch"],
      "/api/v1/alerts/{id}/assign": ["post"],
      "/api/v1/alerts/{id}/convert": ["post"],
      "/api/v1/users/{id}": ["get", "put"],
    };
    for (const [path, methods] of Object.entries(expected)) {
      expect(doc.paths, `paths should contain ${path}`).toHaveProperty([path]);
      for (const method of methods) {
        expect(doc.paths[path], `${method.toUpperCase()} ${path}`).toHaveProperty([method]);
      }
    }
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("names every operation with a unique camelCase operationId", async () => {
    const doc = (await call("GET", "/openapi.json")).json;
    const ids: string[] = [];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { operationId?: string }>>)) {
      for (const [method, op] of Object.entries(item)) {
        expect(op.operationId, `${method.toUpperCase()} ${path}`).toMatch(/^[a-z][A-Za-z0-9]*$/);
        ids.push(op.operationId!);
      }
    }
    expect(ids.length).toBeGreaterThan(40);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    expect(ids).toEqual(expect.arrayContaining(["createAlert", "listAlerts", "getAlert", "getHealth", "getOpenApiDocument"]));
  });

  it("documents itself and the public routes as needing no token", async () => {
    const doc = (await call("GET", "/openapi.json")).json;
    expect(doc.paths["/openapi.json"]?.get?.security).toEqual([]);
    expect(doc.paths["/health"]?.get?.security).toEqual([]);
    expect(doc.paths["/api/v1/alerts"].post.security).toEqual([{ bearerAuth: [] }]);
  });
});

describe("unknown routes", () => {
  it("answers 404 NOT_FOUND in JSON for an unknown path", async () => {
    const res = await call("GET", "/nope");
    expect(res.status).toBe(404);
    expect(res.headers.get("Content-Type") ?? "").toContain("application/json");
    expect(res.json.error.code).toBe(ErrorCode.NOT_FOUND);
  });

  it("answers 404 NOT_FOUND for an unknown /api/v1 path with a valid token", async () => {
    const { token } = await freshAdmin();
    const res = await call("GET", "/api/v1/nope", { token });
    expect(res.status, res.text).toBe(404);
    expect(res.json.error.code).toBe(ErrorCode.NOT_FOUND);
  });
});

describe("X-Request-Id", () => {
  it("is generated when the client sends none", async () => {
    const res = await call("GET", "/health");
    expect(res.headers.get("X-Request-Id") ?? "").not.toBe("");
  });

  it("echoes a valid id sent by the client", async () => {
    const res = await call("GET", "/health", { headers: { "X-Request-Id": "req-123" } });
    expect(res.headers.get("X-Request-Id")).toBe("req-123");
  });

  it("is on error responses and matches error.requestId", async () => {
    const unauthorized = await call("GET", ALERTS);
    expect(unauthorized.status).toBe(401);
    const id = unauthorized.headers.get("X-Request-Id");
    expect(id ?? "").not.toBe("");
    expect(unauthorized.json.error.requestId).toBe(id);

    const echoed = await call("GET", ALERTS, { headers: { "X-Request-Id": "req-123" } });
    expect(echoed.headers.get("X-Request-Id")).toBe("req-123");
    expect(echoed.json.error.requestId).toBe("req-123");

    const notFound = await call("GET", "/nope", { headers: { "X-Request-Id": "req-404" } });
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get("X-Request-Id")).toBe("req-404");
    expect(notFound.json.error.requestId).toBe("req-404");
  });
});

describe("CORS", () => {
  it("answers a preflight from an allowed origin", async () => {
    const res = await call("OPTIONS", ALERTS, {
      headers: {
        Origin: "https://app.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    const allowHeaders = (res.headers.get("Access-Control-Allow-Headers") ?? "")
      .split(",")
      .map((h) => h.trim().toLowerCase());
    expect(allowHeaders).toEqual(expect.arrayContaining(["authorization", "idempotency-key"]));
    expect(res.headers.get("Access-Control-Allow-Methods") ?? "").toContain("POST");
  });

  it("grants nothing to another origin", async () => {
    const preflight = await call("OPTIONS", ALERTS, {
      headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" },
    });
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBeNull();

    const simple = await call("GET", "/health", { headers: { Origin: "https://evil.example" } });
    expect(simple.status).toBe(200);
    expect(simple.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("allows the configured origin on ordinary responses", async () => {
    const res = await call("GET", "/health", { headers: { Origin: "https://app.example.com" } });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
  });
});

describe("request bodies", () => {
  it("refuses malformed JSON with 400 INVALID_JSON and creates nothing", async () => {
    const { token } = await freshAdmin();
    const res = await call("POST", ALERTS, { token, rawBody: "{bad", headers: { "Content-Type": "application/json" } });
    expect(res.status, res.text).toBe(400);
    expect(res.json.error.code).toBe(ErrorCode.INVALID_JSON);
    await expectNoAlerts(token);
  });

  it("refuses a text/plain body with 415 UNSUPPORTED_MEDIA_TYPE and creates nothing", async () => {
    const { token } = await freshAdmin();
    const res = await call("POST", ALERTS, {
      token,
      rawBody: JSON.stringify(alertBody()),
      headers: { "Content-Type": "text/plain" },
    });
    expect(res.status, res.text).toBe(415);
    expect(res.json.error.code).toBe(ErrorCode.UNSUPPORTED_MEDIA_TYPE);
    await expectNoAlerts(token);
  });

  it("refuses a body without Content-Type with 415 and creates nothing", async () => {
    const { token } = await freshAdmin();
    // A Uint8Array body gets no implicit Content-Type (a string would get text/plain).
    const res = await call("POST", ALERTS, { token, rawBody: new TextEncoder().encode(JSON.stringify(alertBody())) });
    expect(res.status, res.text).toBe(415);
    expect(res.json.error.code).toBe(ErrorCode.UNSUPPORTED_MEDIA_TYPE);
    await expectNoAlerts(token);
  });

  it("requires a body on every route that takes one: none and no Content-Type is 415 UNSUPPORTED_MEDIA_TYPE and writes nothing", async () => {
    const { token } = await freshAdmin();
    const doc = (await call("GET", "/openapi.json")).json;
    const routes: [string, string][] = [];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(item)) {
        if (!op.requestBody?.content?.["application/json"]) continue;
        expect(op.requestBody.required, `${method.toUpperCase()} ${path}: requestBody.required`).toBe(true);
        routes.push([method, path]);
      }
    }
    expect(routes).toEqual(
      expect.arrayContaining([
        ["put", "/api/v1/users/{id}"],
        ["put", "/api/v1/me/preferences"],
        ["put", "/api/v1/org/preferences"],
        ["post", "/api/v1/alerts"],
        ["patch", "/api/v1/alerts/{id}/status"],
        ["post", "/api/v1/realtime/broadcast"],
        ["post", "/api/v1/notifications"],
        ["post", "/api/v1/webhooks"],
        ["patch", "/api/v1/webhooks/{id}"],
        ["post", "/api/v1/events/ack"],
      ]),
    );

    const reads = ["/api/v1/me/preferences", "/api/v1/org/preferences", "/api/v1/webhooks", ALERTS, "/api/v1/notifications"];
    const snapshot = async () => Promise.all(reads.map(async (path) => (await call("GET", path, { token })).json));
    const before = await snapshot();
    for (const [method, path] of routes) {
      const res = await call(method.toUpperCase(), path.replace(/\{[^}]+\}/g, "none-1"), { token });
      expect(res.status, `${method.toUpperCase()} ${path}: ${res.text}`).toBe(415);
      expect(res.json.error.code, `${method.toUpperCase()} ${path}`).toBe(ErrorCode.UNSUPPORTED_MEDIA_TYPE);
    }
    const user = await call("GET", "/api/v1/users/none-1", { token });
    expect(user.status, user.text).toBe(404);
    expect(user.json.error.code).toBe(ErrorCode.USER_NOT_FOUND);
    expect(await snapshot()).toEqual(before);
  });

  it("refuses Content-Type: application/json with no body with 400 INVALID_JSON and creates nothing", async () => {
    const { token } = await freshAdmin();
    const res = await call("POST", ALERTS, { token, headers: { "Content-Type": "application/json" } });
    expect(res.status, res.text).toBe(400);
    expect(res.json.error.code).toBe(ErrorCode.INVALID_JSON);
    await expectNoAlerts(token);
  });

  it("refuses a body over MAX_BODY_BYTES with 413 PAYLOAD_TOO_LARGE and creates nothing", async () => {
    const { token } = await freshAdmin();
    const body = alertBody({ data: { blob: "x".repeat(300_000) } });
    const res = await call("POST", ALERTS, { token, body });
    expect(res.status, res.text).toBe(413);
    expect(res.json.error.code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
    await expectNoAlerts(token);
  });

  it("refuses an invalid alert with 400 VALIDATION_FAILED naming each bad field, and creates nothing", async () => {
    const { token } = await freshAdmin();
    const res = await call("POST", ALERTS, { token, body: alertBody({ confidence: 2 }) });
    expect(res.status, res.text).toBe(400);
    expect(res.json.error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(Array.isArray(res.json.error.details.issues)).toBe(true);
    expect(res.json.error.details.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: "confidence" })]));

    const { title: _title, ...withoutTitle } = alertBody();
    const missing = await call("POST", ALERTS, { token, body: { ...withoutTitle, priority: "URGENT" } });
    expect(missing.status, missing.text).toBe(400);
    expect(missing.json.error.code).toBe(ErrorCode.VALIDATION_FAILED);
    const paths = (missing.json.error.details.issues as { path: string }[]).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(["title", "priority"]));

    await expectNoAlerts(token);
  });

  it("still creates a valid alert (control for the refusals above)", async () => {
    const { token } = await freshAdmin();
    const res = await call("POST", ALERTS, { token, body: alertBody() });
    expect(res.status, res.text).toBe(201);
    const list = await call("GET", ALERTS, { token });
    expect(list.json.items).toHaveLength(1);
  });
});

describe("scheduled housekeeping", () => {
  it("purges expired idempotency keys and keeps live ones", async () => {
    const org = uniqueOrg();
    const db = await orgDb(org);
    const now = Date.now();
    const row = (key: string, expiresAt: number) => ({
      orgId: org,
      scope: "POST /api/v1/alerts",
      key,
      requestHash: "0".repeat(64),
      statusCode: 201,
      responseBody: "{}",
      createdAt: new Date(now - 2 * 86_400_000),
      expiresAt: new Date(expiresAt),
    });
    await db.insert(idempotencyKeys).values([row("expired-key", now - 60_000), row("live-key", now + 3_600_000)]);

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: new Date(now), cron: "17 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);

    const left = await db.select({ key: idempotencyKeys.key }).from(idempotencyKeys).where(eq(idempotencyKeys.orgId, org));
    expect(left.map((r) => r.key)).toEqual(["live-key"]);
  });
});
