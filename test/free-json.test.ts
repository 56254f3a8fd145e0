import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { getConfig } from "../src/config";
import { BASE, call, makeToken, uniqueOrg } from "./helpers";
import { orgD1 } from "./shard-helpers";

/**
 * Free JSON fields (alert `data`, broadcast `data`, notification `data`) are
 * bounded in nesting depth (MAX_JSON_DEPTH) and may not use the keys
 * `__proto__`, `constructor` or `prototype`: 400 VALIDATION_FAILED with the
 * path, nothing stored. Bodies are sent as raw strings, since deep or
 * `__proto__` JSON cannot be produced by JSON.stringify of an object literal.
 */

const ALERT_FIELDS = `"alertType":"LIKELY_TO_SELL","priority":"HIGH","title":"Deep"`;

/** `levels` nested objects, the innermost holding a number: nested(1) = {"v":1}, nested(2) = {"a":{"v":1}}. */
const nested = (levels: number) => `${'{"a":'.repeat(levels - 1)}{"v":1}${"}".repeat(levels - 1)}`;

/** About 10 KB of JSON nested a few thousand levels deep (the issue's reproduction). */
const DEEP_DATA = `{"a":${"[".repeat(4000)}${"]".repeat(4000)}}`;

async function org() {
  const id = uniqueOrg("json");
  return {
    id,
    admin: await makeToken({ org: id, sub: "admin1", role: "admin" }),
    service: await makeToken({ org: id, sub: "svc", role: "service" }),
  };
}

const raw = (token: string, body: string, headers: Record<string, string> = {}) => ({
  token,
  rawBody: body,
  headers: { "Content-Type": "application/json", ...headers },
});

/** Counts `orgId`'s rows in its shard (the statement's one parameter is the org). */
async function count(sql: string, orgId: string): Promise<number> {
  return (await (await orgD1(orgId)).prepare(sql).bind(orgId).first<{ n: number }>())!.n;
}

async function nothingStored(orgId: string) {
  expect(await count("SELECT count(*) AS n FROM alerts WHERE org_id = ?", orgId)).toBe(0);
  expect(await count("SELECT count(*) AS n FROM notifications WHERE org_id = ?", orgId)).toBe(0);
  expect(await count("SELECT count(*) AS n FROM realtime_events WHERE org_id = ?", orgId)).toBe(0);
  expect(await count("SELECT count(*) AS n FROM idempotency_keys WHERE org_id = ?", orgId)).toBe(0);
}

function expectIssue(res: { status: number; json: any; text: string }, path: string, code: "too_deep" | "forbidden_key") {
  expect(res.status, res.text).toBe(400);
  expect(res.json.error.code).toBe("VALIDATION_FAILED");
  expect(res.json.error.details.issues).toContainEqual(expect.objectContaining({ path, code }));
}

describe("nesting depth of free JSON (MAX_JSON_DEPTH)", () => {
  it("defaults to 32", () => {
    expect(getConfig(env).maxJsonDepth).toBe(32);
  });

  it("refuses alert data nested a few thousand levels deep with 400 and the path; nothing is stored", async () => {
    const o = await org();
    const res = await call("POST", "/api/v1/alerts", raw(o.admin, `{${ALERT_FIELDS},"data":${DEEP_DATA}}`));
    expectIssue(res, `data.a${".0".repeat(31)}`, "too_deep");
    await nothingStored(o.id);
  });

  it("answers the same deep alert with an Idempotency-Key with 400, not 500", async () => {
    const o = await org();
    const res = await call("POST", "/api/v1/alerts", raw(o.admin, `{${ALERT_FIELDS},"data":${DEEP_DATA}}`, { "Idempotency-Key": "deep-1" }));
    expectIssue(res, `data.a${".0".repeat(31)}`, "too_deep");
    await nothingStored(o.id);
  });

  it("accepts data nested exactly MAX_JSON_DEPTH levels and refuses one more, naming the deepest path", async () => {
    const o = await org();
    const ok = await call("POST", "/api/v1/alerts", raw(o.admin, `{${ALERT_FIELDS},"data":${nested(32)}}`));
    expect(ok.status, ok.text).toBe(201);
    const tooDeep = await call("POST", "/api/v1/alerts", raw(o.admin, `{${ALERT_FIELDS},"title":"one more","data":${nested(33)}}`));
    expectIssue(tooDeep, `data${".a".repeat(32)}`, "too_deep");
    expect(await count("SELECT count(*) AS n FROM alerts WHERE org_id = ?", o.id)).toBe(1);
  });

  it("refuses deep broadcast data (an array at the top too) with 400; nothing is published", async () => {
    const o = await org();
    const body = `{"event":"deal:won","data":${"[".repeat(3000)}${"]".repeat(3000)},"target":{"userIds":["u1"]}}`;
    const res = await call("POST", "/api/v1/realtime/broadcast", raw(o.service, body, { "Idempotency-Key": "deep-b" }));
    expectIssue(res, `data${".0".repeat(32)}`, "too_deep");
    await nothingStored(o.id);
  });

  it("refuses deep notification data with 400; nobody is notified", async () => {
    const o = await org();
    const body = `{"userIds":["u1","u2"],"type":"deal.won","title":"Deal","data":${DEEP_DATA}}`;
    const res = await call("POST", "/api/v1/notifications", raw(o.service, body, { "Idempotency-Key": "deep-n" }));
    expectIssue(res, `data.a${".0".repeat(31)}`, "too_deep");
    await nothingStored(o.id);
  });

  it("answers a body nested 100,000 levels (within MAX_BODY_BYTES) with 400, not 500", async () => {
    const o = await org();
    const body = `{${ALERT_FIELDS},"data":{"a":${"[".repeat(100_000)}${"]".repeat(100_000)}}}`;
    const res = await call("POST", "/api/v1/alerts", raw(o.admin, body));
    expectIssue(res, `data.a${".0".repeat(31)}`, "too_deep");
    await nothingStored(o.id);
  });

  it("follows MAX_JSON_DEPTH when it is set lower", async () => {
    const o = await org();
    const app = createApp();
    const send = (data: string) =>
      app.fetch(
        new Request(`${BASE}/api/v1/alerts`, {
          method: "POST",
          headers: { Authorization: `Bearer ${o.admin}`, "Content-Type": "application/json" },
          body: `{${ALERT_FIELDS},"data":${data}}`,
        }),
        { ...env, MAX_JSON_DEPTH: "3" },
      );
    const refused = await send(nested(4));
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as any;
    expect(body.error.details.issues[0]).toMatchObject({ path: "data.a.a.a", code: "too_deep" });
    expect((await send(nested(3))).status).toBe(201);
  });
});

describe("__proto__, constructor and prototype keys in free JSON", () => {
  for (const key of ["__proto__", "constructor", "prototype"]) {
    it(`refuses "${key}" in alert data with 400 naming the path, instead of dropping it`, async () => {
      const o = await org();
      const res = await call("POST", "/api/v1/alerts", raw(o.admin, `{${ALERT_FIELDS},"data":{"score":1,"nested":{"${key}":{"isAdmin":true}}}}`));
      expectIssue(res, `data.nested.${key}`, "forbidden_key");
      await nothingStored(o.id);
    });
  }

  it('refuses "__proto__" in broadcast data and in notification data', async () => {
    const o = await org();
    const b = await call("POST", "/api/v1/realtime/broadcast", raw(o.service, `{"event":"deal:won","data":{"__proto__":{"x":1}},"target":{"userIds":["u1"]}}`));
    expectIssue(b, "data.__proto__", "forbidden_key");
    const n = await call("POST", "/api/v1/notifications", raw(o.service, `{"userIds":["u1"],"type":"deal.won","title":"Deal","data":{"list":[{"constructor":1}]}}`));
    expectIssue(n, "data.list.0.constructor", "forbidden_key");
    await nothingStored(o.id);
  });

  it("keeps ordinary keys that merely contain those words", async () => {
    const o = await org();
    const res = await call("POST", "/api/v1/alerts", raw(o.admin, `{${ALERT_FIELDS},"data":{"proto":1,"constructorName":"Ferrari","prototypes":[1]}}`));
    expect(res.status, res.text).toBe(201);
    expect(res.json.data).toEqual({ proto: 1, constructorName: "Ferrari", prototypes: [1] });
  });
});
