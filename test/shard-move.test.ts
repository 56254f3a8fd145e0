import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { appDeps } from "../src/deps";
import { moveStep, type MoveStepResult } from "../src/sharding/move";
import { ORG_TABLES } from "../src/sharding/tables";
import { alertBody, call, makeToken, uniqueOrg } from "./helpers";
import { allShards, orgShard, placeOrg } from "./shard-helpers";
import { connect } from "./ws-helpers";

const OPS = { Authorization: `Bearer ${env.OPS_TOKEN}` };

/** Every row of the org on one shard, per table (event targets without their shard-local position). */
async function snapshot(d1: D1Database, org: string): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of ORG_TABLES) {
    const order = t.appendOnly ? "pos" : t.key.join(", ");
    const { results } = await d1.prepare(`SELECT * FROM ${t.name} WHERE org_id = ? ORDER BY ${order}`).bind(org).all<Record<string, unknown>>();
    out[t.name] = results.map((r) => {
      if (!t.appendOnly) return r;
      const { pos: _pos, ...rest } = r;
      return rest;
    });
  }
  return out;
}

async function rowCount(d1: D1Database, org: string): Promise<number> {
  let n = 0;
  for (const t of ORG_TABLES) n += (await d1.prepare(`SELECT COUNT(*) AS n FROM ${t.name} WHERE org_id = ?`).bind(org).first<{ n: number }>())!.n;
  return n;
}

/** An org on `shard` with a bit of everything: users, alerts in several states, notifications, events, an idempotency key, a webhook. */
async function populatedOrg(shard: number, alerts = 6) {
  const org = uniqueOrg("mv");
  await placeOrg(org, shard);
  const admin = await makeToken({ org, sub: "boss", role: "admin", email: "boss@example.com" });
  const service = await makeToken({ org, sub: "svc", role: "service" });
  const agent = await makeToken({ org, sub: "agent1", role: "agent" });
  expect((await call("PUT", "/api/v1/users/agent1", { token: admin, body: { role: "agent", email: "agent1@example.com" } })).status).toBeLessThan(300);
  expect((await call("GET", "/api/v1/alerts", { token: agent })).status).toBe(200);
  // Subscribed to an event no test publishes: the row moves, nothing is delivered.
  const webhook = await call("POST", "/api/v1/webhooks", { token: admin, body: { url: "https://hooks.example.com/herald", events: ["custom:never"] } });
  expect(webhook.status, webhook.text).toBe(201);
  const ids: string[] = [];
  for (let i = 0; i < alerts; i++) {
    const res = await call("POST", "/api/v1/alerts", {
      token: service,
      body: alertBody({ assigneeId: "agent1", title: `alert ${i}`, priority: i % 2 ? "MEDIUM" : "HIGH" }),
      headers: { "Idempotency-Key": `key-${i}` },
    });
    expect(res.status, res.text).toBe(201);
    ids.push(res.json.id);
  }
  expect((await call("PATCH", `/api/v1/alerts/${ids[0]}/status`, { token: agent, body: { status: "ACKNOWLEDGED" } })).status).toBe(200);
  if (ids[1]) expect((await call("PATCH", `/api/v1/alerts/${ids[1]}/status`, { token: agent, body: { status: "RESOLVED", note: "done" } })).status).toBe(200);
  expect((await call("POST", "/api/v1/notifications/read-all", { token: agent })).status).toBe(200);
  await settled(org, shard);
  return { org, tokens: { admin, service, agent }, ids };
}

/** Waits until the org's emails are sent (the queue consumer writes deliveries and the dev outbox in the background). */
async function settled(org: string, shard: number): Promise<void> {
  const d1 = allShards()[shard]!;
  for (let i = 0; i < 200; i++) {
    const pending = await d1.prepare("SELECT COUNT(*) AS n FROM deliveries WHERE org_id = ? AND status IN ('queued', 'deferred')").bind(org).first<number>("n");
    if (pending === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`deliveries of ${org} still queued after 10 s`);
}

/** Steps the move with a small configuration (so it takes many batches) until `until` says stop. */
function mover(batchRows = 4, stepBatches = 3) {
  const small = { ...env, SHARD_MOVE_BATCH_ROWS: String(batchRows), SHARD_MOVE_STEP_BATCHES: String(stepBatches) } as Env;
  const app = appDeps(small);
  return {
    app,
    step: (org: string, to: number) => moveStep(app, org, to),
    async until(org: string, to: number, stop: (r: MoveStepResult) => boolean, maxSteps = 500): Promise<MoveStepResult> {
      for (let i = 0; i < maxSteps; i++) {
        const r = await moveStep(app, org, to);
        if (stop(r)) return r;
        if (r.move?.state === "switched") await new Promise((resolve) => setTimeout(resolve, 250));
      }
      throw new Error(`move of ${org} did not reach the condition in ${maxSteps} steps`);
    },
  };
}

/** Retries a request answered 503 ORG_MOVING, as a client following Retry-After would (faster here). */
async function retrying(fn: () => ReturnType<typeof call>) {
  for (let i = 0; i < 40; i++) {
    const res = await fn();
    if (res.status !== 503 || res.json?.error?.code !== "ORG_MOVING") return res;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("still ORG_MOVING after 40 tries");
}

describe("moving an org between shards", { timeout: 30_000 }, () => {
  it("copies every row, verifies, switches, deletes the old copy: the API sees the same data on the new shard", async () => {
    const { org, tokens } = await populatedOrg(0);
    const [d0, d1] = allShards() as [D1Database, D1Database];
    const before = await snapshot(d0, org);
    expect(before.alerts).toHaveLength(6);
    const listBefore = await call("GET", "/api/v1/alerts?limit=100", { token: tokens.admin });

    const m = mover();
    const states = new Set<string>();
    const done = await m.until(org, 1, (r) => {
      if (r.move) states.add(r.move.state);
      return r.done;
    });
    expect([...states]).toEqual(["copying", "syncing", "verifying", "switched", "deleting"]);
    expect(done).toMatchObject({ org, shard: 1, epoch: 1, move: null, done: true });
    expect(await orgShard(org)).toBe(1);
    expect(await snapshot(d1, org)).toEqual(before);
    expect(await rowCount(d0, org)).toBe(0);
    // The old shard refuses the org for good: a write through a stale map cannot land there.
    expect(await d0.prepare("SELECT mode FROM org_fence WHERE org_id = ?").bind(org).first("mode")).toBe("retired");
    expect(await d1.prepare("SELECT mode FROM org_fence WHERE org_id = ?").bind(org).first("mode")).toBeNull();

    const listAfter = await retrying(() => call("GET", "/api/v1/alerts?limit=100", { token: tokens.admin }));
    expect(listAfter.json).toEqual(listBefore.json);
    // Idempotency keys moved with the org: a retry replays the first response.
    const replay = await retrying(() => call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ assigneeId: "agent1", title: "alert 3", priority: "MEDIUM" }), headers: { "Idempotency-Key": "key-3" } }));
    expect(replay.status).toBe(201);
    expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
    // New writes go to the new shard.
    const fresh = await retrying(() => call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ title: "after the move" }) }));
    expect(fresh.status).toBe(201);
    expect(await d1.prepare("SELECT COUNT(*) AS n FROM alerts WHERE org_id = ?").bind(org).first("n")).toBe(7);
    expect(await d0.prepare("SELECT COUNT(*) AS n FROM alerts WHERE org_id = ?").bind(org).first("n")).toBe(0);
  });

  it("loses no write made during the move: accepted before the fence, refused (503 ORG_MOVING) during it, accepted after", async () => {
    const { org, tokens } = await populatedOrg(1, 3);
    const m = mover(2, 1);
    // Part-way through the first copy, the org still takes writes.
    await m.until(org, 0, (r) => r.move?.state === "copying" && r.move.table === "notifications");
    const during = await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ assigneeId: "agent1", title: "written while copying" }) });
    expect(during.status, during.text).toBe(201);
    const acked = await call("PATCH", `/api/v1/alerts/${during.json.id}/status`, { token: tokens.agent, body: { status: "ACKNOWLEDGED" } });
    expect(acked.status).toBe(200);
    // Fenced: writes are refused with a retryable code, reads still answer.
    await m.until(org, 0, (r) => r.move?.state === "syncing");
    const refused = await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ title: "written while fenced" }), headers: { "Idempotency-Key": "fenced-1" } });
    expect(refused.status).toBe(503);
    expect(refused.json.error.code).toBe("ORG_MOVING");
    expect(refused.headers.get("Retry-After")).toBeTruthy();
    expect((await call("GET", "/api/v1/alerts", { token: tokens.admin })).status).toBe(200);
    // The client retries after the switch: accepted once, on the new shard.
    await m.until(org, 0, (r) => r.done);
    const retried = await retrying(() => call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ title: "written while fenced" }), headers: { "Idempotency-Key": "fenced-1" } }));
    expect(retried.status).toBe(201);
    const titles = (await call("GET", "/api/v1/alerts?limit=100", { token: tokens.admin })).json.items.map((a: { title: string; status: string }) => `${a.title}:${a.status}`);
    expect(titles).toContain("written while copying:ACKNOWLEDGED");
    expect(titles.filter((t: string) => t.startsWith("written while fenced"))).toHaveLength(1);
    expect(titles).toHaveLength(5);
    expect(await rowCount(allShards()[1]!, org)).toBe(0);
  });

  it("polling continues across a move: a cursor from the old shard returns exactly the events after it", async () => {
    const { org, tokens } = await populatedOrg(0, 2);
    const first = await call("GET", "/api/v1/events?limit=100", { token: tokens.agent });
    expect(first.status).toBe(200);
    const seen = first.json.items.map((e: { id: string }) => e.id);
    expect(seen.length).toBeGreaterThan(0);
    const cursor = first.json.nextCursor;
    // Two more alerts for the agent, then the move.
    for (const title of ["later 1", "later 2"]) {
      expect((await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ assigneeId: "agent1", title }) })).status).toBe(201);
    }
    const expected = (await call("GET", `/api/v1/events?limit=100&since=${encodeURIComponent(cursor)}`, { token: tokens.agent })).json.items.map((e: { id: string }) => e.id);
    expect(expected.length).toBeGreaterThanOrEqual(2);
    await mover(50, 50).until(org, 1, (r) => r.done);
    // The same old cursor after the move: the same events, none seen before, none missing.
    const after = await retrying(() => call("GET", `/api/v1/events?limit=100&since=${encodeURIComponent(cursor)}`, { token: tokens.agent }));
    expect(after.status).toBe(200);
    expect(after.json.items.map((e: { id: string }) => e.id)).toEqual(expected);
    // And from its end, only what is new.
    expect((await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ assigneeId: "agent1", title: "on the new shard" }) })).status).toBe(201);
    const next = await call("GET", `/api/v1/events?limit=100&since=${encodeURIComponent(after.json.nextCursor)}`, { token: tokens.agent });
    const newer = next.json.items as { id: string; type: string; data: { title?: string; alert?: { title?: string } } }[];
    expect(newer.length).toBeGreaterThan(0);
    expect(newer.some((e) => expected.includes(e.id) || seen.includes(e.id))).toBe(false);
  });

  it("a socket that reconnects with ?since after the move gets the events it missed, before and after the switch", async () => {
    const { org, tokens } = await populatedOrg(0, 1);
    const first = await connect("/api/v1/ws", { token: tokens.agent });
    await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ assigneeId: "agent1", title: "seen live" }) });
    await first.waitFor((f) => f.type === "alert:new");
    const lastSeen = Math.max(...first.frames.filter((f) => "seq" in f).map((f) => (f as { seq: number }).seq));
    first.close();
    await first.closed;
    const missedBefore = await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ assigneeId: "agent1", title: "missed before" }) });
    expect(missedBefore.status).toBe(201);
    await mover(50, 50).until(org, 1, (r) => r.done);
    const missedAfter = await retrying(() => call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ assigneeId: "agent1", title: "missed after" }) }));
    expect(missedAfter.status).toBe(201);
    const again = await connect("/api/v1/ws", { token: tokens.agent, query: { since: String(lastSeen) } });
    const connectedAt = again.frames.findIndex((f) => f.type === "connected");
    const replayed = again.frames.slice(0, connectedAt).filter((f) => f.type === "alert:new") as { data: { alert: { id: string } } }[];
    expect(replayed.map((f) => f.data.alert.id)).toEqual([missedBefore.json.id, missedAfter.json.id]);
    again.close();
  });

  it("resumes after an interruption without writing anything twice", async () => {
    const { org } = await populatedOrg(0, 4);
    const [d0, d1] = allShards() as [D1Database, D1Database];
    const before = await snapshot(d0, org);
    const m = mover(3, 2);
    await m.until(org, 1, (r) => r.move?.state === "copying" && r.move.table === "realtime_event_targets");
    await m.step(org, 1);
    // As if the step that copied those targets died before saving its cursor: the batch runs again.
    await env.DB.prepare("UPDATE org_shards SET move_cursor = NULL WHERE org_id = ?").bind(org).run();
    await m.until(org, 1, (r) => r.done);
    expect(await snapshot(d1, org)).toEqual(before);
    expect(await rowCount(d0, org)).toBe(0);
  });

  it("a move with more rows per batch than D1's 100 bound parameters (150 users, 60 alerts) stays within the limit", async () => {
    const org = uniqueOrg("big");
    await placeOrg(org, 1);
    const d1 = allShards()[1]!;
    const now = Date.now();
    const users = Array.from({ length: 150 }, (_, i) => ({ org_id: org, id: `u${i}`, role: "member", email: `u${i}@example.com`, name: null, created_at: now, updated_at: now, last_seen_at: now }));
    await d1
      .prepare(
        `INSERT INTO users (org_id, id, role, email, name, created_at, updated_at, last_seen_at)
         SELECT json_extract(value, '$.org_id'), json_extract(value, '$.id'), json_extract(value, '$.role'), json_extract(value, '$.email'), NULL, json_extract(value, '$.created_at'), json_extract(value, '$.updated_at'), json_extract(value, '$.last_seen_at') FROM json_each(?)`,
      )
      .bind(JSON.stringify(users))
      .run();
    const service = await makeToken({ org, sub: "svc", role: "service" });
    for (let i = 0; i < 60; i++) expect((await call("POST", "/api/v1/alerts", { token: service, body: alertBody({ title: `a${i}` }) })).status).toBe(201);
    const before = await snapshot(d1, org);
    const done = await mover(200, 50).until(org, 0, (r) => r.done);
    expect(done.shard).toBe(0);
    expect(await snapshot(allShards()[0]!, org)).toEqual(before);
  }, 60_000);
});

describe("the operator routes", { timeout: 30_000 }, () => {
  it("refuse without OPS_TOKEN; answer 404 when none is configured", async () => {
    expect((await call("GET", "/api/ops/shards")).status).toBe(401);
    expect((await call("GET", "/api/ops/shards", { headers: { Authorization: "Bearer wrong" } })).json.error.code).toBe("AUTH_FAILED");
    const { createApp } = await import("../src/app");
    const res = await createApp().fetch(new Request("https://herald.test/api/ops/shards", { headers: OPS }), { ...env, OPS_TOKEN: "" } as Env);
    expect(res.status).toBe(404);
  });

  it("list shards, show an org, move it step by step; bad moves get clear codes", async () => {
    const { org } = await populatedOrg(0, 1);
    const shards = await call("GET", "/api/ops/shards", { headers: OPS });
    expect(shards.status).toBe(200);
    expect(shards.json.shards.map((s: { index: number; binding: string }) => [s.index, s.binding])).toEqual([[0, "DB"], [1, "DB_SHARD_1"]]);
    expect(shards.json.shards[0].orgs).toBeGreaterThan(0);

    const shown = await call("GET", `/api/ops/orgs/${org}`, { headers: OPS });
    expect(shown.json).toEqual({ org, shard: 0, epoch: 0, move: null });
    expect((await call("GET", "/api/ops/orgs/never-seen", { headers: OPS })).status).toBe(404);

    expect((await call("POST", `/api/ops/orgs/${org}/move`, { headers: OPS, body: { to: 7 } })).json.error.code).toBe("SHARD_NOT_FOUND");
    expect((await call("POST", `/api/ops/orgs/${org}/move`, { headers: OPS, body: { to: "1" } })).json.error.code).toBe("VALIDATION_FAILED");
    const same = await call("POST", `/api/ops/orgs/${org}/move`, { headers: OPS, body: { to: 0 } });
    expect(same.json).toMatchObject({ done: true, shard: 0, changed: 0 });

    const first = await call("POST", `/api/ops/orgs/${org}/move`, { headers: OPS, body: { to: 1 } });
    expect(first.status).toBe(200);
    expect(first.json.move).toMatchObject({ from: 0, to: 1 });
    const conflict = await call("POST", `/api/ops/orgs/${org}/move`, { headers: OPS, body: { to: 0 } });
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.code).toBe("CONFLICT");
    let last = first;
    for (let i = 0; i < 50 && !last.json.done; i++) {
      if (last.json.move?.state === "switched") await new Promise((resolve) => setTimeout(resolve, 300));
      last = await call("POST", `/api/ops/orgs/${org}/move`, { headers: OPS, body: { to: 1 } });
      expect(last.status).toBe(200);
    }
    expect(last.json).toMatchObject({ done: true, shard: 1, epoch: 1, move: null });
  });
});
