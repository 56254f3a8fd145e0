import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { alertBody, call, makeToken, setupOrg } from "./helpers";
import { newId } from "../src/lib/ids";
import { orgBeside, orgD1 } from "./shard-helpers";
import { connect, eventually } from "./ws-helpers";

const EVENTS = "/api/v1/events";
const ACK = "/api/v1/events/ack";
const BROADCAST = "/api/v1/realtime/broadcast";

interface Polled {
  id: string;
  type: string;
  stream: "user" | "org";
  channel?: string;
  scope?: { dept?: string; queue?: string };
  ts: string;
  data: unknown;
}

interface Page {
  items: Polled[];
  nextCursor: string;
  hasMore: boolean;
}

type Target = { userIds?: string[]; channel?: string; scope?: { dept?: string; queue?: string } };

async function publish(token: string, event: string, target: Target, data?: unknown): Promise<string> {
  const res = await call("POST", BROADCAST, { token, body: { event, target, ...(data !== undefined && { data }) } });
  expect(res.status, res.text).toBe(201);
  return res.json.id as string;
}

async function poll(token: string, query: Record<string, string | number> = {}): Promise<Page> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
  const res = await call("GET", `${EVENTS}${qs ? `?${qs}` : ""}`, { token });
  expect(res.status, res.text).toBe(200);
  expect(Object.keys(res.json).sort()).toEqual(["hasMore", "items", "nextCursor"]);
  // Alerts also notify people (notification:* on their user stream); that is test/notifications.test.ts's subject.
  const page = res.json as Page;
  return { ...page, items: page.items.filter((i) => !i.type.startsWith("notification:")) };
}

/** Follows nextCursor until hasMore is false; returns every page. */
async function pollAll(token: string, query: Record<string, string | number> = {}): Promise<Page[]> {
  const pages: Page[] = [];
  let since: string | undefined;
  for (let i = 0; i < 50; i++) {
    const page = await poll(token, { ...query, ...(since !== undefined && { since }) });
    pages.push(page);
    if (!page.hasMore) return pages;
    since = page.nextCursor;
  }
  throw new Error("pagination did not end");
}

const ids = (items: Polled[]) => items.map((i) => i.id);

async function runCron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

async function count(org: string, sql: string, ...binds: unknown[]): Promise<number> {
  return (await (await orgD1(org)).prepare(sql).bind(...binds).first<{ n: number }>())!.n;
}

// ───────────────────────────── the user stream ─────────────────────────────

describe("GET /api/v1/events: the caller's user stream", () => {
  it("returns the caller's broadcasts and alert events in order, and nothing addressed to others", async () => {
    const { tokens } = await setupOrg();
    const e1 = await publish(tokens.admin, "deal:won", { userIds: ["member1"] }, { n: 1 });
    await publish(tokens.admin, "deal:won", { userIds: ["agent1"] }, { n: "not yours" });
    const alert = await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ recipients: ["member1"] }) });
    expect(alert.status, alert.text).toBe(201);
    await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ assigneeId: "agent1" }) });
    const e3 = await publish(tokens.service, "deal:lost", { userIds: ["agent2", "member1"] }, { n: 3 });

    const page = await poll(tokens.member);
    expect(page.hasMore).toBe(false);
    expect(page.items.map((i) => i.type)).toEqual(["deal:won", "alert:new", "deal:lost"]);
    const [first, second, third] = page.items;
    expect(first).toEqual({ id: e1, type: "deal:won", stream: "user", ts: expect.any(String), data: { n: 1 } });
    expect(new Date(first!.ts).toISOString()).toBe(first!.ts);
    expect(second).toMatchObject({ type: "alert:new", stream: "user", data: { alert: { id: alert.json.id, recipients: ["member1"] } } });
    expect(second!.channel).toBeUndefined();
    expect(third).toMatchObject({ id: e3, type: "deal:lost", stream: "user", data: { n: 3 } });
    expect(Date.parse(first!.ts)).toBeLessThanOrEqual(Date.parse(third!.ts));

    // agent1 sees its own ones only.
    const agent = await poll(tokens.agent);
    expect(agent.items.map((i) => i.type)).toEqual(["deal:won", "alert:new"]);
    expect(agent.items[0]!.data).toEqual({ n: "not yours" });
  });

  it("paginates with limit and nextCursor (5 events, limit 2 → 2, 2, 1), then waits for new events", async () => {
    const { tokens } = await setupOrg();
    const published: string[] = [];
    for (let i = 0; i < 5; i++) published.push(await publish(tokens.admin, "tick:n", { userIds: ["member1"] }, { i }));

    const pages = await pollAll(tokens.member, { limit: 2 });
    expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1]);
    expect(pages.map((p) => p.hasMore)).toEqual([true, true, false]);
    const seen = pages.flatMap((p) => p.items);
    expect(ids(seen)).toEqual(published);
    expect(seen.map((i) => i.data)).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
    expect(new Set(pages.map((p) => p.nextCursor)).size).toBe(3);

    const cursor = pages.at(-1)!.nextCursor;
    const idle = await poll(tokens.member, { since: cursor });
    expect(idle).toEqual({ items: [], nextCursor: cursor, hasMore: false });
    const idleAgain = await poll(tokens.member, { since: idle.nextCursor, limit: 2 });
    expect(idleAgain.items).toEqual([]);

    const e6 = await publish(tokens.admin, "tick:n", { userIds: ["member1"] }, { i: 5 });
    const next = await poll(tokens.member, { since: idleAgain.nextCursor });
    expect(ids(next.items)).toEqual([e6]);
    expect(next.hasMore).toBe(false);
    const after = await poll(tokens.member, { since: next.nextCursor });
    expect(after.items).toEqual([]);
  });

  it("starts from the beginning without since and returns an empty page in a fresh org", async () => {
    const { tokens } = await setupOrg();
    const page = await poll(tokens.member);
    expect(page.items).toEqual([]);
    expect(page.hasMore).toBe(false);
    expect(typeof page.nextCursor).toBe("string");
    // The cursor of an empty page is a valid since.
    expect((await poll(tokens.member, { since: page.nextCursor })).items).toEqual([]);
  });
});

// ───────────────────────────── channels ─────────────────────────────

describe("GET /api/v1/events: channels and scopes", () => {
  async function kpiFixture() {
    const org = await setupOrg();
    const t = org.tokens.admin;
    const ev = {
      org: await publish(t, "kpi:org", { channel: "kpi" }, { s: "org" }),
      sales: await publish(t, "kpi:sales", { channel: "kpi", scope: { dept: "sales" } }),
      salesIn: await publish(t, "kpi:sales-in", { channel: "kpi", scope: { dept: "sales", queue: "inbound" } }),
      salesOut: await publish(t, "kpi:sales-out", { channel: "kpi", scope: { dept: "sales", queue: "outbound" } }),
      ops: await publish(t, "kpi:ops", { channel: "kpi", scope: { dept: "ops" } }),
      opsIn: await publish(t, "kpi:ops-in", { channel: "kpi", scope: { dept: "ops", queue: "inbound" } }),
      backlog: await publish(t, "backlog:org", { channel: "backlog" }),
    };
    return { ...org, ev };
  }

  it("channels=kpi returns every kpi event as org-stream events with channel and scope", async () => {
    const { tokens, ev } = await kpiFixture();
    const page = await poll(tokens.member, { channels: "kpi" });
    expect(ids(page.items)).toEqual([ev.org, ev.sales, ev.salesIn, ev.salesOut, ev.ops, ev.opsIn]);
    expect(page.items[0]).toEqual({ id: ev.org, type: "kpi:org", stream: "org", channel: "kpi", scope: {}, ts: expect.any(String), data: { s: "org" } });
    expect(page.items[2]).toMatchObject({ stream: "org", channel: "kpi", scope: { dept: "sales", queue: "inbound" }, data: null });
    for (const i of page.items) expect(i).toMatchObject({ stream: "org", channel: "kpi" });
    // Several channels at once, in commit order.
    const both = await poll(tokens.member, { channels: "backlog,kpi" });
    expect(ids(both.items)).toEqual([ev.org, ev.sales, ev.salesIn, ev.salesOut, ev.ops, ev.opsIn, ev.backlog]);
    // Without channels: user stream only.
    expect((await poll(tokens.member)).items).toEqual([]);
  });

  it("dept=sales gets org-level and sales events (with sales queues) but not ops", async () => {
    const { tokens, ev } = await kpiFixture();
    const page = await poll(tokens.agent, { channels: "kpi", dept: "sales" });
    expect(ids(page.items)).toEqual([ev.org, ev.sales, ev.salesIn, ev.salesOut]);
  });

  it("dept=sales&queue=inbound gets org-level, sales dept-level and sales/inbound only", async () => {
    const { tokens, ev } = await kpiFixture();
    const page = await poll(tokens.agent, { channels: "kpi", dept: "sales", queue: "inbound" });
    expect(ids(page.items)).toEqual([ev.org, ev.sales, ev.salesIn]);
    const ops = await poll(tokens.agent, { channels: "kpi", dept: "ops", queue: "inbound" });
    expect(ids(ops.items)).toEqual([ev.org, ev.ops, ev.opsIn]);
  });

  it("refuses alerts and presence to agents and members (403 FORBIDDEN); admins may read them", async () => {
    const { tokens } = await setupOrg();
    const created = await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody() });
    expect(created.status).toBe(201);
    for (const token of [tokens.agent, tokens.member]) {
      for (const channels of ["alerts", "presence", "kpi,alerts"]) {
        const res = await call("GET", `${EVENTS}?channels=${channels}`, { token });
        expect(res.status, `${channels}: ${res.text}`).toBe(403);
        expect(res.json.error.code).toBe("FORBIDDEN");
      }
    }
    const admin = await poll(tokens.admin, { channels: "alerts" });
    expect(admin.items).toHaveLength(1);
    expect(admin.items[0]).toMatchObject({ type: "alert:new", stream: "org", channel: "alerts", scope: {}, data: { alert: { id: created.json.id } } });
    const presence = await poll(tokens.admin, { channels: "presence" });
    expect(presence.items).toEqual([]);
    const svc = await poll(tokens.service, { channels: "alerts,presence" });
    expect(svc.items).toHaveLength(1);
  });

  it("records presence changes born in the org hub for polling admins, in order, once each (coalesced writes)", async () => {
    const { tokens } = await setupOrg();
    // Three users come online within one flush window, then one goes offline.
    const sockets = await Promise.all([tokens.agent, tokens.agent2, tokens.member].map((token) => connect("/api/v1/ws/org", { token })));
    sockets[0]!.close();
    const expected = ["presence:online", "presence:online", "presence:online", "presence:offline"];
    let items: Polled[] = [];
    await eventually(async () => {
      items = (await poll(tokens.admin, { channels: "presence" })).items;
      return items.length >= expected.length;
    }, "presence events to be recorded for polling");
    expect(items.map((i) => i.type)).toEqual(expected);
    expect(new Set(items.map((i) => i.id)).size).toBe(4);
    expect(items.slice(0, 3).map((i) => (i.data as { userId: string }).userId).sort()).toEqual(["agent1", "agent2", "member1"]);
    expect(items[3]).toMatchObject({ stream: "org", channel: "presence", scope: {}, data: { userId: "agent1", online: false, connections: 0 } });
    for (const s of sockets.slice(1)) s.close();
  });

  it("returns an event sent both to the caller's user stream and to a requested channel once", async () => {
    const { tokens } = await setupOrg();
    const before = await publish(tokens.admin, "kpi:before", { channel: "kpi" });
    const both = await publish(tokens.admin, "deal:won", { userIds: ["member1"], channel: "kpi" });
    const after = await publish(tokens.admin, "kpi:after", { channel: "kpi" });

    const page = await poll(tokens.member, { channels: "kpi" });
    expect(ids(page.items)).toEqual([before, both, after]);

    // Also across pages, whatever the page size.
    for (const limit of [1, 2]) {
      const pages = await pollAll(tokens.member, { channels: "kpi", limit });
      const seen = ids(pages.flatMap((p) => p.items));
      expect(seen, `limit=${limit}`).toEqual([before, both, after]);
    }
  });
});

// ───────────────────────────── ack ─────────────────────────────

describe("POST /api/v1/events/ack", () => {
  it("hides acknowledged events from the caller only", async () => {
    const { tokens } = await setupOrg();
    const a = await publish(tokens.admin, "deal:won", { userIds: ["member1", "agent1"] }, { n: 1 });
    const b = await publish(tokens.admin, "deal:won", { userIds: ["member1", "agent1"] }, { n: 2 });
    const c = await publish(tokens.admin, "deal:won", { userIds: ["member1", "agent1"] }, { n: 3 });

    const res = await call("POST", ACK, { token: tokens.member, body: { ids: [a, c] } });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ acknowledged: 2 });

    expect(ids((await poll(tokens.member)).items)).toEqual([b]);
    expect(ids((await poll(tokens.agent)).items)).toEqual([a, b, c]);

    const more = await call("POST", ACK, { token: tokens.member, body: { ids: [b] } });
    expect(more.json).toEqual({ acknowledged: 1 });
    expect((await poll(tokens.member)).items).toEqual([]);
  });

  it("ignores unknown ids and ids of another org", async () => {
    const { org, tokens } = await setupOrg();
    // On the same shard, so only the org check keeps them apart.
    const other = await setupOrg(await orgBeside(org));
    const foreign = await publish(other.tokens.admin, "deal:won", { userIds: ["member1"] });
    const mine = await publish(tokens.admin, "deal:won", { userIds: ["member1"] });

    const none = await call("POST", ACK, { token: tokens.member, body: { ids: ["evt_nope", foreign] } });
    expect(none.status, none.text).toBe(200);
    expect(none.json).toEqual({ acknowledged: 0 });
    expect(ids((await poll(other.tokens.member)).items)).toEqual([foreign]);

    const some = await call("POST", ACK, { token: tokens.member, body: { ids: ["evt_nope", mine] } });
    expect(some.json).toEqual({ acknowledged: 1 });
    expect((await poll(tokens.member)).items).toEqual([]);
  });

  it.each([
    ["ids empty", { ids: [] }],
    ["101 ids", { ids: Array.from({ length: 101 }, (_, i) => `evt_${i}`) }],
    ["ids not strings", { ids: [1, 2] }],
    ["ids not an array", { ids: "evt_1" }],
    ["no ids", {}],
    ["an unknown field", { ids: ["evt_1"], all: true }],
    ["an empty id", { ids: [""] }],
  ])("refuses %s with 400 VALIDATION_FAILED", async (_name, body) => {
    const { tokens } = await setupOrg();
    const res = await call("POST", ACK, { token: tokens.member, body });
    expect(res.status, res.text).toBe(400);
    expect(res.json.error.code).toBe("VALIDATION_FAILED");
  });

  it("accepts 100 ids (control)", async () => {
    const { tokens } = await setupOrg();
    const e = await publish(tokens.admin, "deal:won", { userIds: ["member1"] });
    const res = await call("POST", ACK, { token: tokens.member, body: { ids: [e, ...Array.from({ length: 99 }, (_, i) => `evt_${i}`)] } });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ acknowledged: 1 });
  });

  it("needs authentication: 401 AUTH_REQUIRED", async () => {
    const res = await call("POST", ACK, { body: { ids: ["evt_1"] } });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe("AUTH_REQUIRED");
    const get = await call("GET", EVENTS);
    expect(get.status).toBe(401);
    expect(get.json.error.code).toBe("AUTH_REQUIRED");
  });
});

// ───────────────────────────── bad queries ─────────────────────────────

describe("GET /api/v1/events: invalid queries", () => {
  it("refuses a since that is not a nextCursor with 400 INVALID_CURSOR", async () => {
    const { tokens } = await setupOrg();
    for (const since of ["garbage", "12", "cDotMQ", btoa("p:x"), "%%%"]) {
      const res = await call("GET", `${EVENTS}?since=${encodeURIComponent(since)}`, { token: tokens.member });
      expect(res.status, `${since}: ${res.text}`).toBe(400);
      expect(res.json.error.code, since).toBe("INVALID_CURSOR");
    }
  });

  it.each([
    ["limit=0", "limit=0"],
    ["limit=101", "limit=101"],
    ["limit=abc", "limit=abc"],
    ["limit=1.5", "limit=1.5"],
    ["queue without dept", "channels=kpi&queue=inbound"],
    ["an invalid channel name", "channels=KPI"],
    ["an invalid dept", "channels=kpi&dept=has%20space"],
  ])("refuses %s with 400 VALIDATION_FAILED", async (_name, qs) => {
    const { tokens } = await setupOrg();
    const res = await call("GET", `${EVENTS}?${qs}`, { token: tokens.member });
    expect(res.status, res.text).toBe(400);
    expect(res.json.error.code).toBe("VALIDATION_FAILED");
  });

  it("accepts limit=1 and limit=100 (control)", async () => {
    const { tokens } = await setupOrg();
    await publish(tokens.admin, "deal:won", { userIds: ["member1"] });
    expect((await poll(tokens.member, { limit: 1 })).items).toHaveLength(1);
    expect((await poll(tokens.member, { limit: 100 })).items).toHaveLength(1);
  });
});

// ───────────────────────────── expiry ─────────────────────────────

describe("event expiry", () => {
  it("keeps events EVENT_TTL_SECONDS (86400 by default)", async () => {
    const { org, tokens } = await setupOrg();
    const id = await publish(tokens.admin, "deal:won", { userIds: ["member1"] });
    const row = await (await orgD1(org)).prepare("SELECT created_at, expires_at FROM realtime_events WHERE id = ?").bind(id).first<{ created_at: number; expires_at: number }>();
    expect(row!.expires_at - row!.created_at).toBe(86_400_000);
  });

  it("stops returning expired events, and the cron deletes them with their targets and acknowledgements", async () => {
    const { org, tokens } = await setupOrg();
    let gone = await publish(tokens.admin, "deal:won", { userIds: ["member1", "agent1"], channel: "kpi" }, { n: 1 });
    const kept = await publish(tokens.admin, "deal:won", { userIds: ["member1", "agent1"], channel: "kpi" }, { n: 2 });
    // member1 acknowledges both; agent1 acknowledges nothing.
    const ack = await call("POST", ACK, { token: tokens.member, body: { ids: [gone, kept] } });
    expect(ack.json).toEqual({ acknowledged: 2 });

    // Age `gone` as if published a TTL and a second ago: its id sorts by creation time too (the cron relies on it).
    const created = Date.now() - Number(env.EVENT_TTL_SECONDS) * 1000 - 1_000;
    const old = newId("evt", created);
    const d1 = await orgD1(org);
    await d1.batch([
      d1.prepare("UPDATE realtime_events SET id = ?, created_at = ?, expires_at = ? WHERE id = ?").bind(old, created, created + Number(env.EVENT_TTL_SECONDS) * 1000, gone),
      d1.prepare("UPDATE realtime_event_targets SET event_id = ? WHERE event_id = ?").bind(old, gone),
      d1.prepare("UPDATE realtime_event_acks SET event_id = ? WHERE event_id = ?").bind(old, gone),
    ]);
    gone = old;

    expect(ids((await poll(tokens.agent)).items)).toEqual([kept]);
    expect(ids((await poll(tokens.agent2, { channels: "kpi" })).items)).toEqual([kept]);

    expect(await count(org, "SELECT count(*) AS n FROM realtime_event_targets WHERE event_id = ?", gone), "realtime_event_targets of gone").toBe(3);
    expect(await count(org, "SELECT count(*) AS n FROM realtime_event_acks WHERE event_id = ?", gone), "realtime_event_acks of gone").toBe(1);

    await runCron();

    expect(await count(org, "SELECT count(*) AS n FROM realtime_events WHERE id = ?", gone), "realtime_events of gone").toBe(0);
    expect(await count(org, "SELECT count(*) AS n FROM realtime_event_targets WHERE event_id = ?", gone), "realtime_event_targets of gone").toBe(0);
    expect(await count(org, "SELECT count(*) AS n FROM realtime_event_acks WHERE event_id = ?", gone), "realtime_event_acks of gone").toBe(0);
    // The live event is untouched.
    expect(await count(org, "SELECT count(*) AS n FROM realtime_events WHERE id = ?", kept), "realtime_events of kept").toBe(1);
    expect(await count(org, "SELECT count(*) AS n FROM realtime_event_targets WHERE event_id = ?", kept), "realtime_event_targets of kept").toBe(3);
    expect(await count(org, "SELECT count(*) AS n FROM realtime_event_acks WHERE event_id = ?", kept), "realtime_event_acks of kept").toBe(1);
    expect(ids((await poll(tokens.agent)).items)).toEqual([kept]);
    expect((await poll(tokens.member)).items).toEqual([]);
  });
});

// ───────────────────────────── isolation ─────────────────────────────

describe("org isolation", () => {
  it("never returns another org's events, even for the same user id and channel", async () => {
    const a = await setupOrg();
    // On the same shard, so only the org check keeps them apart.
    const b = await setupOrg(await orgBeside(a.org));
    const mine = await publish(a.tokens.admin, "deal:won", { userIds: ["member1"] });
    const mineKpi = await publish(a.tokens.admin, "kpi:tick", { channel: "kpi" });
    await publish(b.tokens.admin, "deal:won", { userIds: ["member1"] });
    await publish(b.tokens.admin, "kpi:tick", { channel: "kpi" });
    await call("POST", "/api/v1/alerts", { token: b.tokens.service, body: alertBody({ recipients: ["member1"] }) });

    expect(ids((await poll(a.tokens.member, { channels: "kpi" })).items)).toEqual([mine, mineKpi]);
    // An admin of org A reading every channel it may.
    expect(ids((await poll(a.tokens.admin, { channels: "kpi,alerts,presence" })).items)).toEqual([mineKpi]);
    // A cursor from org B's poll does not leak org B's events into org A either.
    const bPage = await poll(b.tokens.member, { channels: "kpi" });
    expect(bPage.items).toHaveLength(3);
    expect(ids((await poll(a.tokens.member, { channels: "kpi" })).items)).not.toContain(bPage.items[0]!.id);
    // A token of another org for the same user id sees only its own org.
    const intruder = await makeToken({ org: b.org, sub: "member1", role: "member" });
    const seen = ids((await poll(intruder, { channels: "kpi" })).items);
    expect(seen).not.toContain(mine);
    expect(seen).not.toContain(mineKpi);
  });
});
