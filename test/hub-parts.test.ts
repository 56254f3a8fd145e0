import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ResyncRequiredFrame } from "../src/protocol";
import { AlarmClock } from "../src/realtime/alarms";
import { ConnectBudget } from "../src/realtime/connect-budget";
import { Counters } from "../src/realtime/counters";
import { EventLog, type ReplayWindow } from "../src/realtime/event-log";
import { FrameLimiter } from "../src/realtime/frame-limiter";
import type { HubEvent } from "../src/realtime/hub-api";
import { MetaTable } from "../src/realtime/meta";
import { PresenceTable } from "../src/realtime/presence";
import { SocketIndex, type Attachment } from "../src/realtime/socket-index";
import { StatsFeed } from "../src/realtime/stats-feed";
import { SubscriptionIndex } from "../src/realtime/subscriptions";
import { closeQuietly, isHarmlessTeardownError, reciprocateClose } from "../src/realtime/teardown";

// The parts of the hubs, each on its own. Parts that keep SQLite tables run
// inside a fresh Durable Object (a unique name per test) on its storage.

/** Runs `fn` with the SQLite storage of a Durable Object no other test uses. */
function withStorage<T>(fn: (state: DurableObjectState) => T | Promise<T>): Promise<T> {
  return runInDurableObject(env.USER_HUB.getByName(`parts/${crypto.randomUUID()}`), (_instance, state) => fn(state));
}

const event = (id: string, extra: Partial<HubEvent> = {}): HubEvent => ({ id, type: "note:added", ts: Date.now(), data: { id }, ...extra });

describe("EventLog", () => {
  const window: ReplayWindow = { retentionSeconds: 3600, maxEvents: 1000 };

  it("appends with seq = head + 1, refuses a duplicate id, and keeps its head across a restart", async () => {
    await withStorage((state) => {
      const meta = new MetaTable(state.storage.sql);
      const log = new EventLog(state.storage.sql, meta, "user", () => window);
      expect(log.head()).toBe(0);
      expect(log.append(event("e1"))).toMatchObject({ seq: 1, duplicate: false });
      expect(log.append(event("e2"))).toMatchObject({ seq: 2, duplicate: false });
      const again = log.append(event("e1"));
      expect(again).toMatchObject({ seq: 1, duplicate: true });
      expect(JSON.parse(again.frame)).toMatchObject({ type: "note:added", id: "e1", stream: "user", seq: 1, data: { id: "e1" } });
      // A new instance (the hub woke up) reads the same head.
      const reopened = new EventLog(state.storage.sql, new MetaTable(state.storage.sql), "user", () => window);
      expect(reopened.head()).toBe(2);
      expect(reopened.append(event("e3")).seq).toBe(3);
    });
  });

  it("replays what came after `since`, in order, only the channels asked for", async () => {
    await withStorage((state) => {
      const log = new EventLog(state.storage.sql, new MetaTable(state.storage.sql), "org", () => window, { indexChannels: true });
      log.append(event("a", { channel: "kpi" }));
      log.append(event("b", { channel: "backlog" }));
      log.append(event("c", { channel: "kpi", scope: { dept: "sales" } }));
      log.append(event("d", { channel: "kpi" }));
      const sent: string[] = [];
      const result = log.replay((f) => sent.push(JSON.parse(f).id), 1, () => true, ["kpi"]);
      expect(result).toEqual({ resumed: true, replayed: 2 });
      expect(sent).toEqual(["c", "d"]);

      const filtered: string[] = [];
      log.replay((f) => filtered.push(JSON.parse(f).id), 0, (row) => row.dept === null, ["kpi", "backlog"]);
      expect(filtered).toEqual(["a", "b", "d"]);
      // No channels: nothing to read, nothing missed.
      expect(log.replay(() => {}, 0, () => true, [])).toEqual({ resumed: true, replayed: 0 });
    });
  });

  it("answers resync-required instead of a partial replay: `since` ahead of the head, or events gone", async () => {
    await withStorage((state) => {
      let w: ReplayWindow = { retentionSeconds: 3600, maxEvents: 3 };
      const log = new EventLog(state.storage.sql, new MetaTable(state.storage.sql), "user", () => w);
      for (let i = 1; i <= 5; i++) log.append(event(`e${i}`));
      const frames: ResyncRequiredFrame[] = [];
      const send = (f: string) => frames.push(JSON.parse(f));

      expect(log.replay(send, 9, () => true)).toEqual({ resumed: false, replayed: 0 });
      expect(frames.pop()).toEqual({ type: "resync-required", reason: "ahead", seq: 5, oldestSeq: 3 });
      // Only the last 3 are replayable: since=1 misses seq 2.
      expect(log.replay(send, 1, () => true)).toEqual({ resumed: false, replayed: 0 });
      expect(frames.pop()).toEqual({ type: "resync-required", reason: "expired", seq: 5, oldestSeq: 3 });
      expect(log.replay(send, 2, () => true)).toEqual({ resumed: true, replayed: 3 });

      // Older than the time window: gone too.
      w = { retentionSeconds: 60, maxEvents: 1000 };
      state.storage.sql.exec("UPDATE log SET ts = ? WHERE seq <= 4", Date.now() - 120_000);
      expect(log.oldestReplayable()).toBe(5);
      expect(log.replay(send, 3, () => true).resumed).toBe(false);
      expect(frames.pop()).toMatchObject({ reason: "expired", oldestSeq: 5 });
    });
  });

  it("prunes events outside the window and says when it next needs to", async () => {
    await withStorage((state) => {
      const log = new EventLog(state.storage.sql, new MetaTable(state.storage.sql), "user", () => ({ retentionSeconds: 60, maxEvents: 1000 }));
      expect(log.nextPruneAt()).toBeUndefined();
      for (let i = 1; i <= 3; i++) log.append(event(`e${i}`));
      const old = Date.now() - 120_000;
      state.storage.sql.exec("UPDATE log SET ts = ? WHERE seq = 1", old);
      expect(log.nextPruneAt()).toBe(old + 60_000);
      log.prune();
      const left = state.storage.sql.exec<{ seq: number }>("SELECT seq FROM log ORDER BY seq").toArray();
      expect(left.map((r) => r.seq)).toEqual([2, 3]);
      // The head survives pruning.
      expect(log.head()).toBe(3);
    });
  });
});

describe("FrameLimiter", () => {
  const limits = { ratePerSecond: 10, burst: 5, abuseLimit: 8 };

  it("lets a burst through, then drops with one warning a second, then closes an abuser", () => {
    const limiter = new FrameLimiter(() => limits);
    const t = 1_000_000;
    for (let i = 0; i < 5; i++) expect(limiter.take("c1", t)).toBe("allow");
    expect(limiter.take("c1", t)).toBe("warn");
    for (let i = 0; i < 7; i++) expect(limiter.take("c1", t)).toBe("drop");
    expect(limiter.take("c1", t)).toBe("abuse");
    // Another connection has its own bucket.
    expect(limiter.take("c2", t)).toBe("allow");
  });

  it("refills at the configured rate, and forgets a connection that left", () => {
    const limiter = new FrameLimiter(() => limits);
    const t = 1_000_000;
    for (let i = 0; i < 5; i++) limiter.take("c1", t);
    expect(limiter.take("c1", t)).toBe("warn");
    // 10 frames a second: one token after 100 ms.
    expect(limiter.take("c1", t + 100)).toBe("allow");
    expect(limiter.take("c1", t + 100)).toBe("drop");
    expect(limiter.take("c1", t + 1_200)).toBe("allow");
    limiter.forget("c1");
    for (let i = 0; i < 5; i++) expect(limiter.take("c1", t + 1_200)).toBe("allow");
  });
});

describe("ConnectBudget", () => {
  it("lets MAX_CONNECTS_PER_MINUTE connects through at once, then refuses with the seconds until the next, per user", () => {
    const budget = new ConnectBudget(() => 6);
    const t = 1_000_000;
    for (let i = 0; i < 6; i++) expect(budget.take("u1", t)).toBeUndefined();
    // 6 a minute: one every 10 s.
    expect(budget.take("u1", t)).toBe(10);
    expect(budget.take("u1", t + 4_000)).toBe(6);
    expect(budget.take("u2", t)).toBeUndefined();
    expect(budget.take("u1", t + 10_000)).toBeUndefined();
    expect(budget.take("u1", t + 10_000)).toBe(10);
  });

  it("never holds more than a minute's budget, and reads the limit at each use", () => {
    let limit = 2;
    const budget = new ConnectBudget(() => limit);
    const t = 1_000_000;
    expect(budget.take("u1", t)).toBeUndefined();
    // An hour idle refills two connects, not a hundred and twenty.
    expect(budget.take("u1", t + 3_600_000)).toBeUndefined();
    expect(budget.take("u1", t + 3_600_000)).toBeUndefined();
    expect(budget.take("u1", t + 3_600_000)).toBe(30);
    limit = 120;
    expect(budget.take("u1", t + 3_600_500)).toBeUndefined();
  });
});

/** A stand-in for a hibernatable server socket: readyState and an attachment. */
function fakeSocket(att: Attachment | null, readyState = 1): WebSocket {
  let stored: unknown = att;
  return {
    readyState,
    serializeAttachment: (v: unknown) => void (stored = v),
    deserializeAttachment: () => stored,
  } as unknown as WebSocket;
}

const att = (cid: string, uid: string): Attachment => ({ cid, uid, org: "o", role: "agent", stream: "org", at: 0, exp: Date.now() + 60_000, la: 0 });

describe("SocketIndex", () => {
  it("is rebuilt from the platform's sockets after a wake-up: open ones of this hub only", () => {
    const sockets = [fakeSocket(att("c1", "u1")), fakeSocket(att("c2", "u1")), fakeSocket(att("c3", "u2"), 3), fakeSocket(null)];
    const index = new SocketIndex(() => sockets);
    expect(index.size).toBe(2);
    expect(index.open().map((s) => s.att.cid)).toEqual(["c1", "c2"]);
    expect(index.userCount("u1")).toBe(2);
    expect(index.userCount("u1", "c1")).toBe(1);
    expect(index.get("c3")).toBeUndefined();
    expect(index.attachment(sockets[3]!)).toBeUndefined();
  });

  it("counts an accepted socket at once and releases a connection exactly once", () => {
    const sockets: WebSocket[] = [];
    const index = new SocketIndex(() => sockets);
    const ws = fakeSocket(null);
    sockets.push(ws);
    index.add(ws, att("c9", "u9"));
    expect(index.userCount("u9")).toBe(1);
    expect(index.release("c9")).toBe(true);
    expect(index.release("c9")).toBe(false);
    expect(index.userCount("u9")).toBe(0);
    expect(index.size).toBe(0);
  });
});

describe("SubscriptionIndex", () => {
  it("indexes subscribers by channel with their scopes, and matches events by scope", async () => {
    await withStorage((state) => {
      const subs = new SubscriptionIndex(state.storage.sql, () => ["c1", "c2"]);
      subs.add("c1", [{ channel: "kpi", scope: { dept: "sales" } }, { channel: "alerts", scope: {} }]);
      subs.add("c2", [{ channel: "kpi", scope: {} }]);
      expect([...(subs.subscribers("kpi") ?? new Map())]).toEqual([
        ["c1", [{ dept: "sales" }]],
        ["c2", [{}]],
      ]);
      expect(subs.matches("c1", "kpi", { dept: "sales", queue: "inbound" })).toBe(true);
      expect(subs.matches("c1", "kpi", { dept: "ops" })).toBe(false);
      expect(subs.matches("c2", "kpi", { dept: "ops" })).toBe(true);
      expect(subs.channelsOf("c1").sort()).toEqual(["alerts", "kpi"]);
      subs.remove("c1", [{ channel: "kpi", scope: { dept: "sales" } }]);
      expect([...(subs.subscribers("kpi")?.keys() ?? [])]).toEqual(["c2"]);
    });
  });

  it("after a wake-up rebuilds the same index from its table, dropping connections no longer open", async () => {
    await withStorage((state) => {
      const before = new SubscriptionIndex(state.storage.sql, () => ["c1", "c2"]);
      before.add("c1", [{ channel: "kpi", scope: {} }]);
      before.add("c2", [{ channel: "kpi", scope: { dept: "ops" } }, { channel: "stats", scope: {} }]);

      // c1 vanished without a close (a crash): its rows go.
      const after = new SubscriptionIndex(state.storage.sql, () => ["c2"]);
      expect([...(after.subscribers("kpi") ?? new Map())]).toEqual([["c2", [{ dept: "ops" }]]]);
      expect(after.of("c2")).toEqual([
        { channel: "kpi", scope: { dept: "ops" } },
        { channel: "stats", scope: {} },
      ]);
      expect(state.storage.sql.exec("SELECT DISTINCT cid FROM subs").toArray()).toEqual([{ cid: "c2" }]);
      after.drop("c2");
      expect(after.subscribers("stats")).toBeUndefined();
      expect(state.storage.sql.exec("SELECT * FROM subs").toArray()).toEqual([]);
    });
  });

  it("counts subscribers per channel and scope over the given connections", async () => {
    await withStorage((state) => {
      const subs = new SubscriptionIndex(state.storage.sql, () => ["a", "b", "c"]);
      subs.add("a", [{ channel: "kpi", scope: {} }]);
      subs.add("b", [{ channel: "kpi", scope: {} }, { channel: "backlog", scope: { dept: "ops" } }]);
      subs.add("c", [{ channel: "kpi", scope: {} }]);
      expect(subs.countsFor(["a", "b"])).toEqual([
        { channel: "backlog", scope: { dept: "ops" }, subscribers: 1 },
        { channel: "kpi", scope: {}, subscribers: 2 },
      ]);
    });
  });
});

describe("PresenceTable", () => {
  it("keeps each user's reported count and their sum, also after a wake-up", async () => {
    await withStorage((state) => {
      const presence = new PresenceTable(state.storage.sql);
      presence.touch("u1", 2, 10);
      presence.touch("u2", 3, 10);
      expect(presence.total()).toBe(5);
      presence.touch("u1", 0, 11);
      expect(presence.total()).toBe(3);
      expect(presence.userConns("u1")).toBe(0);
      expect(presence.version("u1")).toBe(11);
      // A touch without a version never lowers the recorded one.
      presence.touch("u1", 1);
      expect(presence.version("u1")).toBe(11);

      const reopened = new PresenceTable(state.storage.sql);
      expect(reopened.total()).toBe(4);
      expect(reopened.userConns("u2")).toBe(3);
      expect(reopened.userConns("nobody")).toBe(0);
      expect(reopened.rows().map((r) => [r.user_id, r.user_conns])).toEqual([
        ["u1", 1],
        ["u2", 3],
      ]);
      expect(reopened.rows("nobody")).toEqual([]);
      expect(reopened.connectedUsers(10).sort()).toEqual(["u1", "u2"]);
    });
  });
});

describe("Counters", () => {
  it("counts publishes, frames sent and latency per type; an event id counts once", async () => {
    await withStorage((state) => {
      const counters = new Counters(state.storage.sql, new MetaTable(state.storage.sql), () => 3_600_000);
      expect(counters.summary()).toMatchObject({ messages: [], latency: { avgMs: null, maxMs: null } });
      expect(counters.markCounted("e1")).toBe(true);
      counters.count("alert:new", 3, 10);
      expect(counters.markCounted("e1")).toBe(false);
      expect(counters.markCounted("e2")).toBe(true);
      counters.count("alert:new", 1, 30);
      counters.count("deal:won", 0, 5);
      const summary = counters.summary();
      expect(summary.messages).toEqual([
        { type: "alert:new", publishes: 2, sent: 4, avgLatencyMs: 20, maxLatencyMs: 30 },
        { type: "deal:won", publishes: 1, sent: 0, avgLatencyMs: 5, maxLatencyMs: 5 },
      ]);
      expect(summary.latency).toEqual({ avgMs: 15, maxMs: 30 });
      // Counting started once, and stays put.
      expect(new Counters(state.storage.sql, new MetaTable(state.storage.sql), () => 0).since()).toBe(counters.since());
    });
  });
});

describe("Counters pruning", () => {
  it("forgets counted ids older than the window on prune(), so a re-delivery after the window counts again", async () => {
    await withStorage((state) => {
      const counters = new Counters(state.storage.sql, new MetaTable(state.storage.sql), () => 1_000);
      expect(counters.markCounted("old")).toBe(true);
      counters.prune(Date.now() + 5_000);
      expect(counters.markCounted("old")).toBe(true);
      counters.prune(Date.now());
      expect(counters.markCounted("old")).toBe(false);
    });
  });
});

describe("StatsFeed", () => {
  it("costs nothing while nobody watches, then ticks at most once per coalescing interval", async () => {
    await withStorage((state) => {
      const meta = new MetaTable(state.storage.sql);
      let watched = false;
      const armed: number[] = [];
      const feed = new StatsFeed(meta, () => watched, () => 1_000, (at) => armed.push(at));
      feed.dirty();
      expect(feed.nextTickAt()).toBeUndefined();
      expect(armed).toEqual([]);

      watched = true;
      const t0 = Date.now();
      feed.dirty();
      const due = feed.nextTickAt()!;
      expect(due).toBeGreaterThanOrEqual(t0);
      expect(armed).toEqual([due]);
      // A second change while a tick is pending adds nothing.
      feed.dirty();
      expect(armed).toHaveLength(1);
      expect(feed.takeTick(due - 1)).toBe(false);
      expect(feed.takeTick(due)).toBe(true);
      expect(feed.nextTickAt()).toBeUndefined();
      // The next change waits for the interval after the last tick.
      feed.dirty();
      expect(feed.nextTickAt()!).toBeGreaterThanOrEqual(Number(meta.get("stats_last")) + 1_000);
      // The watcher left before the tick: dropped.
      watched = false;
      expect(feed.takeTick(Date.now() + 5_000)).toBe(false);
      expect(feed.nextTickAt()).toBeUndefined();
    });
  });
});

describe("AlarmClock", () => {
  it("arms for the earliest work only", async () => {
    await withStorage(async (state) => {
      const clock = new AlarmClock(state);
      const t = Date.now() + 3_600_000;
      clock.arm(t);
      clock.arm(t + 1_000);
      expect(await state.storage.getAlarm()).toBe(t);
      clock.armEarliest([undefined, t - 1_000, t + 5_000]);
      expect(await state.storage.getAlarm()).toBe(t - 1_000);
      clock.fired();
      clock.arm(t + 2_000);
      expect(await state.storage.getAlarm()).toBe(t + 2_000);
      await state.storage.deleteAlarm();
    });
  });
});

describe("teardown", () => {
  const lost = Object.assign(new Error("Network connection lost."), { retryable: true });

  it("a transport error on a socket already closing is harmless; on an open socket it is not", () => {
    expect(isHarmlessTeardownError({ readyState: 2 }, lost)).toBe(true);
    expect(isHarmlessTeardownError({ readyState: 3 }, new Error("WebSocket peer disconnected"))).toBe(true);
    expect(isHarmlessTeardownError({ readyState: 1 }, lost)).toBe(false);
    expect(isHarmlessTeardownError({ readyState: 3 }, new Error("boom"))).toBe(false);
    expect(isHarmlessTeardownError({ readyState: 3 }, "Network connection lost")).toBe(false);
  });

  it("closes quietly, and never echoes a reserved close code", () => {
    const calls: number[] = [];
    const ws = {
      close: (code: number) => {
        calls.push(code);
        throw new TypeError("already closed");
      },
    } as unknown as WebSocket;
    expect(() => closeQuietly(ws, 1000, "bye")).not.toThrow();
    reciprocateClose(ws, 1006, "");
    reciprocateClose(ws, 1005, "");
    reciprocateClose(ws, 4001, "token expired");
    expect(calls).toEqual([1000, 4001]);
  });
});

describe("hub refusals", () => {
  it("an upgrade the hub refuses is answered as the client sees it: 101, closed at once with 4000 + status, the request id kept", async () => {
    const stub = env.USER_HUB.getByName(`parts/${crypto.randomUUID()}`);
    const res = await stub.fetch(new Request("https://hub.internal/connect", { headers: { Upgrade: "websocket", "X-Request-Id": "req-hub-1" } }));
    expect(res.status).toBe(101);
    expect(res.headers.get("X-Request-Id")).toBe("req-hub-1");
    const ws = res.webSocket!;
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })));
    ws.accept();
    const { code, reason } = await closed;
    expect(code).toBe(4400);
    expect(JSON.parse(reason)).toEqual({ code: "VALIDATION_FAILED", message: "Missing identity" });
  });

  it("anything but an upgrade gets the error's JSON response", async () => {
    const res = await env.ORG_HUB.getByName(`parts/${crypto.randomUUID()}`).fetch(new Request("https://hub.internal/connect"));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "NOT_FOUND", message: "No such hub route" } });
  });
});
