import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { AckFrame, ConnectedFrame, ErrorFrame, EventFrame, ResyncRequiredFrame, ServerFrame, UnreadCountData } from "../src/protocol";
import { alertBody, call, makeToken, setupOrg } from "./helpers";
import { orgBeside, orgD1 } from "./shard-helpers";
import { broadcast, closedWithin, connect, eventually, isType, refusedUpgrade, type TestSocket } from "./ws-helpers";

// The delivery guarantees of the user stream (/api/v1/ws) and the org stream
// (/api/v1/ws/org), end to end through the Worker: order and exactly-once per
// stream, exact resume, resync instead of silent gaps, hibernation, expiry,
// isolation, the alert events, scopes, presence, stats coalescing, and
// durability before visibility. Every test uses its own org (storage is shared
// by the tests of this file).

const CONTROL = new Set(["connected", "ack", "error", "pong", "resync-required"]);

/** Event frames (not control frames) a socket received so far, optionally of one type. */
/** Event frames, without the inbox's notification:* events (test/notifications.test.ts covers those). */
function eventsOf(s: TestSocket, type?: string): EventFrame[] {
  return s.frames.filter(
    (f): f is EventFrame =>
      !CONTROL.has(f.type) && "id" in f && "stream" in f && !f.type.startsWith("notification:") && (type === undefined || f.type === type),
  );
}

const isEvent = (id: string) => (f: ServerFrame) => !CONTROL.has(f.type) && (f as EventFrame).id === id;
const isAck = (ref: string) => (f: ServerFrame) => f.type === "ack" && (f as AckFrame).ref === ref;
const isErrorRef = (ref: string) => (f: ServerFrame) => f.type === "error" && (f as ErrorFrame).ref === ref;




const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function subscribe(s: TestSocket, ref: string, channels: string[], scope?: Record<string, string>) {
  s.send({ type: "subscribe", ref, channels, ...(scope && { scope }) });
  const reply = await s.waitFor((f) => (f.type === "ack" || f.type === "error") && (f as AckFrame).ref === ref);
  expect(reply.type, JSON.stringify(reply)).toBe("ack");
  return reply as AckFrame;
}

/** The `exp` of a token, in ms. */
const decodeExp = (token: string) => (JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as { exp: number }).exp * 1000;

/** Waits until the clock is past `ms`. */
async function untilPast(ms: number): Promise<void> {
  while (Date.now() <= ms) await sleep(Math.min(100, ms - Date.now() + 1));
}

const userHubOf = (org: string, userId: string) => env.USER_HUB.getByName(`${org}/${userId}`);
const orgHubOf = (org: string) => env.ORG_HUB.getByName(org);

describe("ordering and exactly-once under concurrent publishers", () => {
  it("every device of a user gets seq 1..30 once each, in the same order", async () => {
    const { org, tokens } = await setupOrg();
    const devices: TestSocket[] = [];
    for (let i = 0; i < 3; i++) devices.push(await connect("/api/v1/ws", { token: tokens.agent }));

    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => broadcast(tokens.admin, { event: "deal:won", data: { i }, target: { userIds: ["agent1"] } })),
    );
    // The seqs the hub assigned: a permutation of 1..30.
    expect(results.map((r) => r.userSeqs.agent1).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));

    const reference: string[] = [];
    for (const [d, device] of devices.entries()) {
      await device.waitForCount(isType("deal:won"), 30);
      const got = eventsOf(device);
      expect(got.map((f) => f.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(new Set(got.map((f) => f.id)).size).toBe(30);
      expect(got.every((f) => f.stream === "user")).toBe(true);
      // Each event's seq is the one the publish reported for it.
      const seqOf = new Map(results.map((r) => [r.id, r.userSeqs.agent1]));
      for (const f of got) expect(seqOf.get(f.id)).toBe(f.seq);
      if (d === 0) reference.push(...got.map((f) => f.id));
      else expect(got.map((f) => f.id)).toEqual(reference);
    }

    // A retried publish (same Idempotency-Key) is not delivered again.
    const headers = { "Idempotency-Key": "retry-1" };
    const body = { event: "deal:won", data: { i: "retried" }, target: { userIds: ["agent1"] } };
    const once = await call("POST", "/api/v1/realtime/broadcast", { token: tokens.admin, body, headers });
    const twice = await call("POST", "/api/v1/realtime/broadcast", { token: tokens.admin, body, headers });
    expect(once.status, once.text).toBe(201);
    expect(twice.status, twice.text).toBe(201);
    expect(twice.json.id).toBe(once.json.id);
    // A re-delivery of an event the hub already has (outbox retry, cron sweep) is not sent again.
    const hub = userHubOf(org, "agent1");
    const again = await hub.publish({ id: once.json.id, type: "deal:won", ts: Date.now(), data: { i: "retried" } });
    expect(again).toMatchObject({ duplicate: true, delivered: 0, seq: once.json.userSeqs.agent1 });
    const marker = await broadcast(tokens.admin, { event: "marker:end", target: { userIds: ["agent1"] } });
    for (const device of devices) {
      await device.waitFor(isEvent(marker.id));
      expect(eventsOf(device).filter((f) => f.id === once.json.id)).toHaveLength(1);
      expect(eventsOf(device).map((f) => f.seq)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    }
    for (const device of devices) device.close();
  });

  it("every org socket on a channel gets the channel's events once each, in one order", async () => {
    const { tokens } = await setupOrg();
    const sockets: TestSocket[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await connect("/api/v1/ws/org", { token: tokens.admin });
      await subscribe(s, "s1", ["kpi"]);
      sockets.push(s);
    }
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => broadcast(tokens.admin, { event: "kpi:tick", data: { i }, target: { channel: "kpi" } })),
    );
    const orgSeqs = results.map((r) => r.orgSeq!).sort((a, b) => a - b);
    // Nothing else was published on the org stream meanwhile: 30 consecutive seqs.
    for (let i = 1; i < orgSeqs.length; i++) expect(orgSeqs[i]).toBe(orgSeqs[i - 1]! + 1);

    let reference: string[] | undefined;
    for (const s of sockets) {
      await s.waitForCount(isType("kpi:tick"), 30);
      const got = eventsOf(s, "kpi:tick");
      expect(got).toHaveLength(30);
      expect(got.map((f) => f.seq)).toEqual(orgSeqs);
      expect(new Set(got.map((f) => f.id)).size).toBe(30);
      expect(got.every((f) => f.stream === "org" && f.channel === "kpi")).toBe(true);
      reference ??= got.map((f) => f.id);
      expect(got.map((f) => f.id)).toEqual(reference);
    }
    for (const s of sockets) s.close();
  });
});

describe("exact resume", () => {
  it("reconnecting with ?since replays exactly the missed events before `connected`, then goes live", async () => {
    const { org, tokens } = await setupOrg();
    const first = await connect("/api/v1/ws", { token: tokens.agent });
    for (let i = 1; i <= 3; i++) await broadcast(tokens.admin, { event: "note:added", data: { i }, target: { userIds: ["agent1"] } });
    await first.waitForCount(isType("note:added"), 3);
    const lastSeen = Math.max(...eventsOf(first).map((f) => f.seq));
    expect(lastSeen).toBe(3);
    first.close();
    await first.closed;

    const missed: string[] = [];
    for (let i = 4; i <= 7; i++) missed.push((await broadcast(tokens.admin, { event: "note:added", data: { i }, target: { userIds: ["agent1"] } })).id);
    const head = await userHubOf(org, "agent1").headSeq();
    expect(head).toBe(7);

    const again = await connect("/api/v1/ws", { token: tokens.agent, query: { since: String(lastSeen) } });
    const connectedAt = again.frames.findIndex(isType("connected"));
    const before = again.frames.slice(0, connectedAt);
    expect(before.map((f) => f.type)).toEqual(["note:added", "note:added", "note:added", "note:added"]);
    expect(before.map((f) => (f as EventFrame).id)).toEqual(missed);
    expect(before.map((f) => (f as EventFrame).seq)).toEqual([4, 5, 6, 7]);
    const connected = again.frames[connectedAt] as ConnectedFrame;
    expect(connected).toMatchObject({ resumed: true, replayed: 4, seq: 7, stream: "user", userId: "agent1" });

    const live = await broadcast(tokens.admin, { event: "note:added", data: { i: 8 }, target: { userIds: ["agent1"] } });
    const f = await again.waitFor<EventFrame>(isEvent(live.id));
    expect(f.seq).toBe(8);
    expect(eventsOf(again).map((e) => e.seq)).toEqual([4, 5, 6, 7, 8]);
    again.close();
  });

  it("a `resume` frame on an open socket replays after `since` and acks with its ref", async () => {
    const { tokens } = await setupOrg();
    const s = await connect("/api/v1/ws", { token: tokens.agent });
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push((await broadcast(tokens.admin, { event: "note:added", target: { userIds: ["agent1"] } })).id);
    await s.waitForCount(isType("note:added"), 5);
    const seen = s.frames.length;

    s.send({ type: "resume", ref: "r", since: 2 });
    const ack = await s.waitFor<AckFrame>(isAck("r"));
    expect(ack).toMatchObject({ resumed: true, replayed: 3, seq: 5 });
    const after = s.frames.slice(seen);
    const ackAt = after.findIndex(isAck("r"));
    expect(after.slice(0, ackAt).map((f) => (f as EventFrame).seq)).toEqual([3, 4, 5]);
    expect(after.slice(0, ackAt).map((f) => (f as EventFrame).id)).toEqual(ids.slice(2));

    // Resuming at the head replays nothing and still acks.
    s.send({ type: "resume", ref: "r2", since: 5 });
    expect(await s.waitFor<AckFrame>(isAck("r2"))).toMatchObject({ resumed: true, replayed: 0, seq: 5 });
    s.close();
  });

  it("an org-stream resume with ?since&channels=kpi replays only the kpi events", async () => {
    const { org, tokens } = await setupOrg();
    const first = await connect("/api/v1/ws/org", { token: tokens.agent, query: { channels: "kpi" } });
    expect((first.frames.find(isType("connected")) as ConnectedFrame).subscriptions).toEqual([{ channel: "kpi", scope: {} }]);
    const k1 = await broadcast(tokens.admin, { event: "kpi:tick", target: { channel: "kpi" } });
    await first.waitFor(isEvent(k1.id));
    const lastSeen = k1.orgSeq!;
    first.close();
    await first.closed;
    // The close is processed (presence goes offline) before the head is read.
    await eventually(async () => (await call("GET", "/api/v1/realtime/presence/agent1", { token: tokens.admin })).json?.online === false, "agent1 is offline");

    const kpi: { id: string; orgSeq: number | null }[] = [];
    kpi.push(await broadcast(tokens.admin, { event: "kpi:tick", data: { n: 2 }, target: { channel: "kpi" } }));
    await broadcast(tokens.admin, { event: "backlog:grew", target: { channel: "backlog" } });
    kpi.push(await broadcast(tokens.admin, { event: "kpi:tick", data: { n: 3 }, target: { channel: "kpi", scope: { dept: "sales" } } }));
    await broadcast(tokens.admin, { event: "backlog:grew", target: { channel: "backlog" } });
    kpi.push(await broadcast(tokens.admin, { event: "kpi:tick", data: { n: 4 }, target: { channel: "kpi" } }));
    const head = await orgHubOf(org).headSeq();

    const again = await connect("/api/v1/ws/org", { token: tokens.agent, query: { channels: "kpi", since: String(lastSeen) } });
    const connectedAt = again.frames.findIndex(isType("connected"));
    const replayed = again.frames.slice(0, connectedAt) as EventFrame[];
    expect(replayed.map((f) => f.id)).toEqual(kpi.map((k) => k.id));
    expect(replayed.map((f) => f.seq)).toEqual(kpi.map((k) => k.orgSeq));
    expect(replayed.every((f) => f.channel === "kpi")).toBe(true);
    expect(again.frames[connectedAt]).toMatchObject({ resumed: true, replayed: 3, seq: head });

    const live = await broadcast(tokens.admin, { event: "kpi:tick", target: { channel: "kpi" } });
    expect((await again.waitFor<EventFrame>(isEvent(live.id))).seq).toBeGreaterThan(head);
    again.close();
  });
});

describe("resync instead of a silent gap", () => {
  it("`since` older than REPLAY_MAX_EVENTS events → resync-required expired, nothing replayed", async () => {
    const { tokens } = await setupOrg();
    for (let batch = 0; batch < 6; batch++) {
      await Promise.all(
        Array.from({ length: 10 }, () => broadcast(tokens.service, { event: "note:added", target: { userIds: ["agent1"] } })),
      );
    }
    // 60 events; the window keeps the last 50 (11..60).
    const s = await connect("/api/v1/ws", { token: tokens.agent, query: { since: "1" } });
    const connectedAt = s.frames.findIndex(isType("connected"));
    const before = s.frames.slice(0, connectedAt);
    expect(before).toHaveLength(1);
    expect(before[0]).toMatchObject({ type: "resync-required", reason: "expired", seq: 60, oldestSeq: 11 });
    expect(s.frames[connectedAt]).toMatchObject({ resumed: false, replayed: 0, seq: 60 });
    expect(eventsOf(s)).toHaveLength(0);

    // Within the window the resume is exact.
    s.send({ type: "resume", ref: "in", since: 10 });
    expect(await s.waitFor<AckFrame>(isAck("in"))).toMatchObject({ resumed: true, replayed: 50, seq: 60 });
    expect(eventsOf(s).map((f) => f.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 11));
    // One before the window is not.
    s.send({ type: "resume", ref: "out", since: 9 });
    expect(await s.waitFor<AckFrame>(isAck("out"))).toMatchObject({ resumed: false, replayed: 0 });
    const resyncs = s.frames.filter(isType("resync-required")) as ResyncRequiredFrame[];
    expect(resyncs.at(-1)).toMatchObject({ reason: "expired", seq: 60, oldestSeq: 11 });
    expect(eventsOf(s)).toHaveLength(50);
    s.close();
  });

  it("events older than REPLAY_RETENTION_SECONDS → resync-required expired", async () => {
    const { org, tokens } = await setupOrg();
    for (let i = 0; i < 3; i++) await broadcast(tokens.admin, { event: "note:added", target: { userIds: ["agent1"] } });
    const stub = userHubOf(org, "agent1");
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE log SET ts = ?", Date.now() - 2 * 86400 * 1000);
    });

    const s = await connect("/api/v1/ws", { token: tokens.agent, query: { since: "1" } });
    expect(s.frames[0]).toMatchObject({ type: "resync-required", reason: "expired", seq: 3 });
    expect(s.frames[1]).toMatchObject({ type: "connected", resumed: false, replayed: 0, seq: 3 });

    s.send({ type: "resume", ref: "r", since: 0 });
    expect(await s.waitFor<AckFrame>(isAck("r"))).toMatchObject({ resumed: false, replayed: 0, seq: 3 });
    expect(s.frames.filter(isType("resync-required"))).toHaveLength(2);
    expect(s.frames.filter(isType("resync-required"))[1]).toMatchObject({ reason: "expired", seq: 3 });
    expect(eventsOf(s)).toHaveLength(0);

    // At the head nothing is missing, so nothing needs the expired events.
    s.send({ type: "resume", ref: "h", since: 3 });
    expect(await s.waitFor<AckFrame>(isAck("h"))).toMatchObject({ resumed: true, replayed: 0, seq: 3 });
    s.close();
  });

  it("`since` beyond the head → resync-required ahead", async () => {
    const { org, tokens } = await setupOrg();
    for (let i = 0; i < 2; i++) await broadcast(tokens.admin, { event: "note:added", target: { userIds: ["agent1"] } });
    const s = await connect("/api/v1/ws", { token: tokens.agent, query: { since: "99" } });
    expect(s.frames[0]).toMatchObject({ type: "resync-required", reason: "ahead", seq: 2 });
    expect(s.frames[1]).toMatchObject({ type: "connected", resumed: false, replayed: 0, seq: 2 });

    s.send({ type: "resume", ref: "a", since: 3 });
    expect(await s.waitFor<AckFrame>(isAck("a"))).toMatchObject({ resumed: false, replayed: 0, seq: 2 });
    expect((s.frames.filter(isType("resync-required")) as ResyncRequiredFrame[])[1]).toMatchObject({ reason: "ahead", seq: 2 });

    // The org stream too.
    const head = await orgHubOf(org).headSeq();
    const o = await connect("/api/v1/ws/org", { token: tokens.admin, query: { since: String(head + 5) } });
    expect(o.frames[0]).toMatchObject({ type: "resync-required", reason: "ahead", seq: head });
    expect(o.frames[1]).toMatchObject({ type: "connected", resumed: false, replayed: 0 });
    s.close();
    o.close();
  });
});

describe("hibernation", () => {
  it("sockets, subscriptions and scopes survive an eviction of both hubs", async () => {
    const { org, tokens } = await setupOrg();
    const phone = await connect("/api/v1/ws", { token: tokens.agent });
    const laptop = await connect("/api/v1/ws", { token: tokens.agent });
    const sales = await connect("/api/v1/ws/org", { token: tokens.agent2 });
    await subscribe(sales, "s1", ["kpi"], { dept: "sales" });
    const admin = await connect("/api/v1/ws/org", { token: tokens.admin, query: { channels: "kpi" } });

    await evictDurableObject(userHubOf(org, "agent1"), { webSockets: "hibernate" });
    await evictDurableObject(orgHubOf(org), { webSockets: "hibernate" });

    const direct = await broadcast(tokens.admin, { event: "note:added", target: { userIds: ["agent1"] } });
    expect((await phone.waitFor<EventFrame>(isEvent(direct.id))).seq).toBe(1);
    expect((await laptop.waitFor<EventFrame>(isEvent(direct.id))).seq).toBe(1);

    const ops = await broadcast(tokens.admin, { event: "kpi:tick", data: { dept: "ops" }, target: { channel: "kpi", scope: { dept: "ops" } } });
    const forSales = await broadcast(tokens.admin, { event: "kpi:tick", data: { dept: "sales" }, target: { channel: "kpi", scope: { dept: "sales" } } });
    await sales.waitFor(isEvent(forSales.id));
    // In order on one socket: had the ops event been sent, it would have come first.
    expect(eventsOf(sales, "kpi:tick").map((f) => f.id)).toEqual([forSales.id]);
    await admin.waitFor(isEvent(ops.id));
    await admin.waitFor(isEvent(forSales.id));

    // An alert after the eviction reaches the admin on its initial `alerts` subscription.
    const alert = await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ assigneeId: "agent1" }) });
    expect(alert.status, alert.text).toBe(201);
    await admin.waitFor((f) => f.type === "alert:new" && (f as EventFrame<{ alert: { id: string } }>).data.alert.id === alert.json.id);
    await phone.waitFor(isType("alert:new"));

    const list = await call("GET", "/api/v1/realtime/connections", { token: tokens.admin });
    expect(list.status, list.text).toBe(200);
    const items = list.json.items as { connectionId: string; userId: string; stream: string; subscriptions: unknown[] }[];
    const ids = (s: TestSocket) => (s.frames.find(isType("connected")) as ConnectedFrame).connectionId;
    const byId = new Map(items.map((i) => [i.connectionId, i]));
    expect(byId.get(ids(phone))).toMatchObject({ userId: "agent1", stream: "user", subscriptions: [] });
    expect(byId.get(ids(laptop))).toMatchObject({ userId: "agent1", stream: "user", subscriptions: [] });
    expect(byId.get(ids(sales))).toMatchObject({ userId: "agent2", stream: "org", subscriptions: [{ channel: "kpi", scope: { dept: "sales" } }] });
    expect(byId.get(ids(admin))?.userId).toBe("admin1");
    expect(byId.get(ids(admin))?.stream).toBe("org");
    expect(byId.get(ids(admin))?.subscriptions).toEqual(
      expect.arrayContaining([
        { channel: "alerts", scope: {} },
        { channel: "kpi", scope: {} },
      ]),
    );
    expect(items).toHaveLength(4);

    for (const s of [phone, laptop, sales, admin]) s.close();
  });
});

describe("ping", () => {
  it('{"type":"ping"} gets {"type":"pong"}, also with extra spaces, and counts as activity', async () => {
    const { tokens } = await setupOrg();
    const s = await connect("/api/v1/ws", { token: tokens.agent });
    const cid = (s.frames.find(isType("connected")) as ConnectedFrame).connectionId;
    await sleep(50);

    s.send('{"type":"ping"}');
    await s.waitForCount(isType("pong"), 1);
    expect(s.frames.filter(isType("pong"))[0]).toEqual({ type: "pong" });

    s.send('{ "type" : "ping" }');
    await s.waitForCount(isType("pong"), 2);
    expect(s.frames.filter((f) => f.type === "error")).toEqual([]);

    const list = await call("GET", "/api/v1/realtime/connections", { token: tokens.admin });
    const mine = (list.json.items as { connectionId: string; connectedAt: string; lastActivityAt: string }[]).find((i) => i.connectionId === cid);
    expect(mine).toBeDefined();
    expect(Date.parse(mine!.lastActivityAt)).toBeGreaterThan(Date.parse(mine!.connectedAt));

    // The org stream answers the same way.
    const o = await connect("/api/v1/ws/org", { token: tokens.agent });
    o.send('{"type":"ping"}');
    await o.waitFor(isType("pong"));
    s.close();
    o.close();
  });
});

describe("token expiry", () => {
  it("the hubs' alarm is set to the token's exp, and running it then closes the socket with 4001", async () => {
    const { org } = await setupOrg();
    const expiring = await makeToken({ org, sub: "agent1", role: "agent", expiresIn: 2 });
    const exp = decodeExp(expiring);
    const s = await connect("/api/v1/ws", { token: expiring });
    const o = await connect("/api/v1/ws/org", { token: expiring });
    for (const stub of [userHubOf(org, "agent1"), orgHubOf(org)]) {
      expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).toBe(exp);
    }
    // Early (another piece of work woke it): the sockets stay, the alarm stays at exp.
    if (Date.now() < exp - 200) {
      await runDurableObjectAlarm(userHubOf(org, "agent1"));
      expect(await runInDurableObject(userHubOf(org, "agent1"), (_i, state) => state.storage.getAlarm())).toBe(exp);
      expect(s.ws.readyState).toBe(WebSocket.OPEN);
    }
    await untilPast(exp);
    // The alarm may have fired by itself already; running it again is harmless.
    await runDurableObjectAlarm(userHubOf(org, "agent1"));
    await runDurableObjectAlarm(orgHubOf(org));
    for (const socket of [s, o]) expect(await closedWithin(socket, 1000)).toEqual({ code: 4001, reason: "token expired" });
  });

  it("a token past its exp opens no socket: 4401 TOKEN_EXPIRED, even within the REST clock tolerance", async () => {
    const { org } = await setupOrg();
    const expired = await makeToken({ org, sub: "agent1", role: "agent", expiresIn: -5 });
    for (const path of ["/api/v1/ws", "/api/v1/ws/org"]) {
      const r = await refusedUpgrade(path, { token: expired });
      expect(r.code, r.text).toBe(4401);
      expect(r.reason.code).toBe("TOKEN_EXPIRED");
    }
    // REST keeps its 30 s tolerance for a single request.
    expect((await call("GET", "/api/v1/alerts?limit=1", { token: expired })).status).toBe(200);
  });

  it("the expiry alarm stays armed across hibernation, later publishes and later sockets", async () => {
    const { org, tokens } = await setupOrg();
    const shortLived = await makeToken({ org, sub: "agent1", role: "agent", expiresIn: 120 });
    const expiresAt = (Math.floor(Date.now() / 1000) + 120) * 1000;
    const s = await connect("/api/v1/ws", { token: shortLived });
    const stub = userHubOf(org, "agent1");
    await evictDurableObject(stub, { webSockets: "hibernate" });
    // A publish (log retention: a day) and a socket with a later expiry must not push the alarm past the first expiry.
    const ev = await broadcast(tokens.admin, { event: "note:added", target: { userIds: ["agent1"] } });
    await s.waitFor(isEvent(ev.id));
    const later = await connect("/api/v1/ws", { token: tokens.agent });
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(expiresAt + 1000);
    s.close();
    later.close();
  });

  it("an expiry close publishes presence:offline exactly once", async () => {
    const { org, tokens } = await setupOrg();
    const watcher = await connect("/api/v1/ws/org", { token: tokens.admin, query: { channels: "presence" } });
    const expiring = await makeToken({ org, sub: "agent1", role: "agent", expiresIn: 2 });
    const o = await connect("/api/v1/ws/org", { token: expiring });
    await untilPast(decodeExp(expiring));
    await runDurableObjectAlarm(orgHubOf(org));
    expect((await closedWithin(o)).code).toBe(4001);
    const offline = (f: ServerFrame) => f.type === "presence:offline" && (f as EventFrame<{ userId: string }>).data.userId === "agent1";
    await watcher.waitFor(offline);
    // The client's reply to the close reaches the hub too; it must not count as a second disconnect.
    await sleep(500);
    const marker = await broadcast(tokens.admin, { event: "probe:presence", target: { channel: "presence" } });
    await watcher.waitFor(isEvent(marker.id));
    expect(watcher.frames.filter(offline)).toHaveLength(1);
    watcher.close();
  });
});

describe("isolation", () => {
  it("org A's alerts and broadcasts never reach org B; a user's broadcast never reaches another user", async () => {
    const a = await setupOrg();
    const b = await setupOrg(await orgBeside(a.org));
    const aAgent = await connect("/api/v1/ws", { token: a.tokens.agent });
    const aAdmin = await connect("/api/v1/ws/org", { token: a.tokens.admin, query: { channels: "kpi" } });
    const aOther = await connect("/api/v1/ws", { token: a.tokens.agent2 });
    // Same user ids in the other org.
    const bAgent = await connect("/api/v1/ws", { token: b.tokens.agent });
    const bAdmin = await connect("/api/v1/ws/org", { token: b.tokens.admin, query: { channels: "kpi" } });

    const alert = await call("POST", "/api/v1/alerts", { token: a.tokens.service, body: alertBody({ assigneeId: "agent1" }) });
    expect(alert.status, alert.text).toBe(201);
    const direct = await broadcast(a.tokens.admin, { event: "note:added", target: { userIds: ["agent1"] } });
    const kpi = await broadcast(a.tokens.admin, { event: "kpi:tick", target: { channel: "kpi" } });
    await aAgent.waitFor(isEvent(direct.id));
    await aAgent.waitFor(isType("alert:new"));
    await aAdmin.waitFor(isEvent(kpi.id));
    await aAdmin.waitFor(isType("alert:new"));

    // Markers, published after everything above: once they arrive, anything leaked would have arrived before them.
    const bUser = await broadcast(b.tokens.admin, { event: "marker:b", target: { userIds: ["agent1"] } });
    const bOrg = await broadcast(b.tokens.admin, { event: "marker:b", target: { channel: "kpi" } });
    const aUser2 = await broadcast(a.tokens.admin, { event: "marker:a", target: { userIds: ["agent2"] } });
    await bAgent.waitFor(isEvent(bUser.id));
    await bAdmin.waitFor(isEvent(bOrg.id));
    await aOther.waitFor(isEvent(aUser2.id));
    expect(eventsOf(bAgent).map((f) => f.id)).toEqual([bUser.id]);
    expect(eventsOf(bAdmin).map((f) => f.type)).toEqual(["marker:b"]);
    expect(eventsOf(aOther).map((f) => f.id)).toEqual([aUser2.id]);
    expect(eventsOf(bAgent)[0]!.seq).toBe(1);

    for (const s of [aAgent, aAdmin, aOther, bAgent, bAdmin]) s.close();
  });
});

describe("alert events", () => {
  it("alert:new, alert:updated, alert:assigned (old and new assignee) and alert:converted reach the right streams", async () => {
    const { tokens } = await setupOrg();
    const agent1 = await connect("/api/v1/ws", { token: tokens.agent });
    const agent2 = await connect("/api/v1/ws", { token: tokens.agent2 });
    const member = await connect("/api/v1/ws", { token: tokens.member });
    const admin = await connect("/api/v1/ws/org", { token: tokens.admin });
    expect((admin.frames.find(isType("connected")) as ConnectedFrame).subscriptions).toEqual([{ channel: "alerts", scope: {} }]);
    const agentOrg = await connect("/api/v1/ws/org", { token: tokens.agent });
    expect((agentOrg.frames.find(isType("connected")) as ConnectedFrame).subscriptions).toEqual([]);

    const created = await call("POST", "/api/v1/alerts", {
      token: tokens.service,
      body: alertBody({ assigneeId: "agent1", recipients: ["member1"] }),
    });
    expect(created.status, created.text).toBe(201);
    const id = created.json.id as string;
    const about = (type: string) => (f: ServerFrame) => f.type === type && (f as EventFrame<{ alert: { id: string } }>).data?.alert?.id === id;

    for (const s of [agent1, member]) {
      const f = await s.waitFor<EventFrame<{ alert: { id: string; assigneeId: string } }>>(about("alert:new"));
      expect(f).toMatchObject({ stream: "user", data: { alert: { id, assigneeId: "agent1" } } });
    }
    const onOrg = await admin.waitFor<EventFrame>(about("alert:new"));
    expect(onOrg).toMatchObject({ stream: "org", channel: "alerts", scope: {} });
    // Same event id on every stream.
    expect((agent1.frames.find(about("alert:new")) as EventFrame).id).toBe(onOrg.id);

    const patched = await call("PATCH", `/api/v1/alerts/${id}/status`, { token: tokens.agent, body: { status: "ACKNOWLEDGED" } });
    expect(patched.status, patched.text).toBe(200);
    for (const s of [agent1, member, admin]) {
      const f = await s.waitFor<EventFrame<{ change: unknown }>>(about("alert:updated"));
      expect(f.data.change).toMatchObject({ fromStatus: "PENDING", toStatus: "ACKNOWLEDGED", actorId: "agent1" });
    }

    const assigned = await call("POST", `/api/v1/alerts/${id}/assign`, { token: tokens.admin, body: { agentId: "agent2" } });
    expect(assigned.status, assigned.text).toBe(200);
    for (const s of [agent2, agent1, member, admin]) {
      const f = await s.waitFor<EventFrame<{ alert: { assigneeId: string }; change: unknown }>>(about("alert:assigned"));
      expect(f.data.alert.assigneeId).toBe("agent2");
      expect(f.data.change).toMatchObject({ previousAssigneeId: "agent1" });
    }

    const converted = await call("POST", `/api/v1/alerts/${id}/convert`, {
      token: tokens.admin,
      body: { conversionValue: 250000, conversionType: "listing" },
    });
    expect(converted.status, converted.text).toBe(200);
    for (const s of [agent2, member, admin]) {
      const f = await s.waitFor<EventFrame<{ alert: { status: string }; change: unknown }>>(about("alert:converted"));
      expect(f.data.alert.status).toBe("CONVERTED");
      expect(f.data.change).toMatchObject({ toStatus: "CONVERTED" });
    }
    // agent1 is no longer assignee nor recipient: no alert:converted for them.
    const marker = await broadcast(tokens.admin, { event: "marker:x", target: { userIds: ["agent1"] } });
    await agent1.waitFor(isEvent(marker.id));
    expect(agent1.frames.filter(about("alert:converted"))).toHaveLength(0);
    expect(eventsOf(agent1).map((f) => f.type)).toEqual(["alert:new", "alert:updated", "alert:assigned", "marker:x"]);
    expect(eventsOf(agent2).map((f) => f.type)).toEqual(["alert:assigned", "alert:converted"]);
    // agent2's stream had nothing before: seq starts at 1.
    // Interleaved with agent2's notification:new (alert.assigned): the stream's seqs stay gap-free.
    const allSeqs = agent2.frames.filter((f): f is EventFrame => "id" in f && "seq" in f).map((f) => f.seq);
    expect(allSeqs).toEqual(allSeqs.map((_, i) => i + 1));
    expect(eventsOf(agent2)).toHaveLength(2);

    // The agent's org socket never saw the alert events, and may not subscribe to alerts or presence.
    const orgMarker = await broadcast(tokens.admin, { event: "marker:x", target: { channel: "kpi" } });
    agentOrg.send({ type: "subscribe", ref: "a1", channels: ["alerts"] });
    expect(await agentOrg.waitFor<ErrorFrame>(isErrorRef("a1"))).toMatchObject({ code: "UNAUTHORIZED" });
    agentOrg.send({ type: "subscribe", ref: "p1", channels: ["presence"] });
    expect(await agentOrg.waitFor<ErrorFrame>(isErrorRef("p1"))).toMatchObject({ code: "UNAUTHORIZED" });
    agentOrg.send({ type: "subscribe", ref: "mixed", channels: ["kpi", "alerts"] });
    expect(await agentOrg.waitFor<ErrorFrame>(isErrorRef("mixed"))).toMatchObject({ code: "UNAUTHORIZED" });
    const ack = await subscribe(agentOrg, "k1", ["kpi"]);
    expect(ack.subscriptions).toEqual([{ channel: "kpi", scope: {} }]);
    const kpi = await broadcast(tokens.admin, { event: "kpi:tick", target: { channel: "kpi" } });
    await agentOrg.waitFor(isEvent(kpi.id));
    expect(eventsOf(agentOrg).map((f) => f.id)).toEqual([kpi.id]);
    expect(orgMarker.reached).toBe(0);

    // A member's org socket is refused the same way, and `channels=alerts` at connect is refused too.
    const memberOrg = await connect("/api/v1/ws/org", { token: tokens.member, query: { channels: "alerts,kpi" } });
    expect((memberOrg.frames.find(isType("connected")) as ConnectedFrame).subscriptions).toEqual([{ channel: "kpi", scope: {} }]);
    expect(await memberOrg.waitFor<ErrorFrame>(isType("error"))).toMatchObject({ code: "UNAUTHORIZED" });
    memberOrg.send({ type: "subscribe", ref: "m1", channels: ["presence"] });
    expect(await memberOrg.waitFor<ErrorFrame>(isErrorRef("m1"))).toMatchObject({ code: "UNAUTHORIZED" });
    const another = await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ assigneeId: "member1" }) });
    expect(another.status).toBe(201);
    const kpi2 = await broadcast(tokens.admin, { event: "kpi:tick", target: { channel: "kpi" } });
    await memberOrg.waitFor(isEvent(kpi2.id));
    expect(eventsOf(memberOrg).map((f) => f.type)).toEqual(["kpi:tick"]);
    expect(memberOrg.ws.readyState).toBe(WebSocket.OPEN);
    expect(agentOrg.ws.readyState).toBe(WebSocket.OPEN);

    for (const s of [agent1, agent2, member, admin, agentOrg, memberOrg]) s.close();
  });
});

describe("scopes on a channel", () => {
  it("org ⊇ dept ⊇ queue: each subscription gets the events whose scope overlaps its own", async () => {
    const { tokens } = await setupOrg();
    const orgLevel = await connect("/api/v1/ws/org", { token: tokens.agent });
    await subscribe(orgLevel, "s", ["kpi"]);
    const dept = await connect("/api/v1/ws/org", { token: tokens.agent });
    await subscribe(dept, "s", ["kpi"], { dept: "sales" });
    const queue = await connect("/api/v1/ws/org", { token: tokens.agent });
    await subscribe(queue, "s", ["kpi"], { dept: "sales", queue: "inbound" });

    const scopes = [{}, { dept: "sales" }, { dept: "sales", queue: "inbound" }, { dept: "sales", queue: "outbound" }, { dept: "ops" }];
    const ids: string[] = [];
    for (const scope of scopes) ids.push((await broadcast(tokens.admin, { event: "kpi:tick", data: { scope }, target: { channel: "kpi", scope } })).id);
    const end = await broadcast(tokens.admin, { event: "kpi:end", target: { channel: "kpi" } });
    for (const s of [orgLevel, dept, queue]) await s.waitFor(isEvent(end.id));

    const [all, sales, inbound, outbound, ops] = ids as [string, string, string, string, string];
    expect(eventsOf(orgLevel, "kpi:tick").map((f) => f.id)).toEqual([all, sales, inbound, outbound, ops]);
    expect(eventsOf(dept, "kpi:tick").map((f) => f.id)).toEqual([all, sales, inbound, outbound]);
    expect(eventsOf(queue, "kpi:tick").map((f) => f.id)).toEqual([all, sales, inbound]);
    expect(eventsOf(queue, "kpi:tick")[2]!.scope).toEqual({ dept: "sales", queue: "inbound" });

    // Connecting with ?channels&dept&queue gives the same scoped subscription.
    const viaQuery = await connect("/api/v1/ws/org", { token: tokens.agent, query: { channels: "kpi", dept: "sales", queue: "inbound" } });
    expect((viaQuery.frames.find(isType("connected")) as ConnectedFrame).subscriptions).toEqual([
      { channel: "kpi", scope: { dept: "sales", queue: "inbound" } },
    ]);
    const out = await broadcast(tokens.admin, { event: "kpi:tick", target: { channel: "kpi", scope: { dept: "sales", queue: "outbound" } } });
    const end2 = await broadcast(tokens.admin, { event: "kpi:end", target: { channel: "kpi", scope: { dept: "sales", queue: "inbound" } } });
    await viaQuery.waitFor(isEvent(end2.id));
    expect(eventsOf(viaQuery).map((f) => f.id)).toEqual([end2.id]);
    expect(out.orgSeq).not.toBeNull();

    for (const s of [orgLevel, dept, queue, viaQuery]) s.close();
  });
});

describe("presence", () => {
  it("the first socket of a user publishes presence:online, the last one's close presence:offline", async () => {
    const { tokens } = await setupOrg();
    const watcher = await connect("/api/v1/ws/org", { token: tokens.admin, query: { channels: "presence" } });
    const forAgent = (type: string) => (f: ServerFrame) => f.type === type && (f as EventFrame<{ userId: string }>).data.userId === "agent1";
    const presenceOf = async () => {
      const res = await call("GET", "/api/v1/realtime/presence/agent1", { token: tokens.admin });
      expect(res.status, res.text).toBe(200);
      return res.json as { userId: string; online: boolean; connections: number; lastSeenAt: string | null };
    };
    expect(await presenceOf()).toMatchObject({ userId: "agent1", online: false, connections: 0 });

    const first = await connect("/api/v1/ws", { token: tokens.agent });
    const online = await watcher.waitFor<EventFrame>(forAgent("presence:online"));
    expect(online).toMatchObject({ stream: "org", channel: "presence", data: { userId: "agent1", online: true, connections: 1 } });
    expect(await presenceOf()).toMatchObject({ online: true, connections: 1 });

    const second = await connect("/api/v1/ws", { token: tokens.agent });
    const third = await connect("/api/v1/ws/org", { token: tokens.agent });
    expect(await presenceOf()).toMatchObject({ online: true, connections: 3 });
    // The agent may read their own presence.
    expect((await call("GET", "/api/v1/realtime/presence/agent1", { token: tokens.agent })).status).toBe(200);

    first.close();
    third.close();
    await eventually(async () => (await presenceOf()).connections === 1, "agent1 has one connection left");
    second.close();
    const offline = await watcher.waitFor<EventFrame>(forAgent("presence:offline"));
    expect(offline).toMatchObject({ channel: "presence", data: { userId: "agent1", online: false, connections: 0 } });
    expect(await presenceOf()).toMatchObject({ online: false, connections: 0 });
    expect((await presenceOf()).lastSeenAt).not.toBeNull();
    // One transition each way: the later sockets and the earlier closes published nothing.
    expect(watcher.frames.filter((f) => f.type.startsWith("presence:") && (f as EventFrame<{ userId: string }>).data.userId === "agent1").map((f) => f.type)).toEqual([
      "presence:online",
      "presence:offline",
    ]);
    watcher.close();
  });
});

describe("stats:updated", () => {
  it("costs nothing while nobody subscribes to stats: no pending tick, no query", async () => {
    const { org, tokens } = await setupOrg();
    const admin = await connect("/api/v1/ws/org", { token: tokens.admin });
    await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody() });
    await admin.waitFor(isType("alert:new"));
    const pending = await runInDurableObject(env.ORG_HUB.getByName(org), (_instance, state) =>
      state.storage.sql.exec("SELECT v FROM meta WHERE k = 'stats_due'").toArray(),
    );
    expect(pending).toEqual([]);
    admin.close();
  });

  it("is published after alert changes, coalesced to one per burst", async () => {
    const { tokens } = await setupOrg();
    const s = await connect("/api/v1/ws/org", { token: tokens.admin, query: { channels: "stats" } });
    const stats = () => eventsOf(s, "stats:updated") as EventFrame<{ total: number }>[];

    const first = await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody() });
    expect(first.status).toBe(201);
    const one = await s.waitFor<EventFrame<{ total: number }>>(isType("stats:updated"), 3000);
    expect(one).toMatchObject({ stream: "org", channel: "stats" });
    expect(one.data.total).toBe(1);

    // A burst of changes, spread over a few hundred ms (well inside STATS_COALESCE_MS = 1000 of the first event).
    const burst = [
      () => call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody() }),
      () => call("PATCH", `/api/v1/alerts/${first.json.id}/status`, { token: tokens.admin, body: { status: "ACKNOWLEDGED" } }),
      () => call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody() }),
      () => call("PATCH", `/api/v1/alerts/${first.json.id}/status`, { token: tokens.admin, body: { status: "IN_PROGRESS" } }),
      () => call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody() }),
    ];
    for (const change of burst) {
      const r = await change();
      expect([200, 201], r.text).toContain(r.status);
      await sleep(60);
    }
    await s.waitForCount(isType("stats:updated"), 2, 4000);
    await sleep(1500);
    expect(stats()).toHaveLength(2);
    expect(stats()[1]!.data.total).toBe(4);
    expect((stats()[1]!.data as unknown as { byStatus: Record<string, number> }).byStatus).toMatchObject({ IN_PROGRESS: 1, PENDING: 3 });
    s.close();
  });
});

describe("durable before visible", () => {
  it("after a 201 the event is in the hubs' logs and marked published in D1", async () => {
    const { org, tokens } = await setupOrg();
    const res = await broadcast(tokens.admin, { event: "deal:won", data: { amount: 10 }, target: { userIds: ["agent1"], channel: "kpi" } });
    expect(res.userSeqs).toEqual({ agent1: 1 });

    const userRows = await runInDurableObject(userHubOf(org, "agent1"), (_i, state) =>
      state.storage.sql.exec<{ seq: number; id: string; type: string; frame: string }>("SELECT seq, id, type, frame FROM log WHERE id = ?", res.id).toArray(),
    );
    expect(userRows).toHaveLength(1);
    expect(userRows[0]).toMatchObject({ seq: 1, type: "deal:won" });
    expect(JSON.parse(userRows[0]!.frame)).toMatchObject({ id: res.id, seq: 1, stream: "user", data: { amount: 10 } });

    const orgRows = await runInDurableObject(orgHubOf(org), (_i, state) =>
      state.storage.sql.exec<{ seq: number; channel: string }>("SELECT seq, channel FROM log WHERE id = ?", res.id).toArray(),
    );
    expect(orgRows).toEqual([{ seq: res.orgSeq, channel: "kpi" }]);

    // Marked published in the background, right after the response (PublishedMarks).
    await vi.waitFor(async () => {
      const row = await (await orgD1(org)).prepare("SELECT org_id, type, published_at FROM realtime_events WHERE id = ?").bind(res.id).first<{
        org_id: string;
        type: string;
        published_at: number | null;
      }>();
      expect(row).toMatchObject({ org_id: org, type: "deal:won" });
      expect(row!.published_at).not.toBeNull();
    });
    const targets = await (await orgD1(org)).prepare("SELECT user_id, channel FROM realtime_event_targets WHERE event_id = ? ORDER BY pos").bind(res.id).all();
    expect(targets.results).toEqual([
      { user_id: "agent1", channel: null },
      { user_id: null, channel: "kpi" },
    ]);

    // A socket connecting afterwards can replay it.
    const s = await connect("/api/v1/ws", { token: tokens.agent, query: { since: "0" } });
    expect(s.frames[0]).toMatchObject({ id: res.id, seq: 1 });
    s.close();
  });
});

describe("unread badge", () => {
  const isBadge = (count: number) => (f: ServerFrame) => f.type === "unread:count" && (f.data as UnreadCountData).count === count;
  const after = (s: TestSocket, from: number, pred: (f: ServerFrame) => boolean) => s.waitFor((f) => s.frames.indexOf(f) >= from && pred(f));

  it("keeps updating on every device after the user was notified while none was connected", async () => {
    const { tokens } = await setupOrg();
    const notify = async (title: string) => {
      const res = await call("POST", "/api/v1/notifications", { token: tokens.admin, body: { userIds: ["member1"], type: "ops.note", title } });
      expect(res.status, res.text).toBe(201);
      return res.json.ids[0] as string;
    };
    // Offline: no socket of member1 is open.
    await notify("While offline");
    const devices = [await connect("/api/v1/ws", { token: tokens.member }), await connect("/api/v1/ws", { token: tokens.member })];
    for (const d of devices) await d.waitFor(isBadge(1));

    let marks = devices.map((d) => d.frames.length);
    const second = await notify("While online");
    for (const [i, d] of devices.entries()) {
      await after(d, marks[i]!, (f) => f.type === "notification:new");
      await after(d, marks[i]!, isBadge(2));
    }

    marks = devices.map((d) => d.frames.length);
    devices[0]!.send({ type: "mark:read", ref: "r1", notificationId: second });
    await after(devices[0]!, marks[0]!, isAck("r1"));
    for (const [i, d] of devices.entries()) {
      await after(d, marks[i]!, (f) => f.type === "notification:read");
      await after(d, marks[i]!, isBadge(1));
    }
    for (const d of devices) d.close();
  });
});
