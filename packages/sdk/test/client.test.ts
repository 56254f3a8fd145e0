import { afterEach, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createHerald, type Herald, type HeraldOptions, type ResyncInfo } from "../src/index";
import { eventually, FakeHerald } from "./fake-server";
import { refusalReason } from "../../../src/protocol/index";

let server: FakeHerald;
const clients: Herald[] = [];

beforeEach(async () => {
  server = await new FakeHerald().start();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.stop();
});

/** A client with fast, still jittered, reconnects so tests run quickly. */
function client(overrides: Partial<HeraldOptions> = {}): Herald {
  const h = createHerald({ url: server.url, token: "t1", WebSocket, backoff: { minDelayMs: 50, maxDelayMs: 200 }, ...overrides });
  clients.push(h);
  return h;
}

const alert = (id: string) => ({ alert: { id, title: id }, change: undefined });

describe("user stream", () => {
  it("connects with a fresh ticket, reports open, delivers typed events and the badge", async () => {
    server.unread = { count: 2, unseen: 1 };
    const h = client();
    const statuses: string[] = [];
    h.on("status", (s) => statuses.push(s));
    const titles: string[] = [];
    h.on("alert:new", ({ alert }, meta) => titles.push(`${alert.title}@${meta.seq}`));
    await eventually(() => h.status === "open", 5000, "open");
    expect(statuses).toEqual(["open"]);
    expect(server.dials[0]!.params.get("ticket")).toBe("tkt_1");
    expect(server.dials[0]!.params.has("since")).toBe(false);
    await eventually(() => h.inbox.state.badgeKnown);
    expect(h.inbox.unreadCount).toBe(2);
    server.publish("user", "alert:new", alert("a1"));
    await eventually(() => titles.length === 1);
    expect(titles).toEqual(["a1@1"]);
  });

  it("resumes after a drop with since = the last seq, a new ticket, and no event lost or repeated", async () => {
    const h = client();
    const got: string[] = [];
    h.on("alert:new", ({ alert }) => got.push(alert.id));
    await eventually(() => h.status === "open");
    for (let i = 1; i <= 5; i++) server.publish("user", "alert:new", alert(`a${i}`));
    await eventually(() => got.length === 5);
    server.dropAll();
    // Published while the client is away: must arrive by replay.
    for (let i = 6; i <= 10; i++) server.publish("user", "alert:new", alert(`a${i}`));
    await eventually(() => got.length === 10, 10_000, "replay");
    const second = server.dials[1]!;
    expect(second.params.get("since")).toBe("5");
    expect(second.params.get("ticket")).toBe("tkt_2");
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => `a${i + 1}`));
    // No ticket is ever presented twice.
    expect(new Set(server.ticketsPresented).size).toBe(server.ticketsPresented.length);
  });

  it("resumes from the head it was told when it dropped before any event", async () => {
    server.publish("user", "alert:new", alert("old"));
    const h = client();
    const got: string[] = [];
    h.on("alert:new", ({ alert }) => got.push(alert.id));
    await eventually(() => h.status === "open");
    server.dropAll();
    server.publish("user", "alert:new", alert("missed"));
    await eventually(() => got.length === 1);
    expect(got).toEqual(["missed"]);
    expect(server.dials[1]!.params.get("since")).toBe("1");
  });

  it("drops a duplicate id (the same event on both streams / again in a replay)", async () => {
    const h = client();
    const got: string[] = [];
    h.onAny((name, _d, meta) => got.push(`${name}:${meta.id}`));
    await eventually(() => h.status === "open");
    server.publish("user", "deal:won", { v: 1 }, { id: "evt_same" });
    server.publish("user", "deal:won", { v: 1 }, { id: "evt_same" });
    server.publish("user", "deal:won", { v: 2 }, { id: "evt_other" });
    await eventually(() => got.some((g) => g.endsWith("evt_other")));
    expect(got.filter((g) => g.startsWith("deal:won"))).toEqual(["deal:won:evt_same", "deal:won:evt_other"]);
  });

  it("emits resync with the server's seq when the replay is impossible, and continues from it", async () => {
    const h = client();
    await eventually(() => h.status === "open");
    const resyncs: unknown[] = [];
    h.on("resync", (r) => resyncs.push(r));
    // Pretend the client held a seq beyond the head (the fake answers resync-required "ahead").
    (h as any).seqs.user = 99;
    server.dropAll();
    await eventually(() => resyncs.length === 1);
    expect(resyncs[0]).toEqual({ stream: "user", seq: 0, reason: "ahead" });
    expect(h.lastSeq.user).toBe(0);
  });

  it("custom events are delivered with unknown data; once fires a single time; off removes", async () => {
    const h = client();
    await eventually(() => h.status === "open");
    const a: unknown[] = [];
    const b: unknown[] = [];
    const handler = (d: unknown) => a.push(d);
    h.on("deal:won", handler);
    h.once("deal:won", (d) => b.push(d));
    server.publish("user", "deal:won", { n: 1 });
    await eventually(() => a.length === 1);
    h.off("deal:won", handler);
    server.publish("user", "deal:won", { n: 2 });
    server.publish("user", "alert:new", alert("marker"));
    const marker = await new Promise((resolve) => h.once("alert:new", resolve));
    expect(marker).toBeTruthy();
    expect(a).toEqual([{ n: 1 }]);
    expect(b).toEqual([{ n: 1 }]);
  });
});

describe("close codes", () => {
  it("4401 TICKET_INVALID: a new ticket, then connects", async () => {
    server.refuseNext.push({ code: 4401, reason: refusalReason({ code: "TICKET_INVALID", message: "used" }) });
    const h = client();
    await eventually(() => h.status === "open");
    expect(server.ticketsPresented).toEqual(["tkt_1", "tkt_2"]);
  });

  it("4001 (token expired) calls the token function again before the next ticket", async () => {
    let calls = 0;
    const tokens = ["t1", "t2"];
    server.validTokens = new Set(["t1", "t2"]);
    const h = client({ token: async () => tokens[Math.min(calls++, 1)]! });
    await eventually(() => h.status === "open");
    expect(calls).toBe(1);
    server.closeAll(4001, "token expired");
    await eventually(() => server.tokensSeen.includes("t2") && h.status === "open" && server.openCount("user") === 1);
    expect(calls).toBe(2);
    expect(server.tokensSeen).toEqual(["t1", "t2"]);
  });

  it("4001 with a fixed token stops and reports instead of looping", async () => {
    const h = client();
    const errors: any[] = [];
    h.on("error", (e) => errors.push(e));
    await eventually(() => h.status === "open");
    server.closeAll(4001, "token expired");
    await eventually(() => h.status === "closed");
    expect(errors[0]?.status).toBe(4001);
    await new Promise((r) => setTimeout(r, 300));
    expect(server.dials.length).toBe(1);
  });

  it.each([
    [4403, "ORIGIN_NOT_ALLOWED"],
    [4400, "VALIDATION_FAILED"],
  ])("%i stops retrying and reports the reason", async (code, reasonCode) => {
    server.refuseNext.push({ code, reason: refusalReason({ code: reasonCode, message: "no" }) });
    const h = client();
    const errors: any[] = [];
    const statuses: string[] = [];
    h.on("error", (e) => errors.push(e));
    h.on("status", (s) => statuses.push(s));
    await eventually(() => h.status === "closed");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: reasonCode, status: code });
    expect(statuses).toEqual(["closed"]);
    await new Promise((r) => setTimeout(r, 300));
    expect(server.dials.length).toBe(1);
    expect(h.active).toBe(false);
  });

  it("4429 waits the retryAfter it names before dialing again", async () => {
    server.refuseNext.push({ code: 4429, reason: refusalReason({ code: "CONNECTION_LIMIT", message: "too many", retryAfter: 1 }) });
    const h = client();
    const start = Date.now();
    await eventually(() => h.status === "open", 10_000);
    expect(server.dials.length).toBe(2);
    expect(Date.now() - start).toBeGreaterThanOrEqual(1000);
  });
});

describe("auth: header (Node)", () => {
  it.each([
    ["the ws package", WebSocket],
    ["Node's built-in WebSocket", globalThis.WebSocket],
  ])("with %s: the token in the upgrade's Authorization header, no ticket; a 4001 asks the token function again", async (_name, WS) => {
    let calls = 0;
    server.validTokens = new Set(["t1", "t2"]);
    const h = client({ auth: "header", WebSocket: WS, token: async () => (++calls === 1 ? "t1" : "t2") });
    await eventually(() => h.status === "open", 10_000, "open");
    expect(server.ticketsIssued).toEqual([]);
    expect(server.dials[0]!.params.has("ticket")).toBe(false);
    expect(server.headerTokens).toEqual(["t1"]);
    server.publish("user", "alert:new", alert("h1"));
    server.closeAll(4001, "token expired");
    await eventually(() => server.headerTokens.length === 2 && h.status === "open", 10_000, "redial with a new token");
    expect(server.headerTokens).toEqual(["t1", "t2"]);
    expect(server.dials[1]!.params.get("since")).toBe("1");
  });
});

describe("hung requests", () => {
  it("a ticket request that never answers is abandoned after requestTimeoutMs and retried", async () => {
    server.hangTickets = true;
    const h = client({ requestTimeoutMs: 300 });
    await eventually(() => server.tokensSeen.length >= 2, 10_000, "a second ticket request");
    expect(h.status).toBe("connecting");
    server.hangTickets = false;
    await eventually(() => h.status === "open", 10_000, "open");
  });
});

describe("heartbeat", () => {
  it("sends the exact auto-response ping and reconnects when no answer comes", async () => {
    const h = client({ heartbeatMs: 100 });
    await eventually(() => h.status === "open");
    await eventually(() => server.received.some((r) => r.frame === "PING"));
    expect(server.dials.length).toBe(1);
    server.answerPings = false;
    // Silent peer: the next ticks see no pong and redial.
    await eventually(() => server.dials.length >= 2, 5000, "redial");
    expect(server.dials[1]!.params.has("since")).toBe(true);
  });
});

describe("org channels", () => {
  it("opens the org stream lazily; subscribe resolves by ack, rejects by error (by ref)", async () => {
    const h = client();
    await eventually(() => h.status === "open");
    expect(server.dials.filter((d) => d.stream === "org")).toHaveLength(0);
    const subs = await h.subscribe("kpi", { dept: "sales" });
    expect(subs).toEqual([{ channel: "kpi", scope: { dept: "sales" } }]);
    await expect(h.subscribe("forbidden")).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(h.subscriptions).toEqual([{ channel: "kpi", scope: { dept: "sales" } }]);
    const got: unknown[] = [];
    h.on("kpi:updated", (d, meta) => got.push([d, meta.channel, meta.scope]));
    server.publish("org", "kpi:updated", { calls: 1 }, { channel: "kpi", scope: { dept: "sales" } });
    await eventually(() => got.length === 1);
    expect(got[0]).toEqual([{ calls: 1 }, "kpi", { dept: "sales" }]);
  });

  it("re-subscribes after a reconnect and replays what was missed on the channel, in order, once", async () => {
    const h = client();
    await h.subscribe("kpi");
    const got: number[] = [];
    h.on("kpi:updated", (d: any) => got.push(d.n));
    server.publish("org", "kpi:updated", { n: 1 }, { channel: "kpi" });
    await eventually(() => got.length === 1);
    server.dropAll();
    server.publish("org", "kpi:updated", { n: 2 }, { channel: "kpi" });
    server.publish("org", "kpi:updated", { n: 3 }, { channel: "kpi" });
    await eventually(() => got.length === 3, 10_000, "org replay");
    server.publish("org", "kpi:updated", { n: 4 }, { channel: "kpi" });
    await eventually(() => got.length === 4);
    expect(got).toEqual([1, 2, 3, 4]);
    const orgFrames = server.received.filter((r) => r.stream === "org" && r.frame !== "PING").map((r) => r.frame.type);
    expect(orgFrames).toEqual(["subscribe", "subscribe", "resume"]);
  });

  it("an event on both streams (same id) reaches the app once, also when the org replay repeats it", async () => {
    const h = client();
    await h.subscribe("alerts");
    const got: string[] = [];
    h.onAny((name, _d, meta) => name === "alert:new" && got.push(`${meta.id}/${meta.stream}`));
    server.publish("user", "alert:new", alert("both"), { id: "evt_both" });
    server.publish("org", "alert:new", alert("both"), { id: "evt_both", channel: "alerts" });
    server.publish("user", "alert:new", alert("marker"), { id: "evt_marker" });
    await eventually(() => got.includes("evt_marker/user"));
    // A reconnect of the org socket replays from before evt_both (its seq is still behind it if it was dropped on arrival).
    (h as any).seqs.org = 0;
    for (const c of server.conns) if (c.stream === "org") c.ws.terminate();
    await eventually(() => server.received.filter((r) => r.stream === "org" && r.frame?.type === "resume").length === 1, 10_000, "org resume");
    await new Promise((r) => setTimeout(r, 200));
    // Whichever socket's copy came first is the one delivered.
    expect(got.map((g) => g.split("/")[0])).toEqual(["evt_both", "evt_marker"]);
  });

  it("the org stream's first connect reports resync (connected) once its subscriptions are acked; a resume after a drop does not", async () => {
    const h = client();
    const resyncs: ResyncInfo[] = [];
    h.on("resync", (r) => resyncs.push(r));
    await eventually(() => h.status === "open");
    expect(resyncs).toEqual([{ stream: "user", seq: 0, reason: "connected" }]);
    server.publish("org", "alert:new", { n: 1 }, { channel: "alerts" });
    await h.subscribe("alerts");
    expect(resyncs.filter((r) => r.stream === "org")).toEqual([{ stream: "org", seq: 1, reason: "connected" }]);
    server.dropAll();
    await eventually(() => server.dials.filter((d) => d.stream === "org").length === 2, 10_000, "org redialed");
    await eventually(() => server.received.filter((r) => r.stream === "org" && r.frame.type === "resume").length === 1, 10_000, "resumed");
    await new Promise((r) => setTimeout(r, 100));
    expect(resyncs.filter((r) => r.stream === "org")).toHaveLength(1);
  });

  it("unsubscribe resolves with the remaining subscriptions", async () => {
    const h = client();
    await h.subscribe("kpi");
    await h.subscribe("backlog");
    const left = await h.unsubscribe("kpi");
    expect(left.map((s) => s.channel)).toEqual(["backlog"]);
    expect(h.subscriptions.map((s) => s.channel)).toEqual(["backlog"]);
  });
});

describe("inbox", () => {
  const note = (id: string, readAt: string | null = null) => ({ id, title: id, readAt, seenAt: null, archivedAt: null });

  it("loads the first page, keeps it live, and marks read over the socket; the badge only from the server", async () => {
    server.notifications = [note("n2"), note("n1")];
    server.unread = { count: 2, unseen: 2 };
    const h = client();
    await eventually(() => h.status === "open");
    await h.inbox.load();
    expect(h.inbox.notifications.map((n) => n.id)).toEqual(["n2", "n1"]);
    const n3 = note("n3");
    server.notifications.unshift(n3);
    server.unread = { count: 3, unseen: 3 };
    server.publish("user", "notification:new", { notification: n3 });
    server.sendBadge();
    await eventually(() => h.inbox.unreadCount === 3 && h.inbox.notifications.length === 3);
    await h.inbox.markRead("n3");
    expect(server.received.some((r) => r.frame?.type === "mark:read")).toBe(true);
    await eventually(() => h.inbox.unreadCount === 2);
    expect(h.inbox.notifications.find((n) => n.id === "n3")?.readAt).toBeTruthy();
    await h.inbox.markAllRead();
    await eventually(() => h.inbox.unreadCount === 0 && h.inbox.notifications.every((n) => n.readAt));
    await expect(h.inbox.markRead("nope")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("an inbox loaded before the user stream first went live is reloaded when it does: nothing committed in between is missing", async () => {
    server.notifications = [note("n1")];
    server.hangTickets = true;
    const h = client({ requestTimeoutMs: 300 });
    const resyncs: ResyncInfo[] = [];
    h.on("resync", (r) => resyncs.push(r));
    await h.inbox.load();
    expect(h.inbox.notifications.map((n) => n.id)).toEqual(["n1"]);
    // Committed now: in the REST list from here on, and published before any socket is live (no replay will bring it).
    const n2 = note("n2");
    server.notifications.unshift(n2);
    server.publish("user", "notification:new", { notification: n2 });
    server.hangTickets = false;
    await eventually(() => h.status === "open", 10_000, "open");
    await eventually(() => h.inbox.notifications.map((n) => n.id).join() === "n2,n1", 5000, "n2 in the list");
    expect(resyncs).toEqual([{ stream: "user", seq: 1, reason: "connected" }]);
    // A later drop and resume is not a first connect: no second resync.
    server.dropAll();
    await eventually(() => server.dials.length === 2 && h.status === "open", 10_000, "reconnected");
    await new Promise((r) => setTimeout(r, 100));
    expect(resyncs).toHaveLength(1);
  });

  it("keeps a notification event that arrives while the first page is loading", async () => {
    server.notifications = [note("n1")];
    const h = client();
    await eventually(() => h.status === "open");
    let release!: () => void;
    server.notificationsGate = new Promise<void>((resolve) => (release = resolve));
    const loading = h.inbox.load();
    // The page is read (n1 only); then n2 is committed and its event arrives before the page does.
    await eventually(() => server.notificationLists === 1);
    const n2 = note("n2");
    server.notifications.unshift(n2);
    server.publish("user", "notification:new", { notification: n2 });
    await eventually(() => h.lastSeq.user === 1);
    release();
    expect((await loading).map((n) => n.id)).toEqual(["n2", "n1"]);
    expect(h.inbox.notifications.map((n) => n.id)).toEqual(["n2", "n1"]);
  });

  it("a second client of the same user sees the badge fall when the first marks read", async () => {
    server.notifications = [note("n1")];
    server.unread = { count: 1, unseen: 1 };
    const a = client();
    const b = client();
    await eventually(() => a.status === "open" && b.status === "open");
    await eventually(() => b.inbox.unreadCount === 1);
    await a.inbox.markRead("n1");
    await eventually(() => b.inbox.unreadCount === 0);
  });
});

describe("polling fallback", () => {
  it("polls without a WebSocket, delivers events once, and reports polling", async () => {
    const h = client({ WebSocket: null, polling: { minMs: 50, maxMs: 100 } });
    expect(h.status).toBe("polling");
    const got: string[] = [];
    h.on("alert:new", ({ alert }, meta) => {
      expect(meta.polled).toBe(true);
      got.push(alert.id);
    });
    server.publish("user", "alert:new", alert("p1"));
    server.publish("user", "alert:new", alert("p2"));
    await eventually(() => got.length === 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual(["p1", "p2"]);
  });

  it("two polling devices of one user both get every event (acks are per user, so the SDK does not ack by default)", async () => {
    const a = client({ WebSocket: null, polling: { minMs: 50, maxMs: 100 } });
    const b = client({ WebSocket: null, polling: { minMs: 400, maxMs: 400 } });
    const gotA: string[] = [];
    const gotB: string[] = [];
    a.on("alert:new", ({ alert }) => gotA.push(alert.id));
    b.on("alert:new", ({ alert }) => gotB.push(alert.id));
    server.publish("user", "alert:new", alert("d1"));
    server.publish("user", "alert:new", alert("d2"));
    await eventually(() => gotA.length === 2 && gotB.length === 2, 10_000, "both devices");
    expect(gotA).toEqual(["d1", "d2"]);
    expect(gotB).toEqual(["d1", "d2"]);
    expect(server.acked).toEqual([]);
  });

  it("acks what it delivered when asked to (polling.ack: a single-device integration)", async () => {
    const h = client({ WebSocket: null, polling: { minMs: 50, maxMs: 100, ack: true } });
    const got: string[] = [];
    h.on("alert:new", ({ alert }) => got.push(alert.id));
    server.publish("user", "alert:new", alert("k1"));
    await eventually(() => got.length === 1);
    await eventually(() => server.acked.length === 1);
  });

  it("an event committed while polling, before the socket came back fresh (at the head), is still delivered once", async () => {
    server.refuseAll = true;
    const h = client({ pollAfterFailures: 2, polling: { minMs: 60_000, maxMs: 60_000 } });
    const got: string[] = [];
    h.on("alert:new", ({ alert }) => got.push(alert.id));
    await eventually(() => h.status === "polling" && server.polled.length >= 1, 10_000, "polling");
    // Not polled yet (the next poll is a minute away); the socket's first `connected` will already count it in its head.
    server.publish("user", "alert:new", alert("gap"));
    server.refuseAll = false;
    await eventually(() => h.status === "open", 10_000, "socket back");
    await eventually(() => got.length === 1, 10_000, "the event from the last poll");
    server.publish("user", "alert:new", alert("live"));
    await eventually(() => got.length === 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual(["gap", "live"]);
    expect(h.active).toBe(true);
    expect((h as any).poller).toBeUndefined();
  });

  it("a polling-only client delivers what happens after it started, by the server's clock, not earlier history", async () => {
    // The server's clock is 5 minutes behind this machine's: the SDK must go by the server's.
    server.clockSkewMs = -5 * 60_000;
    server.publish("user", "alert:new", alert("history"), { ts: new Date(Date.now() - 20 * 60_000).toISOString() });
    const h = client({ WebSocket: null, polling: { minMs: 50, maxMs: 100 } });
    const got: string[] = [];
    h.on("alert:new", ({ alert }) => got.push(alert.id));
    await eventually(() => server.polled.length >= 1);
    server.publish("user", "alert:new", alert("news"));
    await eventually(() => got.length === 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual(["news"]);
  });

  it("falls back after N failed upgrades and returns to the socket when it works, same events once", async () => {
    for (let i = 0; i < 3; i++) server.refuseNext.push({ code: 4503, reason: refusalReason({ code: "UNAVAILABLE", message: "down" }) });
    const h = client({ pollAfterFailures: 2, polling: { minMs: 50, maxMs: 100 } });
    const statuses: string[] = [];
    h.on("status", (s) => statuses.push(s));
    const got: string[] = [];
    h.on("alert:new", ({ alert }) => got.push(alert.id));
    await eventually(() => h.status === "polling", 10_000, "polling");
    server.publish("user", "alert:new", alert("x1"));
    await eventually(() => got.includes("x1"));
    await eventually(() => h.status === "open", 10_000, "back to socket");
    server.publish("user", "alert:new", alert("x2"));
    await eventually(() => got.includes("x2"));
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual(["x1", "x2"]);
    expect(statuses).toContain("polling");
    expect(statuses.at(-1)).toBe("open");
  });
});

describe("polling fallback during an outage", () => {
  it("does not fall back to polling while the API itself is unreachable (polls would fail too), and reconnects the socket when it answers", async () => {
    // The server is down: every ticket request fails at the network level, as after a deploy or restart.
    let down = true;
    let ticketAttempts = 0;
    const netFetch: typeof fetch = async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (down) {
        if (url.includes("/realtime/ticket")) ticketAttempts++;
        throw new TypeError("fetch failed");
      }
      return fetch(input, init);
    };
    const h = client({ fetch: netFetch, pollAfterFailures: 2, polling: { minMs: 50, maxMs: 100 } });
    const statuses: string[] = [];
    h.on("status", (s) => statuses.push(s));
    await eventually(() => ticketAttempts >= 5, 10_000, "several failed dials");
    expect(h.status).toBe("connecting");
    expect(statuses).not.toContain("polling");
    down = false;
    await eventually(() => h.status === "open", 10_000, "back on the socket");
    expect(statuses).not.toContain("polling");
  });
});

describe("close()", () => {
  it("leaves no socket, timer or poll behind and rejects what was pending", async () => {
    const h = client({ heartbeatMs: 50 });
    await eventually(() => h.status === "open");
    const sub = h.subscribe("kpi");
    h.close();
    await expect(sub).rejects.toMatchObject({ code: "CLOSED" });
    expect(h.status).toBe("closed");
    expect(h.active).toBe(false);
    await eventually(() => server.openCount() === 0, 5000, "server sees the sockets close");
    const dials = server.dials.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(server.dials.length).toBe(dials);
  });

  it("during a reconnect wait, cancels the wait (no later dial)", async () => {
    const h = client({ backoff: { minDelayMs: 400, maxDelayMs: 400 }, random: () => 0.99 });
    await eventually(() => h.status === "open");
    server.dropAll();
    await eventually(() => h.status === "connecting");
    h.close();
    await new Promise((r) => setTimeout(r, 600));
    expect(server.dials.length).toBe(1);
  });
});
