import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { newId } from "../src/lib/ids";
import { eventStatements, type OutboundEvent } from "../src/outbox";
import { HERALD_EVENT_NAMES, type EventFrame, type ServerFrame } from "../src/protocol";
import { alertBody, call, makeToken, setupOrg } from "./helpers";
import { orgD1, orgDb } from "./shard-helpers";
import { connect, isType, type TestSocket } from "./ws-helpers";

const BROADCAST = "/api/v1/realtime/broadcast";
const RT = "/api/v1/realtime";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Re-evaluates `read` until `ok` holds (state settles asynchronously, e.g. after a socket close). */
async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 4000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`condition not reached; last value: ${JSON.stringify(last).slice(0, 2000)}`);
    await sleep(25);
    last = await read();
  }
  return last;
}

const eventsOf = (s: TestSocket, type: string) => s.events(type) as EventFrame[];

/**
 * Publishes a sentinel to `userId` and waits for it on `socket`. A user hub
 * sends its stream in seq order, so once the sentinel arrived anything sent
 * before it has arrived too: counts taken afterwards are final.
 */
async function sentinel(token: string, userId: string, socket: TestSocket, tag = "test:sentinel"): Promise<EventFrame> {
  const res = await call("POST", BROADCAST, { token, body: { event: tag, target: { userIds: [userId] } } });
  expect(res.status, res.text).toBe(201);
  return socket.waitFor<EventFrame>((f) => f.type === tag && (f as EventFrame).id === res.json.id);
}

/** Same idea on the org stream: a channel sentinel the socket is subscribed to. */
async function channelSentinel(token: string, channel: string, socket: TestSocket): Promise<EventFrame> {
  const res = await call("POST", BROADCAST, { token, body: { event: "test:sentinel", target: { channel } } });
  expect(res.status, res.text).toBe(201);
  return socket.waitFor<EventFrame>((f) => f.type === "test:sentinel" && (f as EventFrame).id === res.json.id);
}

async function subscribe(socket: TestSocket, ref: string, channels: string[], scope?: { dept?: string; queue?: string }) {
  socket.send({ type: "subscribe", ref, channels, ...(scope && { scope }) });
  const ack = await socket.waitFor((f) => (f.type === "ack" || f.type === "error") && (f as { ref?: string }).ref === ref);
  expect(ack.type, JSON.stringify(ack)).toBe("ack");
  return ack;
}

interface EventRow {
  id: string;
  type: string;
  source: string | null;
  created_at: number;
  expires_at: number;
  published_at: number | null;
}

async function eventRows(org: string): Promise<EventRow[]> {
  const { results } = await (await orgD1(org)).prepare("SELECT * FROM realtime_events WHERE org_id = ? ORDER BY created_at, id").bind(org).all<EventRow>();
  return results;
}

async function eventRow(org: string, id: string): Promise<EventRow | null> {
  return (await orgD1(org)).prepare("SELECT * FROM realtime_events WHERE id = ?").bind(id).first<EventRow>();
}

/**
 * Makes the next `USER_HUB.getByName(...)` return a hub whose every call rejects,
 * as when a Durable Object is unreachable. The worker under test shares this
 * `env` (its namespace objects) with the test, so the spy reaches
 * src/outbox/hubs.ts `userHub()`. Every later call goes to the real hub.
 */
function failNextUserHubPublish() {
  const real = env.USER_HUB.getByName.bind(env.USER_HUB);
  let armed = true;
  const failed: string[] = [];
  const spy = vi.spyOn(env.USER_HUB, "getByName").mockImplementation(((name: string) => {
    if (!armed) return real(name);
    armed = false;
    failed.push(name);
    const unreachable = () => Promise.reject(new Error("test: user hub unreachable"));
    return { publish: unreachable, publishMany: unreachable, refreshUnread: unreachable } as unknown as ReturnType<typeof real>;
  }) as typeof env.USER_HUB.getByName);
  return { spy, failed, get armed() { return armed; } };
}

async function runCron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

const openSockets: TestSocket[] = [];
async function open(path: string, token: string, query?: Record<string, string>) {
  const s = await connect(path, { token, query });
  openSockets.push(s);
  return s;
}

afterEach(() => {
  vi.restoreAllMocks();
  for (const s of openSockets.splice(0)) s.close();
});

// ───────────────────────────── broadcast ─────────────────────────────

describe("POST /api/v1/realtime/broadcast", () => {
  it("publishes to a user's devices and a channel, and reports reached, userSeqs and orgSeq", async () => {
    const { tokens } = await setupOrg();
    const d1 = await open("/api/v1/ws", tokens.agent);
    const d2 = await open("/api/v1/ws", tokens.agent);
    const board = await open("/api/v1/ws/org", tokens.admin);
    await subscribe(board, "s", ["kpi"]);

    const res = await call("POST", BROADCAST, {
      token: tokens.admin,
      body: { event: "deal:won", data: { amount: 1200 }, target: { userIds: ["agent1"], channel: "kpi" } },
    });
    expect(res.status, res.text).toBe(201);
    expect(Object.keys(res.json).sort()).toEqual(["event", "id", "orgSeq", "reached", "userSeqs"]);
    expect(res.json.event).toBe("deal:won");
    expect(res.json.id).toMatch(/^evt_[0-9A-Z]{26}$/);
    expect(res.json.reached).toBe(3);
    expect(res.json.userSeqs).toEqual({ agent1: 1 });
    expect(typeof res.json.orgSeq).toBe("number");

    for (const s of [d1, d2]) {
      const f = await s.waitFor<EventFrame>(isType("deal:won"));
      expect(f).toMatchObject({ id: res.json.id, stream: "user", seq: 1, data: { amount: 1200 } });
    }
    const o = await board.waitFor<EventFrame>(isType("deal:won"));
    expect(o).toMatchObject({ id: res.json.id, stream: "org", seq: res.json.orgSeq, channel: "kpi", scope: {}, data: { amount: 1200 } });
  });

  it("is allowed to services; a user-only broadcast has orgSeq null and a channel-only one has empty userSeqs", async () => {
    const { tokens } = await setupOrg();
    const userOnly = await call("POST", BROADCAST, { token: tokens.service, body: { event: "note:new", target: { userIds: ["member1", "agent2"] } } });
    expect(userOnly.status, userOnly.text).toBe(201);
    expect(userOnly.json).toMatchObject({ reached: 0, userSeqs: { member1: 1, agent2: 1 }, orgSeq: null });
    const channelOnly = await call("POST", BROADCAST, { token: tokens.service, body: { event: "kpi:tick", target: { channel: "kpi", scope: { dept: "sales" } } } });
    expect(channelOnly.status, channelOnly.text).toBe(201);
    expect(channelOnly.json.userSeqs).toEqual({});
    expect(typeof channelOnly.json.orgSeq).toBe("number");
  });

  describe("validation", () => {
    const invalid: [string, unknown][] = [
      ["an event name with uppercase", { event: "Deal:won", target: { userIds: ["agent1"] } }],
      ["an event name with spaces", { event: "deal won", target: { userIds: ["agent1"] } }],
      ["an event name of 65 characters", { event: "a".repeat(65), target: { userIds: ["agent1"] } }],
      ...["connected", "error", "ack", "pong", "subscribe", "ping"].map(
        (name) => [`the reserved name ${name}`, { event: name, target: { userIds: ["agent1"] } }] as [string, unknown],
      ),
      ["no target", { event: "deal:won" }],
      ["an empty target", { event: "deal:won", target: {} }],
      ["a scope without a channel", { event: "deal:won", target: { userIds: ["agent1"], scope: { dept: "sales" } } }],
      ["a queue without its dept", { event: "deal:won", target: { channel: "kpi", scope: { queue: "inbound" } } }],
      ["duplicate userIds", { event: "deal:won", target: { userIds: ["agent1", "agent1"] } }],
      ["an unknown top-level field", { event: "deal:won", target: { userIds: ["agent1"] }, extra: 1 }],
      ["an unknown target field", { event: "deal:won", target: { userIds: ["agent1"], everyone: true } }],
      ["an empty userIds", { event: "deal:won", target: { userIds: [] } }],
    ];
    it.each(invalid)("refuses %s with 400 VALIDATION_FAILED", async (_name, body) => {
      const { org, tokens } = await setupOrg();
      const res = await call("POST", BROADCAST, { token: tokens.admin, body });
      expect(res.status, res.text).toBe(400);
      expect(res.json.error.code).toBe("VALIDATION_FAILED");
      expect(await eventRows(org)).toEqual([]);
    });

    it("refuses every name Herald publishes itself, and any name in its namespaces, with 400 VALIDATION_FAILED; nothing reaches a device or the org feed", async () => {
      const { org, tokens } = await setupOrg();
      const device = await open("/api/v1/ws", tokens.agent);
      const board = await open("/api/v1/ws/org", tokens.admin);
      await subscribe(board, "s", ["alerts", "stats", "presence", "kpi"]);
      const own = [
        "alert:new", "alert:updated", "alert:assigned", "alert:converted",
        "notification:new", "notification:read", "notification:unread", "notification:seen", "notification:archived", "notification:deleted",
        "unread:count", "presence:online", "presence:offline", "stats:updated",
      ];
      const prefixed = ["alert", "alert:deleted", "alert:new:extra", "notification:spoof", "unread:badge", "presence:away", "stats:kpi", "mark:done"];
      for (const event of [...new Set([...own, ...HERALD_EVENT_NAMES, ...prefixed])]) {
        const res = await call("POST", BROADCAST, {
          token: tokens.service,
          body: { event, data: { forged: true, count: 99 }, target: { userIds: ["agent1"], channel: "alerts" } },
        });
        expect(res.status, `${event}: ${res.text}`).toBe(400);
        expect(res.json.error.code, event).toBe("VALIDATION_FAILED");
        expect(res.json.error.details.issues.map((i: { path: string }) => i.path), event).toEqual(["event"]);
      }
      expect(await eventRows(org)).toEqual([]);

      // Names that merely look alike are the producers' own (control), and arrive.
      for (const event of ["deal:won", "alerts:digest", "alertness", "kpi:stats"]) {
        const res = await call("POST", BROADCAST, { token: tokens.service, body: { event, data: { ok: true }, target: { userIds: ["agent1"], channel: "kpi" } } });
        expect(res.status, `${event}: ${res.text}`).toBe(201);
        await device.waitFor(isType(event));
        await board.waitFor(isType(event));
      }
      await sentinel(tokens.admin, "agent1", device);
      await channelSentinel(tokens.admin, "kpi", board);
      const forged = (f: ServerFrame) => (f as EventFrame<{ forged?: boolean }>).data?.forged === true;
      expect(device.frames.filter(forged)).toEqual([]);
      expect(board.frames.filter(forged)).toEqual([]);
    });

    it("accepts a 64-character event name (control)", async () => {
      const { tokens } = await setupOrg();
      const res = await call("POST", BROADCAST, { token: tokens.admin, body: { event: "a".repeat(64), target: { userIds: ["agent1"] } } });
      expect(res.status, res.text).toBe(201);
    });

    it("refuses data over 64 KiB with 413 DATA_TOO_LARGE and accepts data just under it", async () => {
      const { org, tokens } = await setupOrg();
      const big = await call("POST", BROADCAST, {
        token: tokens.admin,
        body: { event: "blob:big", data: { s: "x".repeat(65_536) }, target: { userIds: ["agent1"] } },
      });
      expect(big.status, big.text.slice(0, 300)).toBe(413);
      expect(big.json.error.code).toBe("DATA_TOO_LARGE");
      expect(await eventRows(org)).toEqual([]);
      const ok = await call("POST", BROADCAST, {
        token: tokens.admin,
        body: { event: "blob:ok", data: { s: "x".repeat(65_000) }, target: { userIds: ["agent1"] } },
      });
      expect(ok.status, ok.text.slice(0, 300)).toBe(201);
    });

    it("refuses agents and members with 403 FORBIDDEN", async () => {
      const { org, tokens } = await setupOrg();
      for (const token of [tokens.agent, tokens.member]) {
        const res = await call("POST", BROADCAST, { token, body: { event: "deal:won", target: { userIds: ["agent1"] } } });
        expect(res.status, res.text).toBe(403);
        expect(res.json.error.code).toBe("FORBIDDEN");
      }
      expect(await eventRows(org)).toEqual([]);
    });

    it("refuses more than MAX_BROADCAST_USERS (500) userIds with 400 VALIDATION_FAILED; 500 are accepted", async () => {
      const { org, tokens } = await setupOrg();
      const ids = (n: number) => Array.from({ length: n }, (_, i) => `u${i}`);
      const res = await call("POST", BROADCAST, { token: tokens.admin, body: { event: "mass:notice", target: { userIds: ids(501) } } });
      expect(res.status, res.text.slice(0, 300)).toBe(400);
      expect(res.json.error.code).toBe("VALIDATION_FAILED");
      expect(await eventRows(org)).toEqual([]);
      const ok = await call("POST", BROADCAST, { token: tokens.admin, body: { event: "mass:notice", target: { userIds: ids(500) } } });
      expect(ok.status, ok.text.slice(0, 300)).toBe(201);
      expect(Object.keys(ok.json.userSeqs)).toHaveLength(500);
    }, 30_000);
  });

  describe("Idempotency-Key", () => {
    it("replays a retry (same id, Idempotent-Replayed) and the user receives the event exactly once", async () => {
      const { org, tokens } = await setupOrg();
      const device = await open("/api/v1/ws", tokens.agent);
      const body = { event: "deal:won", data: { n: 1 }, target: { userIds: ["agent1"] } };
      const headers = { "Idempotency-Key": "bcast-1" };

      const first = await call("POST", BROADCAST, { token: tokens.admin, body, headers });
      expect(first.status, first.text).toBe(201);
      expect(first.headers.get("Idempotent-Replayed")).toBeNull();
      expect(first.json.reached).toBe(1);
      const again = await call("POST", BROADCAST, { token: tokens.admin, body, headers });
      expect(again.status, again.text).toBe(201);
      expect(again.headers.get("Idempotent-Replayed")).toBe("true");
      expect(again.json.id).toBe(first.json.id);

      const last = await sentinel(tokens.admin, "agent1", device);
      expect(last.seq).toBe(2);
      const got = eventsOf(device, "deal:won");
      expect(got).toHaveLength(1);
      expect(got[0]).toMatchObject({ id: first.json.id, seq: 1 });
      expect((await eventRows(org)).filter((r) => r.type === "deal:won")).toHaveLength(1);
    });

    it("refuses the same key with another body: 422 IDEMPOTENCY_KEY_REUSED, nothing published", async () => {
      const { org, tokens } = await setupOrg();
      const headers = { "Idempotency-Key": "bcast-2" };
      const first = await call("POST", BROADCAST, { token: tokens.admin, headers, body: { event: "deal:won", target: { userIds: ["agent1"] } } });
      expect(first.status).toBe(201);
      const other = await call("POST", BROADCAST, { token: tokens.admin, headers, body: { event: "deal:lost", target: { userIds: ["agent1"] } } });
      expect(other.status, other.text).toBe(422);
      expect(other.json.error.code).toBe("IDEMPOTENCY_KEY_REUSED");
      expect((await eventRows(org)).map((r) => r.type)).toEqual(["deal:won"]);
    });
  });

  describe("durable before visible: a failed delivery answers 503, a retry completes it", () => {
    it("broadcast: 503 REALTIME_UNAVAILABLE + Retry-After, row kept unpublished; retry → 201 replayed, delivered once", async () => {
      const { org, tokens } = await setupOrg();
      const device = await open("/api/v1/ws", tokens.agent);
      const body = { event: "deal:won", data: { n: 7 }, target: { userIds: ["agent1"] } };
      const headers = { "Idempotency-Key": "flaky-1" };

      const hub = failNextUserHubPublish();
      const failed = await call("POST", BROADCAST, { token: tokens.admin, body, headers });
      expect(hub.failed).toEqual([`${org}/agent1`]);
      expect(failed.status, failed.text).toBe(503);
      expect(failed.json.error.code).toBe("REALTIME_UNAVAILABLE");
      const retryAfter = failed.headers.get("Retry-After");
      expect(retryAfter).toMatch(/^[1-9][0-9]*$/);

      // Durable: the event is in D1, not yet published, and no hub appended it.
      // (presence:online rows of the org hub live in the same table.)
      const rows = (await eventRows(org)).filter((r) => r.type === "deal:won");
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ type: "deal:won", published_at: null });
      const eventId = rows[0]!.id;
      expect(failed.json.error.details?.eventIds).toEqual([eventId]);
      expect(await env.USER_HUB.getByName(`${org}/agent1`).headSeq()).toBe(0);
      expect(eventsOf(device, "deal:won")).toHaveLength(0);

      const retry = await call("POST", BROADCAST, { token: tokens.admin, body, headers });
      expect(retry.status, retry.text).toBe(201);
      expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
      expect(retry.json.id).toBe(eventId);

      const f = await device.waitFor<EventFrame>(isType("deal:won"));
      expect(f).toMatchObject({ id: eventId, seq: 1, data: { n: 7 } });
      expect((await eventRow(org, eventId))!.published_at).toEqual(expect.any(Number));

      // A second retry changes nothing; the sentinel proves nothing else is in flight.
      const retry2 = await call("POST", BROADCAST, { token: tokens.admin, body, headers });
      expect(retry2.status).toBe(201);
      const last = await sentinel(tokens.admin, "agent1", device);
      expect(last.seq).toBe(2);
      expect(eventsOf(device, "deal:won")).toHaveLength(1);
      expect(hub.spy).toHaveBeenCalled();
    });

    it("alerts: 503 on a failed delivery; retry → 201 same alert, one alert row, alert:new delivered once", async () => {
      const { org, tokens } = await setupOrg();
      const device = await open("/api/v1/ws", tokens.agent);
      const feed = await open("/api/v1/ws/org", tokens.admin);
      const headers = { "Idempotency-Key": "alert-flaky-1" };
      const body = alertBody({ assigneeId: "agent1" });

      const hub = failNextUserHubPublish();
      const failed = await call("POST", "/api/v1/alerts", { token: tokens.service, body, headers });
      expect(hub.failed).toEqual([`${org}/agent1`]);
      expect(failed.status, failed.text).toBe(503);
      expect(failed.json.error.code).toBe("REALTIME_UNAVAILABLE");
      expect(failed.headers.get("Retry-After")).toMatch(/^[1-9][0-9]*$/);

      const alertRows = async () =>
        (await (await orgD1(org)).prepare("SELECT id FROM alerts WHERE org_id = ?").bind(org).all<{ id: string }>()).results;
      expect(await alertRows()).toHaveLength(1);
      const pending = (await eventRows(org)).filter((r) => r.type === "alert:new");
      expect(pending).toHaveLength(1);
      expect(pending[0]!.published_at).toBeNull();

      const retry = await call("POST", "/api/v1/alerts", { token: tokens.service, body, headers });
      expect(retry.status, retry.text).toBe(201);
      expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
      const rows = await alertRows();
      expect(rows).toEqual([{ id: retry.json.id }]);
      expect(pending[0]!.source).toBe(`alert:${retry.json.id}`);

      const a = await device.waitFor<EventFrame<{ alert: { id: string } }>>(isType("alert:new"));
      expect(a).toMatchObject({ stream: "user", seq: 1, id: pending[0]!.id, data: { alert: { id: retry.json.id } } });
      const b = await feed.waitFor<EventFrame<{ alert: { id: string } }>>(isType("alert:new"));
      expect(b).toMatchObject({ stream: "org", channel: "alerts", id: pending[0]!.id });
      expect((await eventRow(org, pending[0]!.id))!.published_at).toEqual(expect.any(Number));

      await sentinel(tokens.admin, "agent1", device);
      await channelSentinel(tokens.admin, "alerts", feed);
      expect(eventsOf(device, "alert:new")).toHaveLength(1);
      expect(eventsOf(feed, "alert:new")).toHaveLength(1);
    });

    it("alerts: the notification, its email and the webhook delivery are written with the alert; a 503 queues none, the retry queues each once", async () => {
      const { org, tokens } = await setupOrg();
      const put = await call("PUT", "/api/v1/users/agent1", { token: tokens.admin, body: { role: "agent", email: "agent1@example.com" } });
      expect(put.status, put.text).toBeLessThan(300);
      const hook = await call("POST", "/api/v1/webhooks", { token: tokens.admin, body: { url: "https://crm.example.com/herald", events: ["alert:new"] } });
      expect(hook.status, hook.text).toBe(201);
      const queued: string[] = [];
      // Recorded, not consumed: the consumer is test/delivery.test.ts's subject.
      const queueSpy = vi.spyOn(env.DELIVERY_QUEUE, "sendBatch").mockImplementation(async (messages) => {
        for (const m of messages) queued.push((m.body as { deliveryId: string }).deliveryId);
        return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } } as unknown as QueueSendBatchResponse;
      });
      try {
        const headers = { "Idempotency-Key": "alert-flaky-deliveries" };
        const body = alertBody({ assigneeId: "agent1", priority: "HIGH" });
        failNextUserHubPublish();
        const failed = await call("POST", "/api/v1/alerts", { token: tokens.service, body, headers });
        expect(failed.status, failed.text).toBe(503);

        // Everything the alert causes exists already, in the same commit as the alert.
        const rows = async () =>
          (
            await (await orgD1(org)).prepare("SELECT id, channel, status, user_id, webhook_id FROM deliveries WHERE org_id = ? ORDER BY channel")
              .bind(org)
              .all<{ id: string; channel: string; status: string; user_id: string | null; webhook_id: string | null }>()
          ).results;
        const deliveries = await rows();
        expect(deliveries.map((d) => [d.channel, d.status, d.user_id ?? d.webhook_id])).toEqual([
          ["email", "queued", "agent1"],
          ["webhook", "queued", hook.json.id],
        ]);
        const notices = await (await orgD1(org)).prepare("SELECT user_id, source FROM notifications WHERE org_id = ?").bind(org).all();
        expect(notices.results).toEqual([{ user_id: "agent1", source: expect.stringMatching(/^alert:alr_.*:new$/) }]);
        // Nothing was queued: the hubs had not confirmed.
        expect(queued).toEqual([]);

        const retry = await call("POST", "/api/v1/alerts", { token: tokens.service, body, headers });
        expect(retry.status, retry.text).toBe(201);
        expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
        expect(queued.sort()).toEqual(deliveries.map((d) => d.id).sort());
        expect(await rows()).toHaveLength(2);
        const published = await (await orgD1(org)).prepare("SELECT count(*) AS n FROM realtime_events WHERE org_id = ? AND published_at IS NULL").bind(org).first<{ n: number }>();
        expect(published!.n).toBe(0);
      } finally {
        queueSpy.mockRestore();
      }
    });
  });
    it("alerts: a queue that refuses answers 503 SERVICE_UNAVAILABLE + Retry-After, events stay unpublished; the retry queues the email once", async () => {
      const { org, tokens } = await setupOrg();
      const put = await call("PUT", "/api/v1/users/agent1", { token: tokens.admin, body: { role: "agent", email: "agent1@example.com" } });
      expect(put.status, put.text).toBeLessThan(300);
      const queued: string[] = [];
      let refuse = true;
      const queueSpy = vi.spyOn(env.DELIVERY_QUEUE, "sendBatch").mockImplementation(async (messages) => {
        if (refuse) throw new Error("test: queue unavailable");
        for (const m of messages) queued.push((m.body as { deliveryId: string }).deliveryId);
        return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } } as unknown as QueueSendBatchResponse;
      });
      try {
        const headers = { "Idempotency-Key": "alert-queue-down" };
        const body = alertBody({ assigneeId: "agent1", priority: "HIGH" });
        const failed = await call("POST", "/api/v1/alerts", { token: tokens.service, body, headers });
        expect(failed.status, failed.text).toBe(503);
        expect(failed.json.error.code).toBe("SERVICE_UNAVAILABLE");
        expect(failed.headers.get("Retry-After")).toMatch(/^[1-9][0-9]*$/);
        expect((await eventRows(org)).filter((r) => r.published_at === null).map((r) => r.type).sort()).toEqual(["alert:new", "notification:new"]);

        refuse = false;
        const retry = await call("POST", "/api/v1/alerts", { token: tokens.service, body, headers });
        expect(retry.status, retry.text).toBe(201);
        expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
        const email = await (await orgD1(org)).prepare("SELECT id FROM deliveries WHERE org_id = ? AND channel = 'email'").bind(org).all<{ id: string }>();
        expect(queued).toEqual(email.results.map((r) => r.id));
        expect((await eventRows(org)).filter((r) => r.published_at === null)).toEqual([]);
      } finally {
        queueSpy.mockRestore();
      }
    });
});

// ───────────────────────────── cron sweep ─────────────────────────────

describe("scheduled sweep of unpublished events", () => {
  it("delivers an event left unpublished for more than 10 s exactly once and marks it published", async () => {
    const { org, tokens } = await setupOrg();
    const device = await open("/api/v1/ws", tokens.agent);
    const db = await orgDb(org);
    const old = Date.now() - 60_000;
    const stale: OutboundEvent = {
      id: newId("evt", old),
      orgId: org,
      type: "sweep:test",
      data: { stale: true },
      ts: old,
      userIds: ["agent1"],
      source: "test:sweep",
    };
    const fresh: OutboundEvent = { ...stale, id: newId("evt"), type: "sweep:fresh", ts: Date.now(), data: { stale: false } };
    for (const ev of [stale, fresh]) {
      const st = eventStatements(db, ev, 86_400);
      await db.batch(st as [(typeof st)[number], ...typeof st]);
    }
    expect((await eventRow(org, stale.id))!.published_at).toBeNull();

    await runCron();
    const f = await device.waitFor<EventFrame>(isType("sweep:test"));
    expect(f).toMatchObject({ id: stale.id, seq: 1, stream: "user", data: { stale: true } });
    expect((await eventRow(org, stale.id))!.published_at).toEqual(expect.any(Number));
    // Younger than 10 s: left to its own request's retry.
    expect((await eventRow(org, fresh.id))!.published_at).toBeNull();
    await (await orgD1(org)).prepare("DELETE FROM realtime_events WHERE id = ?").bind(fresh.id).run();
    await (await orgD1(org)).prepare("DELETE FROM realtime_event_targets WHERE event_id = ?").bind(fresh.id).run();

    // Sweeping again sends nothing more.
    await runCron();
    // Even if the row were seen as unpublished again, the hub's dedupe by id keeps it single.
    await (await orgD1(org)).prepare("UPDATE realtime_events SET published_at = NULL WHERE id = ?").bind(stale.id).run();
    await runCron();
    expect((await eventRow(org, stale.id))!.published_at).toEqual(expect.any(Number));

    const last = await sentinel(tokens.admin, "agent1", device);
    expect(last.seq).toBe(2);
    expect(eventsOf(device, "sweep:test")).toHaveLength(1);
    expect(eventsOf(device, "sweep:fresh")).toHaveLength(0);
  });

  it("re-delivers a channel event too", async () => {
    const { org, tokens } = await setupOrg();
    const board = await open("/api/v1/ws/org", tokens.agent, { channels: "kpi", dept: "sales" });
    const db = await orgDb(org);
    const old = Date.now() - 30_000;
    const ev: OutboundEvent = {
      id: newId("evt", old),
      orgId: org,
      type: "kpi:stale",
      data: { v: 1 },
      ts: old,
      userIds: [],
      channel: { name: "kpi", scope: { dept: "sales", queue: "inbound" } },
    };
    const st = eventStatements(db, ev, 86_400);
    await db.batch(st as [(typeof st)[number], ...typeof st]);
    await runCron();
    const f = await board.waitFor<EventFrame>(isType("kpi:stale"));
    expect(f).toMatchObject({ id: ev.id, stream: "org", channel: "kpi", scope: { dept: "sales", queue: "inbound" } });
    expect((await eventRow(org, ev.id))!.published_at).toEqual(expect.any(Number));
    await runCron();
    await channelSentinel(tokens.admin, "kpi", board);
    expect(eventsOf(board, "kpi:stale")).toHaveLength(1);
  });
});

// ───────────────────────────── admin views ─────────────────────────────

describe("GET /api/v1/realtime/stats", () => {
  it("reports connections, online users, subscribers per channel and scope, messages and latency", async () => {
    const { tokens } = await setupOrg();
    const before = Date.now();
    await open("/api/v1/ws", tokens.agent);
    await open("/api/v1/ws", tokens.agent);
    const board = await open("/api/v1/ws/org", tokens.admin);
    await subscribe(board, "s", ["kpi"], { dept: "sales" });
    await open("/api/v1/ws/org", tokens.member, { channels: "kpi" });

    const res = await call("POST", BROADCAST, {
      token: tokens.admin,
      body: { event: "deal:won", target: { userIds: ["agent1"], channel: "kpi", scope: { dept: "sales" } } },
    });
    expect(res.status, res.text).toBe(201);
    // 2 agent devices + the admin's sales board + the member's org-wide kpi board.
    expect(res.json.reached).toBe(4);

    const stats = await call("GET", `${RT}/stats`, { token: tokens.admin });
    expect(stats.status, stats.text).toBe(200);
    const s = stats.json;
    expect(s.connections).toEqual({ user: 2, org: 2, total: 4 });
    expect(s.onlineUsers).toBe(3);
    const channels = s.channels as { channel: string; scope: object; subscribers: number }[];
    expect(channels).toEqual(
      expect.arrayContaining([
        { channel: "alerts", scope: {}, subscribers: 1 },
        { channel: "kpi", scope: { dept: "sales" }, subscribers: 1 },
        { channel: "kpi", scope: {}, subscribers: 1 },
      ]),
    );
    expect(channels).toHaveLength(3);
    const won = (s.messages as { type: string; sent: number; publishes: number }[]).find((m) => m.type === "deal:won");
    expect(won, JSON.stringify(s.messages)).toBeDefined();
    expect(won!.sent).toBe(4);
    expect(won!.publishes).toBeGreaterThanOrEqual(1);
    for (const m of s.messages) {
      expect(m).toEqual({ type: expect.any(String), publishes: expect.any(Number), sent: expect.any(Number), avgLatencyMs: expect.any(Number), maxLatencyMs: expect.any(Number) });
    }
    expect(typeof s.latency.avgMs).toBe("number");
    expect(typeof s.latency.maxMs).toBe("number");
    expect(s.latency.maxMs).toBeGreaterThanOrEqual(s.latency.avgMs);
    expect(new Date(s.since).toISOString()).toBe(s.since);
    expect(Date.parse(s.since)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(s.since)).toBeLessThanOrEqual(Date.now());
  });

  it("counts an event once when it is delivered again (sweep, idempotent retry), user-stream sends from the hubs' reported counts", async () => {
    const { org, tokens } = await setupOrg();
    await open("/api/v1/ws", tokens.agent);
    await open("/api/v1/ws", tokens.agent);
    const res = await call("POST", BROADCAST, { token: tokens.admin, body: { event: "deal:won", target: { userIds: ["agent1"] } } });
    expect(res.status, res.text).toBe(201);
    expect(res.json.reached).toBe(2);
    // The same event handed to the org hub again, as a re-delivery would.
    const again = await env.ORG_HUB.getByName(org).publishMany([{ event: { id: res.json.id, type: "deal:won", ts: Date.now(), data: {} }, userIds: ["agent1"] }]);
    expect(again).toEqual([null]);
    const stats = await call("GET", `${RT}/stats`, { token: tokens.admin });
    const won = (stats.json.messages as { type: string; sent: number; publishes: number }[]).find((m) => m.type === "deal:won");
    expect(won).toMatchObject({ publishes: 1, sent: 2 });
  });

  it("is admin-only: agent, member and service get 403 FORBIDDEN", async () => {
    const { tokens } = await setupOrg();
    for (const token of [tokens.agent, tokens.member, tokens.service]) {
      const res = await call("GET", `${RT}/stats`, { token });
      expect(res.status, res.text).toBe(403);
      expect(res.json.error.code).toBe("FORBIDDEN");
    }
  });

  it("starts empty in a fresh org", async () => {
    const { tokens } = await setupOrg();
    const res = await call("GET", `${RT}/stats`, { token: tokens.admin });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ connections: { user: 0, org: 0, total: 0 }, onlineUsers: 0, channels: [], messages: [], latency: { avgMs: null, maxMs: null } });
  });
});

describe("GET /api/v1/realtime/connections", () => {
  it("lists user-stream and org-stream connections; a closed socket disappears", async () => {
    const { tokens } = await setupOrg();
    const before = Date.now();
    const d1 = await open("/api/v1/ws", tokens.agent);
    const d2 = await open("/api/v1/ws", tokens.agent);
    const board = await open("/api/v1/ws/org", tokens.admin, { channels: "kpi", dept: "sales" });
    const idOf = async (s: TestSocket) => ((await s.waitFor(isType("connected"))) as { connectionId: string }).connectionId;
    const [c1, c2, cb] = [await idOf(d1), await idOf(d2), await idOf(board)];

    const res = await call("GET", `${RT}/connections`, { token: tokens.admin });
    expect(res.status, res.text).toBe(200);
    expect(res.json.truncated).toBe(false);
    const items = res.json.items as { connectionId: string; userId: string; stream: string; subscriptions: unknown[]; connectedAt: string; lastActivityAt: string }[];
    expect(items.map((i) => i.connectionId).sort()).toEqual([c1, c2, cb].sort());
    for (const i of items) {
      expect(Object.keys(i).sort()).toEqual(["connectedAt", "connectionId", "lastActivityAt", "stream", "subscriptions", "userId"]);
      expect(new Date(i.connectedAt).toISOString()).toBe(i.connectedAt);
      expect(new Date(i.lastActivityAt).toISOString()).toBe(i.lastActivityAt);
      expect(Date.parse(i.connectedAt)).toBeGreaterThanOrEqual(before - 1000);
    }
    expect(items.find((i) => i.connectionId === c1)).toMatchObject({ userId: "agent1", stream: "user", subscriptions: [] });
    expect(items.find((i) => i.connectionId === c2)).toMatchObject({ userId: "agent1", stream: "user", subscriptions: [] });
    const orgConn = items.find((i) => i.connectionId === cb)!;
    expect(orgConn).toMatchObject({ userId: "admin1", stream: "org" });
    expect(orgConn.subscriptions).toEqual(
      expect.arrayContaining([
        { channel: "alerts", scope: {} },
        { channel: "kpi", scope: { dept: "sales" } },
      ]),
    );
    expect(orgConn.subscriptions).toHaveLength(2);

    d1.close();
    await d1.closed;
    const after = await eventually(
      async () => (await call("GET", `${RT}/connections`, { token: tokens.admin })).json.items as { connectionId: string }[],
      (list) => !list.some((i) => i.connectionId === c1),
    );
    expect(after.map((i) => i.connectionId).sort()).toEqual([c2, cb].sort());

    board.close();
    await board.closed;
    const left = await eventually(
      async () => (await call("GET", `${RT}/connections`, { token: tokens.admin })).json.items as { connectionId: string }[],
      (list) => !list.some((i) => i.connectionId === cb),
    );
    expect(left.map((i) => i.connectionId)).toEqual([c2]);
  });

  it("is admin-only: 403 FORBIDDEN for agent and service", async () => {
    const { tokens } = await setupOrg();
    for (const token of [tokens.agent, tokens.service]) {
      const res = await call("GET", `${RT}/connections`, { token });
      expect(res.status, res.text).toBe(403);
      expect(res.json.error.code).toBe("FORBIDDEN");
    }
  });
});

describe("GET /api/v1/realtime/presence", () => {
  it("reports online users with their connection counts, then offline with lastSeenAt", async () => {
    const { tokens } = await setupOrg();
    const d1 = await open("/api/v1/ws", tokens.agent);
    const d2 = await open("/api/v1/ws/org", tokens.agent);

    const all = await call("GET", `${RT}/presence`, { token: tokens.admin });
    expect(all.status, all.text).toBe(200);
    const agent = (all.json.items as { userId: string }[]).find((p) => p.userId === "agent1");
    expect(agent).toMatchObject({ userId: "agent1", online: true, connections: 2, lastSeenAt: expect.any(String) });
    const svc = await call("GET", `${RT}/presence`, { token: tokens.service });
    expect(svc.status, svc.text).toBe(200);
    expect((svc.json.items as { userId: string }[]).find((p) => p.userId === "agent1")).toMatchObject({ online: true, connections: 2 });

    for (const token of [tokens.agent, tokens.admin, tokens.service]) {
      const one = await call("GET", `${RT}/presence/agent1`, { token });
      expect(one.status, one.text).toBe(200);
      expect(one.json).toMatchObject({ userId: "agent1", online: true, connections: 2 });
    }

    d1.close();
    d2.close();
    const off = await eventually(
      async () => (await call("GET", `${RT}/presence/agent1`, { token: tokens.admin })).json,
      (p) => p.online === false,
    );
    expect(off).toMatchObject({ userId: "agent1", online: false, connections: 0 });
    expect(new Date(off.lastSeenAt).toISOString()).toBe(off.lastSeenAt);
    const list = await call("GET", `${RT}/presence`, { token: tokens.admin });
    expect((list.json.items as { userId: string }[]).find((p) => p.userId === "agent1")).toMatchObject({ online: false, connections: 0 });
  });

  it("answers online false, 0 connections, lastSeenAt null for a user never seen", async () => {
    const { tokens } = await setupOrg();
    const res = await call("GET", `${RT}/presence/nobody`, { token: tokens.admin });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ userId: "nobody", online: false, connections: 0, lastSeenAt: null });
  });

  it("lets a user read their own presence but not someone else's, nor the list", async () => {
    const { tokens } = await setupOrg();
    const self = await call("GET", `${RT}/presence/member1`, { token: tokens.member });
    expect(self.status, self.text).toBe(200);
    expect(self.json).toMatchObject({ userId: "member1", online: false, connections: 0 });
    const other = await call("GET", `${RT}/presence/agent1`, { token: tokens.member });
    expect(other.status, other.text).toBe(403);
    expect(other.json.error.code).toBe("FORBIDDEN");
    for (const token of [tokens.member, tokens.agent]) {
      const list = await call("GET", `${RT}/presence`, { token });
      expect(list.status, list.text).toBe(403);
      expect(list.json.error.code).toBe("FORBIDDEN");
    }
  });
});

// ───────────────────────────── tickets ─────────────────────────────

describe("POST /api/v1/realtime/ticket", () => {
  it("issues a single-use ticket valid about 30 s, with connect urls", async () => {
    const { tokens } = await setupOrg();
    const before = Date.now();
    const res = await call("POST", `${RT}/ticket`, { token: tokens.agent });
    expect(res.status, res.text).toBe(201);
    const { ticket, expiresAt, urls } = res.json;
    expect(typeof ticket).toBe("string");
    expect(ticket.length).toBeGreaterThan(20);
    const ttl = Date.parse(expiresAt) - before;
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(31_000);
    expect(urls).toEqual({
      user: `/api/v1/ws?ticket=${encodeURIComponent(ticket)}`,
      org: `/api/v1/ws/org?ticket=${encodeURIComponent(ticket)}`,
    });

    // The ticket opens the caller's stream once.
    const s = await open("/api/v1/ws", "", { ticket });
    const hello = await s.waitFor<ServerFrame & { userId: string }>(isType("connected"));
    expect(hello.userId).toBe("agent1");
  });

  it("never issues a ticket that outlives its token or is born expired: 401 TOKEN_EXPIRED past exp, even within the clock tolerance", async () => {
    const { org } = await setupOrg();
    for (const expiresIn of [-1, -5, -25]) {
      const res = await call("POST", `${RT}/ticket`, { token: await makeToken({ org, sub: "agent1", role: "agent", expiresIn }) });
      expect(res.status, `${expiresIn}: ${res.text}`).toBe(401);
      expect(res.json.error.code).toBe("TOKEN_EXPIRED");
    }
    // A token expiring within the ticket TTL: the ticket ends with it.
    const now = Math.floor(Date.now() / 1000);
    const short = await call("POST", `${RT}/ticket`, { token: await makeToken({ org, sub: "agent1", role: "agent", expiresIn: 10 }) });
    expect(short.status, short.text).toBe(201);
    expect([(now + 10) * 1000, (now + 11) * 1000]).toContain(Date.parse(short.json.expiresAt));
  });

  it("needs authentication: 401 AUTH_REQUIRED", async () => {
    const res = await call("POST", `${RT}/ticket`);
    expect(res.status, res.text).toBe(401);
    expect(res.json.error.code).toBe("AUTH_REQUIRED");
    const bad = await call("POST", `${RT}/ticket`, { token: await makeToken({ expiresIn: -3600 }) });
    expect(bad.status).toBe(401);
    expect(bad.json.error.code).toBe("TOKEN_EXPIRED");
  });
});

// ───────────────────────────── OpenAPI ─────────────────────────────

describe("OpenAPI document", () => {
  it("lists the realtime and polling routes", async () => {
    const res = await call("GET", "/openapi.json");
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    const paths = res.json.paths as Record<string, Record<string, unknown>>;
    const expected: [string, string][] = [
      ["/api/v1/ws", "get"],
      ["/api/v1/ws/org", "get"],
      ["/api/v1/realtime/ticket", "post"],
      ["/api/v1/realtime/broadcast", "post"],
      ["/api/v1/realtime/stats", "get"],
      ["/api/v1/realtime/connections", "get"],
      ["/api/v1/realtime/presence", "get"],
      ["/api/v1/realtime/presence/{userId}", "get"],
      ["/api/v1/events", "get"],
      ["/api/v1/events/ack", "post"],
    ];
    for (const [path, method] of expected) {
      expect(paths[path], `${path} in ${Object.keys(paths).join(", ")}`).toBeDefined();
      expect(paths[path]![method], `${method.toUpperCase()} ${path}`).toBeDefined();
    }
  });
});

