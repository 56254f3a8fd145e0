import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { appDeps } from "../src/deps";
import worker from "../src/index";
import { newId } from "../src/lib/ids";
import { CONTROL_TABLES, ORG_TABLES } from "../src/sharding/tables";
import { alertBody, BASE, call, makeToken, uniqueOrg } from "./helpers";
import { allShards, orgShard, placeOrg } from "./shard-helpers";
import { connect, refusedUpgrade } from "./ws-helpers";

async function tablesWithOrg(d1: D1Database): Promise<string[]> {
  const { results } = await d1
    .prepare(
      `SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_cf_%' AND m.name NOT LIKE 'd1_%'
         AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'org_id') ORDER BY m.name`,
    )
    .all<{ name: string }>();
  return results.map((r) => r.name);
}

async function orgsIn(d1: D1Database, table: string): Promise<string[]> {
  const { results } = await d1.prepare(`SELECT DISTINCT org_id FROM ${table}`).all<{ org_id: string }>();
  return results.map((r) => r.org_id);
}

async function createAlert(token: string, overrides: Record<string, unknown> = {}) {
  const res = await call("POST", "/api/v1/alerts", { token, body: alertBody(overrides) });
  expect(res.status, res.text).toBe(201);
  return res.json as { id: string };
}

describe("shards: configuration and schema", () => {
  it("tests run two shards, the first holding the control data", () => {
    const { shards } = appDeps(env);
    expect(shards.shards.map((s) => s.binding)).toEqual(["DB", "DB_SHARD_1"]);
    expect(shards.control.binding).toBe("DB");
  });

  it("every table with an org_id is moved by a move and fenced by triggers, on every shard", async () => {
    for (const d1 of allShards()) {
      const tables = await tablesWithOrg(d1);
      expect(tables.filter((t) => !CONTROL_TABLES.includes(t)).sort()).toEqual(ORG_TABLES.map((t) => t.name).sort());
      const { results } = await d1.prepare("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'").all<{ tbl_name: string; name: string }>();
      for (const t of ORG_TABLES) {
        const names = results.filter((r) => r.tbl_name === t.name).map((r) => r.name).sort();
        expect(names, t.name).toEqual([`${t.name}_fence_delete`, `${t.name}_fence_insert`, `${t.name}_fence_update`]);
      }
    }
  });

  it("alerts and notifications are WITHOUT ROWID tables on every shard (migration 0009: one b-tree entry less per insert)", async () => {
    for (const d1 of allShards()) {
      for (const table of ["alerts", "notifications"]) {
        const sql = await d1.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").bind(table).first<string>("sql");
        expect(sql, table).toMatch(/\)\s*WITHOUT ROWID\s*$/);
      }
    }
  });

  it("a D1_SHARDS entry that is not a D1 binding is 500 CONFIG_INVALID", async () => {
    const bad = { ...env, D1_SHARDS: "DB,NOT_A_DATABASE" } as Env;
    const ctx = createExecutionContext();
    const res = await createApp().fetch(new Request(`${BASE}/api/v1/alerts`, { headers: { Authorization: `Bearer ${await makeToken()}` } }), bad, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("CONFIG_INVALID");
  });

  it("an org on a shard D1_SHARDS no longer lists is 500 CONFIG_INVALID (never another org's data, never a tenant-facing 404)", async () => {
    const org = uniqueOrg("dropped");
    await placeOrg(org, 1);
    const single = { ...env, D1_SHARDS: "DB" } as Env;
    const ctx = createExecutionContext();
    const res = await createApp().fetch(new Request(`${BASE}/api/v1/alerts`, { headers: { Authorization: `Bearer ${await makeToken({ org })}` } }), single, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("CONFIG_INVALID");
  });

  it("one shard is a valid configuration: every org lives on DB", async () => {
    const single = { ...env, D1_SHARDS: "DB" } as Env;
    const { shards } = appDeps(single);
    expect(shards.shards).toHaveLength(1);
    const org = uniqueOrg("one");
    // Shard 1 is the emptiest by measure, but a one-shard deployment does not know it.
    await env.DB.prepare("INSERT OR REPLACE INTO shard_sizes (shard, bytes, measured_at) VALUES (0, 1000000000, 1), (1, 1, 1)").run();
    try {
      const token = await makeToken({ org, role: "service", sub: "svc" });
      const ctx = createExecutionContext();
      const res = await createApp().fetch(
        new Request(`${BASE}/api/v1/alerts`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify(alertBody()) }),
        single,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(res.status).toBe(201);
      expect((await shards.placement(org)).shard.index).toBe(0);
      expect(await orgsIn(env.DB, "alerts")).toContain(org);
    } finally {
      await env.DB.prepare("DELETE FROM shard_sizes").run();
    }
  });
});

describe("shards: placing new organizations", () => {
  it("a new org goes to the shard with the fewest bytes, then the fewest orgs", async () => {
    await env.DB.prepare("INSERT OR REPLACE INTO shard_sizes (shard, bytes, measured_at) VALUES (0, 900000, 1), (1, 500000, 1)").run();
    const a = uniqueOrg("place");
    const token = await makeToken({ org: a, role: "admin" });
    expect((await call("GET", "/api/v1/alerts", { token })).status).toBe(200);
    expect(await orgShard(a)).toBe(1);

    await env.DB.prepare("INSERT OR REPLACE INTO shard_sizes (shard, bytes, measured_at) VALUES (0, 100000, 1), (1, 500000, 1)").run();
    const b = uniqueOrg("place");
    expect((await call("GET", "/api/v1/alerts", { token: await makeToken({ org: b, role: "admin" }) })).status).toBe(200);
    expect(await orgShard(b)).toBe(0);
    // An org stays where it was placed whatever the sizes say later.
    expect(await orgShard(a)).toBe(1);

    // Equal sizes: the shard with fewer orgs.
    await env.DB.prepare("INSERT OR REPLACE INTO shard_sizes (shard, bytes, measured_at) VALUES (0, 100, 1), (1, 100, 1)").run();
    const counts = async () =>
      (await env.DB.prepare("SELECT shard, COUNT(*) AS n FROM org_shards GROUP BY shard").all<{ shard: number; n: number }>()).results;
    const before = await counts();
    const fewer = (before.find((r) => r.shard === 0)?.n ?? 0) <= (before.find((r) => r.shard === 1)?.n ?? 0) ? 0 : 1;
    const c = uniqueOrg("place");
    expect((await call("GET", "/api/v1/alerts", { token: await makeToken({ org: c, role: "admin" }) })).status).toBe(200);
    expect(await orgShard(c)).toBe(fewer);
    await env.DB.prepare("DELETE FROM shard_sizes").run();
  });

  it("concurrent first requests of one org agree on its shard", async () => {
    const org = uniqueOrg("race");
    const token = await makeToken({ org, role: "service", sub: "svc" });
    const results = await Promise.all(Array.from({ length: 6 }, () => call("POST", "/api/v1/alerts", { token, body: alertBody() })));
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(201));
    const rows = await env.DB.prepare("SELECT shard FROM org_shards WHERE org_id = ?").bind(org).all();
    expect(rows.results).toHaveLength(1);
    const home = allShards()[await orgShard(org)]!;
    expect((await home.prepare("SELECT COUNT(*) AS n FROM alerts WHERE org_id = ?").bind(org).first<{ n: number }>())!.n).toBe(6);
  });
});

describe("shards: an org's data stays on its shard", () => {
  it("alerts, notifications, events and users of two orgs on two shards never cross", async () => {
    const orgs = [uniqueOrg("iso0"), uniqueOrg("iso1")] as const;
    await placeOrg(orgs[0], 0);
    await placeOrg(orgs[1], 1);
    for (const org of orgs) {
      const admin = await makeToken({ org, sub: "boss", role: "admin" });
      expect((await call("PUT", "/api/v1/users/agent7", { token: admin, body: { role: "agent" } })).status).toBeLessThan(300);
      const service = await makeToken({ org, sub: "svc", role: "service" });
      const alert = await createAlert(service, { assigneeId: "agent7", title: `alert of ${org}` });
      const agent = await makeToken({ org, sub: "agent7", role: "agent" });
      expect((await call("PATCH", `/api/v1/alerts/${alert.id}/status`, { token: agent, body: { status: "ACKNOWLEDGED" } })).status).toBe(200);
      // Each org sees exactly its own alert through the API.
      const list = await call("GET", "/api/v1/alerts", { token: admin });
      expect(list.json.items.map((a: { title: string }) => a.title)).toEqual([`alert of ${org}`]);
      const inbox = await call("GET", "/api/v1/notifications", { token: agent });
      expect(inbox.json.items).toHaveLength(1);
      const polled = await call("GET", "/api/v1/events", { token: agent });
      expect(polled.status).toBe(200);
      expect(polled.json.items.length).toBeGreaterThan(0);
    }
    const [d0, d1] = allShards() as [D1Database, D1Database];
    for (const t of ["alerts", "alert_history", "notifications", "users", "realtime_events", "realtime_event_targets"]) {
      expect(await orgsIn(d0, t), `${t} on shard 0`).toContain(orgs[0]);
      expect(await orgsIn(d0, t), `${t} on shard 0`).not.toContain(orgs[1]);
      expect(await orgsIn(d1, t), `${t} on shard 1`).toContain(orgs[1]);
      expect(await orgsIn(d1, t), `${t} on shard 1`).not.toContain(orgs[0]);
    }
  });

  it("a WebSocket ticket of an org on the second shard opens the socket (the ticket names its org)", async () => {
    const org = uniqueOrg("tkt");
    await placeOrg(org, 1);
    const token = await makeToken({ org, sub: "u1", role: "member" });
    const issued = await call("POST", "/api/v1/realtime/ticket", { token });
    expect(issued.status).toBe(201);
    expect(issued.json.ticket).toMatch(/^tkt_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    const socket = await connect("/api/v1/ws", { query: { ticket: issued.json.ticket } });
    socket.close();
    const row = await allShards()[1]!.prepare("SELECT used_at FROM ws_tickets WHERE org_id = ?").bind(org).first<{ used_at: number | null }>();
    expect(row?.used_at).not.toBeNull();
    // Spent: a second use is refused like any unknown ticket (close 4401, as a browser sees it).
    const again = await refusedUpgrade("/api/v1/ws", { query: { ticket: issued.json.ticket } });
    expect([again.code, again.reason.code]).toEqual([4401, "TICKET_INVALID"]);
    // Tickets of the old form, or whose org part is not base64url, are TICKET_INVALID too, not a 500.
    for (const forged of [`tkt_${"a".repeat(43)}`, `tkt_!!!!.${"a".repeat(43)}`, `tkt_${btoa("nobody")}.${"a".repeat(43)}`]) {
      const refusal = await refusedUpgrade("/api/v1/ws", { query: { ticket: forged } });
      expect([refusal.code, refusal.reason.code], forged).toEqual([4401, "TICKET_INVALID"]);
    }
    // …and an unauthenticated ticket never places an org.
    expect(await env.DB.prepare("SELECT 1 FROM org_shards WHERE org_id = 'nobody'").first()).toBeNull();
  });
});

describe("shards: the fence", () => {
  it("a fenced org's writes are 503 ORG_MOVING with Retry-After; reads still work; other orgs on the shard are unaffected", async () => {
    const org = uniqueOrg("fence");
    const other = uniqueOrg("fence-other");
    await placeOrg(org, 1);
    await placeOrg(other, 1);
    const service = await makeToken({ org, role: "service", sub: "svc" });
    const admin = await makeToken({ org, role: "admin", sub: "boss" });
    await createAlert(service);
    const shard1 = allShards()[1]!;
    const ticket = (await call("POST", "/api/v1/realtime/ticket", { token: admin })).json.ticket as string;
    await shard1.prepare("INSERT INTO org_fence (org_id, mode, created_at) VALUES (?, 'fenced', ?)").bind(org, Date.now()).run();
    try {
      // A socket upgrade that must redeem its ticket is refused as a browser sees it: close 4503, retried by clients.
      const upgrade = await refusedUpgrade("/api/v1/ws", { query: { ticket } });
      expect([upgrade.code, upgrade.reason.code]).toEqual([4503, "ORG_MOVING"]);
      const refused = await call("POST", "/api/v1/alerts", { token: service, body: alertBody() });
      expect(refused.status).toBe(503);
      expect(refused.json.error.code).toBe("ORG_MOVING");
      expect(refused.headers.get("Retry-After")).toBe("2");
      const list = await call("GET", "/api/v1/alerts", { token: admin });
      expect(list.status).toBe(200);
      expect(list.json.items).toHaveLength(1);
      expect((await call("POST", "/api/v1/alerts", { token: await makeToken({ org: other, role: "service", sub: "svc" }), body: alertBody() })).status).toBe(201);
    } finally {
      await shard1.prepare("DELETE FROM org_fence WHERE org_id = ?").bind(org).run();
    }
    expect((await call("POST", "/api/v1/alerts", { token: service, body: alertBody() })).status).toBe(201);
    // The refused upgrade did not spend the ticket.
    (await connect("/api/v1/ws", { query: { ticket } })).close();
  });
});

describe("shards: a socket frame during a move", () => {
  it("mark:read while the org is fenced gets an UNAVAILABLE error with its ref, changes nothing, and works when sent again after", async () => {
    const org = uniqueOrg("frame");
    await placeOrg(org, 1);
    const service = await makeToken({ org, role: "service", sub: "svc" });
    const agent = await makeToken({ org, role: "agent", sub: "agent1" });
    // The agent is in the directory (first request), then gets an alert: one unread notification.
    expect((await call("GET", "/api/v1/notifications", { token: agent })).status).toBe(200);
    expect((await call("POST", "/api/v1/alerts", { token: service, body: alertBody({ assigneeId: "agent1" }) })).status).toBe(201);
    const [notification] = (await call("GET", "/api/v1/notifications", { token: agent })).json.items as { id: string }[];
    const socket = await connect("/api/v1/ws", { token: agent });
    const shard1 = allShards()[1]!;
    await shard1.prepare("INSERT INTO org_fence (org_id, mode, created_at) VALUES (?, 'fenced', ?)").bind(org, Date.now()).run();
    try {
      socket.send({ type: "mark:read", ref: "m1", notificationId: notification!.id });
      const refused = await socket.waitFor((f) => (f.type === "error" || f.type === "ack") && (f as { ref?: string }).ref === "m1");
      expect(refused).toMatchObject({ type: "error", ref: "m1", code: "UNAVAILABLE" });
      expect(await shard1.prepare("SELECT read_at FROM notifications WHERE id = ?").bind(notification!.id).first("read_at")).toBeNull();
    } finally {
      await shard1.prepare("DELETE FROM org_fence WHERE org_id = ?").bind(org).run();
    }
    socket.send({ type: "mark:read", ref: "m2", notificationId: notification!.id });
    const ack = await socket.waitFor((f) => (f.type === "error" || f.type === "ack") && (f as { ref?: string }).ref === "m2");
    expect(ack).toMatchObject({ type: "ack", ref: "m2", notificationId: notification!.id });
    socket.close();
  });
});

describe("shards: the cron walks every shard", () => {
  it("expired events are purged and sizes recorded on both shards; a fenced org's rows are left alone", async () => {
    const orgs = [uniqueOrg("cron0"), uniqueOrg("cron1"), uniqueOrg("cron-fenced")] as const;
    await placeOrg(orgs[0], 0);
    await placeOrg(orgs[1], 1);
    await placeOrg(orgs[2], 1);
    // Created a TTL and 10 s ago: expired, like every event the cron deletes.
    const created = Date.now() - Number(env.EVENT_TTL_SECONDS) * 1000 - 10_000;
    const past = created + Number(env.EVENT_TTL_SECONDS) * 1000;
    for (const [org, shard] of [[orgs[0], 0], [orgs[1], 1], [orgs[2], 1]] as const) {
      const d1 = allShards()[shard]!;
      await d1
        .prepare(
          "INSERT INTO realtime_events (id, org_id, type, data, created_at, expires_at, attempts, published_at) VALUES (?, ?, 'custom:x', '{}', ?, ?, 0, ?)",
        )
        .bind(newId("evt", created), org, created, past, past)
        .run();
    }
    await allShards()[1]!.prepare("INSERT INTO org_fence (org_id, mode, created_at) VALUES (?, 'fenced', ?)").bind(orgs[2], Date.now()).run();
    const ctx = createExecutionContext();
    await worker.scheduled!(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    const left = async (shard: number, org: string) =>
      (await allShards()[shard]!.prepare("SELECT COUNT(*) AS n FROM realtime_events WHERE org_id = ?").bind(org).first<{ n: number }>())!.n;
    expect(await left(0, orgs[0])).toBe(0);
    expect(await left(1, orgs[1])).toBe(0);
    expect(await left(1, orgs[2])).toBe(1);
    const sizes = await env.DB.prepare("SELECT shard, bytes FROM shard_sizes ORDER BY shard").all<{ shard: number; bytes: number }>();
    expect(sizes.results.map((r) => r.shard)).toEqual([0, 1]);
    for (const r of sizes.results) expect(r.bytes).toBeGreaterThan(0);
    await allShards()[1]!.prepare("DELETE FROM org_fence WHERE org_id = ?").bind(orgs[2]).run();
    await env.DB.prepare("DELETE FROM shard_sizes").run();
  });
});
