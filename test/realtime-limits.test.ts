import { listDurableObjectIds } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_CLOSE_REASON_BYTES, refusalReason, type AckFrame, type ConnectedFrame, type ErrorFrame, type EventFrame, type ServerFrame } from "../src/protocol";
import { call, makeToken, setupOrg } from "./helpers";
import { broadcast, closedWithin, connect, eventually, isType, refusedUpgrade, tryConnect, type TestSocket } from "./ws-helpers";

// Every limit and every kind of bad input on the realtime endpoints: what the
// client gets back, and whether the socket survives it (vitest.config.ts
// sets MAX_CONNECTIONS_PER_ORG=40; the other limits are the defaults:
// 64 KiB frames, 100 frames/s with a burst of 200 and an abuse limit of 200,
// 20 connections per user per stream, 50 subscriptions per socket).

const CONTROL = new Set(["connected", "ack", "error", "pong", "resync-required"]);

function eventsOf(s: TestSocket, type?: string): EventFrame[] {
  return s.frames.filter(
    (f): f is EventFrame => !CONTROL.has(f.type) && "id" in f && "stream" in f && (type === undefined || f.type === type),
  );
}

const isEvent = (id: string) => (f: ServerFrame) => !CONTROL.has(f.type) && (f as EventFrame).id === id;
const isErrorCode = (code: string) => (f: ServerFrame) => f.type === "error" && (f as ErrorFrame).code === code;
const isReply = (ref: string) => (f: ServerFrame) => (f.type === "ack" || f.type === "error") && (f as AckFrame).ref === ref;
const errors = (s: TestSocket) => s.frames.filter((f): f is ErrorFrame => f.type === "error");




/**
 * A refused upgrade as a browser sees it (docs/PROTOCOL.md, "Close codes"):
 * 101, then at once a close with 4000 + the HTTP status and the API's error
 * JSON as its reason, no frame before it.
 */
async function refusal(path: string, o: Parameters<typeof tryConnect>[1]) {
  const r = await refusedUpgrade(path, o);
  expect(r.res.status).toBe(101);
  expect(r.frames, "frames before a refusal close").toEqual([]);
  return { close: r.code, code: r.reason.code, message: r.reason.message, retryAfter: r.reason.retryAfter, text: r.text };
}

/** Waits until each attempt is either live (`connected`) or refused (closed before it); refusals must be 4429 CONNECTION_LIMIT. */
async function settle(attempts: Awaited<ReturnType<typeof tryConnect>>[]): Promise<TestSocket[]> {
  const outcomes = await Promise.all(
    attempts.map(async ({ socket, res }) => {
      if (!socket) throw new Error(`not upgraded: ${res.status} ${await res.text()}`);
      return socket.waitFor(isType("connected"), 10_000).then(
        () => socket,
        async () => {
          const { code, reason } = await socket.closed;
          expect(code, reason).toBe(4429);
          expect(JSON.parse(reason)).toMatchObject({ code: "CONNECTION_LIMIT", retryAfter: expect.any(Number) });
          return undefined;
        },
      );
    }),
  );
  return outcomes.filter((s): s is TestSocket => s !== undefined);
}

async function totalConnections(adminToken: string): Promise<number> {
  const res = await call("GET", "/api/v1/realtime/stats", { token: adminToken });
  expect(res.status, res.text).toBe(200);
  return res.json.connections.total as number;
}

describe("bad frames", () => {
  it("invalid JSON, unknown types, wrong field types and binary frames → INVALID_MESSAGE; the socket stays open", async () => {
    const { tokens } = await setupOrg();
    const user = await connect("/api/v1/ws", { token: tokens.agent });
    const org = await connect("/api/v1/ws/org", { token: tokens.agent });

    for (const s of [user, org]) {
      s.send("{not json");
      s.send({ type: "teleport", ref: "t1" });
      s.send({ type: "subscribe", ref: "bad-types", channels: "kpi" });
      s.send({ type: "resume", ref: "neg", since: -1 });
      s.send({ type: "subscribe", ref: "bad-channel", channels: ["KPI!"] });
      s.send({ type: "subscribe", ref: "extra", channels: ["kpi"], bogus: true });
      s.send({ type: "subscribe", ref: "bad-scope", channels: ["kpi"], scope: { queue: "inbound" } });
      s.send("[]");
      s.send("null");
      s.ws.send(new Uint8Array([1, 2, 3]));
      const got = await s.waitForCount(isType("error"), 10);
      expect(got.every((f) => (f as ErrorFrame).code === "INVALID_MESSAGE"), JSON.stringify(got)).toBe(true);
      const byRef = (ref: string) => got.find((f) => (f as ErrorFrame).ref === ref);
      for (const ref of ["t1", "bad-types", "neg", "bad-channel", "extra", "bad-scope"]) expect(byRef(ref), ref).toBeDefined();
      expect(got.filter((f) => (f as ErrorFrame).ref === undefined)).toHaveLength(4);
      expect(s.ws.readyState).toBe(WebSocket.OPEN);
    }

    // Still usable: a later subscribe acks, and later events arrive.
    org.send({ type: "subscribe", ref: "ok", channels: ["kpi"] });
    expect(await org.waitFor(isReply("ok"))).toMatchObject({ type: "ack" });
    const direct = await broadcast(tokens.admin, { event: "note:added", target: { userIds: ["agent1"] } });
    const kpi = await broadcast(tokens.admin, { event: "kpi:tick", target: { channel: "kpi" } });
    await user.waitFor(isEvent(direct.id));
    await org.waitFor(isEvent(kpi.id));
    user.close();
    org.close();
  });

  it("subscribe on the user stream and notification frames are answered, not fatal", async () => {
    const { tokens } = await setupOrg();
    const user = await connect("/api/v1/ws", { token: tokens.agent });
    user.send({ type: "subscribe", ref: "u1", channels: ["kpi"] });
    expect(await user.waitFor<ErrorFrame>(isReply("u1"))).toMatchObject({ type: "error", code: "UNSUPPORTED" });
    const direct = await broadcast(tokens.admin, { event: "note:added", target: { userIds: ["agent1"] } });
    await user.waitFor(isEvent(direct.id));
    user.close();
  });

  it("a frame over 64 KiB → MESSAGE_TOO_LARGE, then close 1009", async () => {
    const { tokens } = await setupOrg();
    const s = await connect("/api/v1/ws", { token: tokens.agent });
    s.send(JSON.stringify({ type: "resume", ref: "x".repeat(10), since: 0, pad: "a".repeat(70_000) }));
    expect(await s.waitFor<ErrorFrame>(isType("error"))).toMatchObject({ code: "MESSAGE_TOO_LARGE" });
    expect((await closedWithin(s)).code).toBe(1009);

    // Counted in bytes, not characters: 22,000 three-byte characters are 66,000 bytes.
    const o = await connect("/api/v1/ws/org", { token: tokens.agent });
    o.send(`{"type":"ping","pad":"${"€".repeat(22_000)}"}`);
    expect(await o.waitFor<ErrorFrame>(isType("error"))).toMatchObject({ code: "MESSAGE_TOO_LARGE" });
    expect((await closedWithin(o)).code).toBe(1009);

    // Just under the limit is an ordinary (here: invalid) frame, and the socket stays open.
    const u = await connect("/api/v1/ws", { token: tokens.agent });
    u.send(`{"type":"ping","pad":"${"a".repeat(60_000)}"}`);
    expect(await u.waitFor<ErrorFrame>(isType("error"))).toMatchObject({ code: "INVALID_MESSAGE" });
    const direct = await broadcast(tokens.admin, { event: "note:added", target: { userIds: ["agent1"] } });
    await u.waitFor(isEvent(direct.id));
    u.close();
  });

  it("a flood of frames → RATE_LIMIT_EXCEEDED while frames are dropped, then close 1008", async () => {
    const { tokens } = await setupOrg();
    const s = await connect("/api/v1/ws", { token: tokens.agent });
    // `resume` at the head of an empty stream produces no reply: only the limiter talks.
    for (let i = 0; i < 300; i++) s.send({ type: "resume", since: 0 });
    const warning = await s.waitFor<ErrorFrame>(isErrorCode("RATE_LIMIT_EXCEEDED"));
    expect(warning.message).toMatch(/dropped/);
    expect(s.ws.readyState).toBe(WebSocket.OPEN);

    for (let i = 0; i < 700; i++) {
      if (s.ws.readyState !== WebSocket.OPEN) break;
      s.send({ type: "resume", since: 0 });
    }
    expect((await closedWithin(s, 5000)).code).toBe(1008);
    expect(errors(s).every((e) => e.code === "RATE_LIMIT_EXCEEDED")).toBe(true);
  });

  it("a socket closed for abuse (1008) no longer counts: presence goes offline and the org count drops", async () => {
    const { tokens } = await setupOrg();
    const watcher = await connect("/api/v1/ws/org", { token: tokens.admin, query: { channels: "presence" } });
    const offline = (f: ServerFrame) => f.type === "presence:offline" && (f as EventFrame<{ userId: string }>).data.userId === "agent1";
    for (const path of ["/api/v1/ws", "/api/v1/ws/org"]) {
      const s = await connect(path, { token: tokens.agent });
      expect(await totalConnections(tokens.admin)).toBe(2);
      for (let i = 0; i < 1000; i++) {
        if (s.ws.readyState !== WebSocket.OPEN) break;
        s.send({ type: "resume", since: 0 });
      }
      expect((await closedWithin(s, 5000)).code).toBe(1008);
      await eventually(async () => (await totalConnections(tokens.admin)) === 1, `${path}: the abusive socket is no longer counted`);
      const presence = await call("GET", "/api/v1/realtime/presence/agent1", { token: tokens.admin });
      expect(presence.json, path).toMatchObject({ online: false, connections: 0 });
      await watcher.waitForCount(offline, path === "/api/v1/ws" ? 1 : 2);
    }
    watcher.close();
  });

  it("a socket closed for a too-large frame (1009) no longer counts", async () => {
    const { tokens } = await setupOrg();
    for (const path of ["/api/v1/ws", "/api/v1/ws/org"]) {
      const s = await connect(path, { token: tokens.agent });
      expect(await totalConnections(tokens.admin)).toBe(1);
      s.send("x".repeat(70_000));
      expect((await closedWithin(s)).code).toBe(1009);
      await eventually(async () => (await totalConnections(tokens.admin)) === 0, `${path}: the closed socket is no longer counted`);
      const presence = await call("GET", "/api/v1/realtime/presence/agent1", { token: tokens.admin });
      expect(presence.json, path).toMatchObject({ online: false, connections: 0 });
    }
  });

  it("a flood on the org stream is limited the same way, per connection", async () => {
    const { tokens } = await setupOrg();
    const flooder = await connect("/api/v1/ws/org", { token: tokens.agent });
    const bystander = await connect("/api/v1/ws/org", { token: tokens.agent, query: { channels: "kpi" } });
    for (let i = 0; i < 1000; i++) {
      if (flooder.ws.readyState !== WebSocket.OPEN) break;
      flooder.send({ type: "resume", since: 0 });
    }
    expect((await closedWithin(flooder, 5000)).code).toBe(1008);
    expect(flooder.frames.some(isErrorCode("RATE_LIMIT_EXCEEDED"))).toBe(true);
    // Another connection of the same user is unaffected.
    bystander.send({ type: "subscribe", ref: "b", channels: ["backlog"] });
    expect(await bystander.waitFor(isReply("b"))).toMatchObject({ type: "ack" });
    const kpi = await broadcast(tokens.admin, { event: "kpi:tick", target: { channel: "kpi" } });
    await bystander.waitFor(isEvent(kpi.id));
    bystander.close();
  });
});

describe("connection limits", () => {
  it("the 21st user-stream socket of one user is refused: close 4429 CONNECTION_LIMIT with retryAfter", async () => {
    const { tokens } = await setupOrg();
    const open: TestSocket[] = [];
    for (let i = 0; i < 20; i++) open.push(await connect("/api/v1/ws", { token: tokens.agent }));
    const r = await refusal("/api/v1/ws", { token: tokens.agent });
    expect(r.close, r.text).toBe(4429);
    expect(r.code).toBe("CONNECTION_LIMIT");
    expect(r.retryAfter).toBe(10);
    // Another user of the org is not affected.
    const other = await connect("/api/v1/ws", { token: tokens.agent2 });
    // Every one of the 20 still works.
    const direct = await broadcast(tokens.admin, { event: "note:added", target: { userIds: ["agent1"] } });
    for (const s of open) await s.waitFor(isEvent(direct.id));
    for (const s of [...open, other]) s.close();
  });

  it("the 21st org-stream socket of one user is refused: close 4429 CONNECTION_LIMIT with retryAfter", async () => {
    const { tokens } = await setupOrg();
    const open: TestSocket[] = [];
    for (let i = 0; i < 20; i++) open.push(await connect("/api/v1/ws/org", { token: tokens.agent }));
    const r = await refusal("/api/v1/ws/org", { token: tokens.agent });
    expect(r.close, r.text).toBe(4429);
    expect(r.code).toBe("CONNECTION_LIMIT");
    expect(r.retryAfter).toBe(10);
    // The user stream has its own per-user budget.
    const user = await connect("/api/v1/ws", { token: tokens.agent });
    for (const s of [...open, user]) s.close();
  });

  it("concurrent upgrades cannot exceed the per-user limit, and presence counts what is open", async () => {
    const { tokens } = await setupOrg();
    const attempts = await Promise.all(Array.from({ length: 25 }, () => tryConnect("/api/v1/ws", { token: tokens.agent })));
    const opened = await settle(attempts);
    expect.soft(opened.length, "sockets admitted for one user").toBeLessThanOrEqual(20);
    const presence = await call("GET", "/api/v1/realtime/presence/agent1", { token: tokens.admin });
    expect.soft(presence.json, "presence after concurrent upgrades").toMatchObject({ online: true, connections: opened.length });
    expect.soft(await totalConnections(tokens.admin), "org connection count").toBe(opened.length);
    for (const s of opened) s.close();
  });

  it("concurrent upgrades cannot exceed the org-wide limit", async () => {
    const { tokens } = await setupOrg();
    // 3 users × 15 user-stream sockets: within the per-user limit (20), over the org limit (40).
    const users = [tokens.agent, tokens.agent2, tokens.member];
    const attempts = await Promise.all(users.flatMap((token) => Array.from({ length: 15 }, () => tryConnect("/api/v1/ws", { token }))));
    const opened = await settle(attempts);
    expect.soft(opened.length, "sockets admitted in the org").toBeLessThanOrEqual(40);
    expect.soft(await totalConnections(tokens.admin), "org connection count").toBe(opened.length);
    for (const s of opened) s.close();
  });

  it("the org-wide limit (40) refuses the 41st socket on either stream; closing one admits a new one", async () => {
    const { tokens } = await setupOrg();
    const open: TestSocket[] = [];
    const plan: [string, string, number][] = [
      ["/api/v1/ws", tokens.admin, 10],
      ["/api/v1/ws/org", tokens.admin, 10],
      ["/api/v1/ws", tokens.agent, 10],
      ["/api/v1/ws/org", tokens.agent2, 10],
    ];
    for (const [path, token, n] of plan) for (let i = 0; i < n; i++) open.push(await connect(path, { token }));
    expect(await totalConnections(tokens.admin)).toBe(40);

    for (const path of ["/api/v1/ws", "/api/v1/ws/org"]) {
      const r = await refusal(path, { token: tokens.member });
      expect(r.close, `${path}: ${r.text}`).toBe(4429);
      expect(r.code).toBe("CONNECTION_LIMIT");
    }
    // Also for a user already connected.
    const again = await refusal("/api/v1/ws", { token: tokens.agent });
    expect(again.close).toBe(4429);
    expect(again.code).toBe("CONNECTION_LIMIT");
    // Refusals do not count.
    expect(await totalConnections(tokens.admin)).toBe(40);

    open.shift()!.close();
    await eventually(async () => (await totalConnections(tokens.admin)) === 39, "the close is processed");
    const newcomer = await connect("/api/v1/ws", { token: tokens.member });
    expect(await totalConnections(tokens.admin)).toBe(40);
    const full = await refusal("/api/v1/ws/org", { token: tokens.member });
    expect(full.close).toBe(4429);

    // An org-stream socket closing frees a place too.
    const orgSocket = open.find((s) => (s.frames.find(isType("connected")) as ConnectedFrame).stream === "org")!;
    orgSocket.close();
    await eventually(async () => (await totalConnections(tokens.admin)) === 39, "the org-stream close is processed");
    const newcomer2 = await connect("/api/v1/ws/org", { token: tokens.member });

    for (const s of [...open, newcomer, newcomer2]) s.close();
  });

  it("more than 50 subscriptions on one socket → SUBSCRIPTION_LIMIT; the socket keeps its subscriptions", async () => {
    const { tokens } = await setupOrg();
    const s = await connect("/api/v1/ws/org", { token: tokens.agent });
    const channels = Array.from({ length: 50 }, (_, i) => `ch${i}`);
    s.send({ type: "subscribe", ref: "fifty", channels });
    const ack = await s.waitFor<AckFrame>(isReply("fifty"));
    expect(ack.type).toBe("ack");
    expect(ack.subscriptions as unknown[]).toHaveLength(50);

    s.send({ type: "subscribe", ref: "one-more", channels: ["ch50"] });
    expect(await s.waitFor<ErrorFrame>(isReply("one-more"))).toMatchObject({ type: "error", code: "SUBSCRIPTION_LIMIT" });
    // The same channel with another scope is another subscription.
    s.send({ type: "subscribe", ref: "scoped", channels: ["ch0"], scope: { dept: "sales" } });
    expect(await s.waitFor<ErrorFrame>(isReply("scoped"))).toMatchObject({ type: "error", code: "SUBSCRIPTION_LIMIT" });
    // Subscribing again to one it has is not a new subscription.
    s.send({ type: "subscribe", ref: "again", channels: ["ch7"] });
    expect(await s.waitFor(isReply("again"))).toMatchObject({ type: "ack" });

    const onSubscribed = await broadcast(tokens.admin, { event: "kpi:tick", target: { channel: "ch49" } });
    const onRefused = await broadcast(tokens.admin, { event: "kpi:tick", target: { channel: "ch50" } });
    const marker = await broadcast(tokens.admin, { event: "kpi:end", target: { channel: "ch0" } });
    await s.waitFor(isEvent(marker.id));
    expect(eventsOf(s).map((f) => f.id)).toEqual([onSubscribed.id, marker.id]);
    expect(onRefused.reached).toBe(0);

    // Unsubscribing frees a place.
    s.send({ type: "unsubscribe", ref: "un", channels: ["ch1"] });
    expect(await s.waitFor<AckFrame>(isReply("un"))).toMatchObject({ type: "ack" });
    s.send({ type: "subscribe", ref: "now", channels: ["ch50"] });
    expect(await s.waitFor<AckFrame>(isReply("now"))).toMatchObject({ type: "ack" });
    s.close();
  });
});

describe("upgrade requests", () => {
  it("refuses non-upgrades, foreign origins, missing or bad credentials and bad query parameters", async () => {
    const { tokens } = await setupOrg();

    for (const path of ["/api/v1/ws", "/api/v1/ws/org"]) {
      const plain = await call("GET", path, { token: tokens.agent });
      expect(plain.status, plain.text).toBe(426);
      expect(plain.json.error.code).toBe("UPGRADE_REQUIRED");

      const evil = await refusal(path, { token: tokens.agent, headers: { Origin: "https://evil.example" } });
      expect(evil.close).toBe(4403);
      expect(evil.code).toBe("ORIGIN_NOT_ALLOWED");

      const anonymous = await refusal(path, {});
      expect(anonymous.close).toBe(4401);
      expect(anonymous.code).toBe("AUTH_REQUIRED");

      const forged = await refusal(path, { query: { token: "not.a.jwt" } });
      expect(forged.close).toBe(4401);

      const badSince = await refusal(path, { token: tokens.agent, query: { since: "abc" } });
      expect(badSince.close).toBe(4400);
      expect(badSince.code).toBe("VALIDATION_FAILED");
      const negative = await refusal(path, { token: tokens.agent, query: { since: "-1" } });
      expect(negative.close).toBe(4400);
    }

    const allowed = await connect("/api/v1/ws", { token: tokens.agent, headers: { Origin: "https://app.example.com" } });
    expect(allowed.frames.find(isType("connected"))).toMatchObject({ userId: "agent1", stream: "user" });
    const viaQuery = await connect("/api/v1/ws", { query: { token: tokens.agent } });
    expect(viaQuery.frames.find(isType("connected"))).toMatchObject({ userId: "agent1" });
    const orgViaQuery = await connect("/api/v1/ws/org", { query: { token: tokens.agent2 } });
    expect(orgViaQuery.frames.find(isType("connected"))).toMatchObject({ userId: "agent2", stream: "org" });

    const badQueries: Record<string, string>[] = [{ queue: "inbound" }, { dept: "bad/dept" }, { dept: "", queue: "inbound" }, { channels: "Not-A-Channel" }];
    for (const query of badQueries) {
      const r = await refusal("/api/v1/ws/org", { token: tokens.agent, query });
      expect(r.close, `${JSON.stringify(query)}: ${r.text}`).toBe(4400);
      expect(r.code).toBe("VALIDATION_FAILED");
    }
    for (const s of [allowed, viaQuery, orgViaQuery]) s.close();
  });

  it("tickets: single use, bound to the caller, and not spent by a refused origin", async () => {
    const { tokens } = await setupOrg();
    const issued = await call("POST", "/api/v1/realtime/ticket", { token: tokens.agent });
    expect(issued.status, issued.text).toBe(201);
    expect(issued.json).toMatchObject({ ticket: expect.any(String), expiresAt: expect.any(String) });
    expect(Date.parse(issued.json.expiresAt)).toBeGreaterThan(Date.now());
    const ticket = issued.json.ticket as string;

    const s = await connect("/api/v1/ws", { query: { ticket } });
    expect(s.frames.find(isType("connected"))).toMatchObject({ userId: "agent1", stream: "user" });
    const reuse = await refusal("/api/v1/ws", { query: { ticket } });
    expect(reuse.close).toBe(4401);
    expect(reuse.code).toBe("TICKET_INVALID");
    const reuseOrg = await refusal("/api/v1/ws/org", { query: { ticket } });
    expect(reuseOrg.code).toBe("TICKET_INVALID");

    const unknown = await refusal("/api/v1/ws", { query: { ticket: "tkt_unknown" } });
    expect(unknown.close).toBe(4401);
    expect(unknown.code).toBe("TICKET_INVALID");

    // Refused for its Origin first: the ticket is still good afterwards.
    const second = (await call("POST", "/api/v1/realtime/ticket", { token: tokens.agent2 })).json.ticket as string;
    const evil = await refusal("/api/v1/ws/org", { query: { ticket: second }, headers: { Origin: "https://evil.example" } });
    expect(evil.close).toBe(4403);
    expect(evil.code).toBe("ORIGIN_NOT_ALLOWED");
    const notUpgrade = await call("GET", `/api/v1/ws/org?ticket=${encodeURIComponent(second)}`);
    expect(notUpgrade.status).toBe(426);
    const o = await connect("/api/v1/ws/org", { query: { ticket: second }, headers: { Origin: "https://app.example.com" } });
    expect(o.frames.find(isType("connected"))).toMatchObject({ userId: "agent2", stream: "org", organizationId: expect.any(String) });
    const spent = await refusal("/api/v1/ws/org", { query: { ticket: second } });
    expect(spent.code).toBe("TICKET_INVALID");

    // A ticket is not a bearer token for the rest of the API.
    const third = (await call("POST", "/api/v1/realtime/ticket", { token: tokens.agent })).json.ticket as string;
    const api = await call("GET", `/api/v1/alerts?ticket=${encodeURIComponent(third)}`);
    expect(api.status).toBe(401);
    expect(api.json.error.code).toBe("AUTH_REQUIRED");

    s.close();
    o.close();
  });
});

describe("refusals a browser can see", () => {
  /** Whether the hub has ever been created (it writes its SQLite schema when constructed). */
  async function hubExists(namespace: DurableObjectNamespace, name: string): Promise<boolean> {
    const id = namespace.idFromName(name).toString();
    return (await listDurableObjectIds(namespace)).some((other) => other.toString() === id);
  }

  it("every refusal of an upgrade completes it and closes at once with 4000 + status and the error JSON", async () => {
    const { org, tokens } = await setupOrg();
    for (const path of ["/api/v1/ws", "/api/v1/ws/org"]) {
      const cases: [Parameters<typeof tryConnect>[1], number, string][] = [
        [{ token: tokens.agent, query: { since: "abc" } }, 4400, "VALIDATION_FAILED"],
        [{}, 4401, "AUTH_REQUIRED"],
        [{ query: { token: "not.a.jwt" } }, 4401, "AUTH_FAILED"],
        [{ token: await makeToken({ org, sub: "agent1", role: "agent", expiresIn: -3600 }) }, 4401, "TOKEN_EXPIRED"],
        [{ query: { ticket: "tkt_unknown" } }, 4401, "TICKET_INVALID"],
        [{ token: tokens.agent, headers: { Origin: "https://evil.example" } }, 4403, "ORIGIN_NOT_ALLOWED"],
      ];
      for (const [o, close, code] of cases) {
        const r = await refusedUpgrade(path, o);
        expect(r.res.status, `${path} ${code}`).toBe(101);
        expect(r.frames, `${path} ${code}: frames before the close`).toEqual([]);
        expect(r.code, `${path} ${code}: ${r.text}`).toBe(close);
        expect(r.reason).toEqual({ code, message: expect.any(String) });
        expect(r.reason.message.length).toBeGreaterThan(0);
      }
    }
    // Not an upgrade: the JSON errors stay.
    const plain = await call("GET", "/api/v1/ws", { token: tokens.agent });
    expect(plain.status, plain.text).toBe(426);
    expect(plain.json.error.code).toBe("UPGRADE_REQUIRED");
    const elsewhere = await call("GET", "/api/v1/alerts", { headers: { Upgrade: "websocket" } });
    expect(elsewhere.status, elsewhere.text).toBe(401);
    expect(elsewhere.json.error.code).toBe("AUTH_REQUIRED");
  });

  it("a ticket presented twice: the second upgrade closes 4401 TICKET_INVALID", async () => {
    const { tokens } = await setupOrg();
    const { ticket } = (await call("POST", "/api/v1/realtime/ticket", { token: tokens.agent })).json as { ticket: string };
    const first = await connect("/api/v1/ws", { query: { ticket } });
    const second = await refusedUpgrade("/api/v1/ws", { query: { ticket } });
    expect(second.frames).toEqual([]);
    expect(second.code).toBe(4401);
    expect(second.reason).toEqual({ code: "TICKET_INVALID", message: expect.stringContaining("request a new one") });
    first.close();
  });

  it("a long message is shortened to fit the 123-byte close reason; code is kept", async () => {
    const { tokens } = await setupOrg();
    const origin = `https://${"a".repeat(200)}.example`;
    const r = await refusedUpgrade("/api/v1/ws", { token: tokens.agent, headers: { Origin: origin } });
    expect(r.code).toBe(4403);
    expect(new TextEncoder().encode(r.text).byteLength).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES);
    expect(r.reason.code).toBe("ORIGIN_NOT_ALLOWED");
    expect(r.reason.message).toMatch(/^Origin https:\/\/a+…$/);

    // Multi-byte text is cut between characters, and retryAfter is kept whole.
    const text = refusalReason({ code: "RATE_LIMITED", message: "é".repeat(200), retryAfter: 60 });
    expect(new TextEncoder().encode(text).byteLength).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES);
    expect(JSON.parse(text)).toEqual({ code: "RATE_LIMITED", message: expect.stringMatching(/^é+…$/), retryAfter: 60 });
    expect(refusalReason({ code: "FORBIDDEN", message: "short" })).toBe('{"code":"FORBIDDEN","message":"short"}');
  });

  it("refusals the Worker decides (auth, origin, validation, expiry) never create or wake a hub", async () => {
    const { org, tokens } = await setupOrg();
    const expired = await makeToken({ org, sub: "agent2", role: "agent", expiresIn: -5 });
    const attempts: [string, Parameters<typeof tryConnect>[1]][] = [
      ["/api/v1/ws", { token: tokens.agent, headers: { Origin: "https://evil.example" } }],
      ["/api/v1/ws", { token: tokens.agent, query: { since: "abc" } }],
      ["/api/v1/ws", { token: expired }],
      ["/api/v1/ws/org", { token: tokens.agent, headers: { Origin: "https://evil.example" } }],
      ["/api/v1/ws/org", { token: tokens.agent, query: { channels: "Not-A-Channel" } }],
      ["/api/v1/ws/org", { token: expired }],
    ];
    for (const [path, o] of attempts) expect((await refusedUpgrade(path, o)).code).toBeGreaterThanOrEqual(4400);
    expect(await hubExists(env.USER_HUB, `${org}/agent1`), "agent1's user hub").toBe(false);
    expect(await hubExists(env.USER_HUB, `${org}/agent2`), "agent2's user hub").toBe(false);
    expect(await hubExists(env.ORG_HUB, org), "the org hub").toBe(false);
    // The probe itself: an accepted upgrade does create the hubs.
    const s = await connect("/api/v1/ws", { token: tokens.agent });
    expect(await hubExists(env.USER_HUB, `${org}/agent1`)).toBe(true);
    expect(await hubExists(env.ORG_HUB, org)).toBe(true);
    s.close();
  });

  it("an upgrade spends no REST budget: a caller over it still opens sockets", { timeout: 60_000 }, async () => {
    // vitest.config.ts: 100 requests per 60 s per caller; windows follow the wall clock.
    const into = Date.now() % 60_000;
    if (into > 45_000) await new Promise((r) => setTimeout(r, 60_000 - into + 100));
    const { org } = await setupOrg();
    const busy = await makeToken({ org, sub: "busy", role: "agent" });
    for (let i = 0; i < 100; i++) await call("GET", "/api/v1/nothing-here", { token: busy });
    expect((await call("GET", "/api/v1/alerts", { token: busy })).json.error.code).toBe("RATE_LIMITED");
    const s = await connect("/api/v1/ws", { token: busy });
    const o = await connect("/api/v1/ws/org", { token: busy });
    s.close();
    o.close();
  });

  it.each([
    ["user stream", "/api/v1/ws"],
    ["org stream", "/api/v1/ws/org"],
  ])(
    "past MAX_CONNECTS_PER_MINUTE connects of one user on the %s: close 4429 RATE_LIMITED with retryAfter; other users connect",
    { timeout: 60_000 },
    async (_name, path) => {
      // vitest.config.ts: MAX_CONNECTS_PER_MINUTE = 40.
      const { org } = await setupOrg();
      const looping = await makeToken({ org, sub: "looping", role: "agent" });
      for (let i = 0; i < 40; i++) (await connect(path, { token: looping })).close();
      const r = await refusedUpgrade(path, { token: looping });
      expect(r.frames).toEqual([]);
      expect(r.code, r.text).toBe(4429);
      expect(r.reason).toEqual({ code: "RATE_LIMITED", message: expect.stringContaining("40 connects per minute"), retryAfter: expect.any(Number) });
      expect(r.reason.retryAfter).toBeGreaterThanOrEqual(1);
      expect(r.reason.retryAfter).toBeLessThanOrEqual(2);
      const other = await connect(path, { token: await makeToken({ org, sub: "calm", role: "agent" }) });
      other.close();
    },
  );
});
