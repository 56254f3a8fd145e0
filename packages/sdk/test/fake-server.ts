import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { PING_FRAME, PONG_FRAME, refusalReason } from "../../../src/protocol/index";

/**
 * A small in-process Herald for the SDK's unit tests, speaking the wire
 * protocol over real sockets on a random loopback port: single-use tickets,
 * per-stream logs with seq and replay after `since`, `connected`,
 * `unread:count`, the exact-text ping auto-response, subscribe/unsubscribe/
 * resume/mark frames with refs, refusals as 101 + 4xxx close. Tests steer it
 * (publish, drop sockets, refuse the next dials) and inspect what it saw.
 */
export interface FakeEvent {
  type: string;
  id: string;
  stream: "user" | "org";
  seq: number;
  ts: string;
  channel?: string;
  scope?: { dept?: string; queue?: string };
  data: unknown;
}

interface Conn {
  ws: WebSocket;
  stream: "user" | "org";
  subs: { channel: string; scope: { dept?: string; queue?: string } }[];
}

export class FakeHerald {
  server!: Server;
  wss = new WebSocketServer({ noServer: true });
  port = 0;
  conns = new Set<Conn>();
  logs: { user: FakeEvent[]; org: FakeEvent[] } = { user: [], org: [] };
  /** Every ticket issued, and every one presented on a dial (in order). */
  ticketsIssued: string[] = [];
  ticketsPresented: string[] = [];
  /** The query of every dial. */
  dials: { stream: "user" | "org"; params: URLSearchParams }[] = [];
  /** Client frames received (parsed), pings as "PING". */
  received: { stream: "user" | "org"; frame: any }[] = [];
  /** Tokens seen on ticket requests. */
  tokensSeen: string[] = [];
  validTokens = new Set<string>(["t1"]);
  /** Refusals for the next dials, consumed in order: [code, reason]. */
  refuseNext: { code: number; reason: string }[] = [];
  /** Refuse every dial with 4503 while set (upgrades fail, REST works). */
  refuseAll = false;
  /** Answer pings (the runtime's auto-response); off simulates a dead peer. */
  answerPings = true;
  /** Never answer ticket requests while set (a hung server). */
  hangTickets = false;
  /** Fail the ticket endpoint with this status while set. */
  ticketStatus: number | undefined;
  unread = { count: 0, unseen: 0 };
  notifications: any[] = [];
  /** While set, `GET /api/v1/notifications` reads its page at once but answers only when this settles. */
  notificationsGate: Promise<void> | undefined;
  /** `GET /api/v1/notifications` requests received. */
  notificationLists = 0;
  polled: { since: string | null; channels: string | null }[] = [];
  acked: string[] = [];
  /** The server's clock minus the real one (event ts and the Date header). */
  clockSkewMs = 0;
  private nextId = 1;

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => this.http(req, res));
    this.server.on("upgrade", (req, socket, head) => this.upgrade(req, socket, head));
    await new Promise<void>((resolve) => this.server.listen(port, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Appends an event to a stream's log and sends it to the matching sockets. */
  publish(stream: "user" | "org", type: string, data: unknown, extra: { id?: string; channel?: string; scope?: FakeEvent["scope"]; ts?: string } = {}): FakeEvent {
    const log = this.logs[stream];
    const event: FakeEvent = {
      type,
      id: extra.id ?? `evt_${this.nextId++}`,
      stream,
      seq: log.length + 1,
      ts: extra.ts ?? new Date(Date.now() + this.clockSkewMs).toISOString(),
      ...(extra.channel !== undefined && { channel: extra.channel, scope: extra.scope ?? {} }),
      data,
    };
    log.push(event);
    for (const c of this.conns) if (c.stream === stream && this.matches(c, event)) c.ws.send(JSON.stringify(event));
    return event;
  }

  /** Sends the badge to every user socket. */
  sendBadge(): void {
    for (const c of this.conns) if (c.stream === "user") c.ws.send(this.badgeFrame());
  }

  /** Drops every socket without a close frame (a network failure / deploy). */
  dropAll(): void {
    for (const c of this.conns) c.ws.terminate();
    this.conns.clear();
  }

  /** Closes every socket with a code (e.g. 4001 at token expiry). */
  closeAll(code: number, reason = ""): void {
    for (const c of this.conns) c.ws.close(code, reason);
  }

  openCount(stream?: "user" | "org"): number {
    return [...this.conns].filter((c) => !stream || c.stream === stream).length;
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.ws.terminate();
    this.conns.clear();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private matches(c: Conn, e: FakeEvent): boolean {
    if (c.stream === "user") return true;
    return c.subs.some((s) => s.channel === e.channel && (s.scope.dept === undefined || e.scope?.dept === undefined || s.scope.dept === e.scope.dept));
  }

  private badgeFrame(): string {
    return JSON.stringify({ type: "unread:count", stream: "user", ts: new Date().toISOString(), data: this.unread });
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { "content-type": "application/json", date: new Date(Date.now() + this.clockSkewMs).toUTCString() });
    res.end(JSON.stringify(body));
  }

  private async http(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const token = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    let body = "";
    for await (const chunk of req) body += chunk;
    if (!this.validTokens.has(token)) return this.json(res, 401, { error: { code: "TOKEN_EXPIRED", message: "expired" } });
    if (req.method === "POST" && url.pathname === "/api/v1/realtime/ticket") {
      this.tokensSeen.push(token);
      if (this.hangTickets) return;
      if (this.ticketStatus) return this.json(res, this.ticketStatus, { error: { code: "NOPE", message: "no ticket", retryAfter: 1 } });
      const ticket = `tkt_${this.ticketsIssued.length + 1}`;
      this.ticketsIssued.push(ticket);
      return this.json(res, 201, { ticket, expiresAt: new Date(Date.now() + 30000).toISOString(), urls: {} });
    }
    if (req.method === "GET" && url.pathname === "/api/v1/events") {
      this.polled.push({ since: url.searchParams.get("since"), channels: url.searchParams.get("channels") });
      const after = Number(url.searchParams.get("since") ?? 0);
      const items = this.logs.user
        .map((e, i) => ({ e, pos: i + 1 }))
        .filter(({ e, pos }) => pos > after && !this.acked.includes(e.id))
        .map(({ e }) => ({ id: e.id, type: e.type, stream: e.stream, ts: e.ts, data: e.data }));
      return this.json(res, 200, { items, nextCursor: String(this.logs.user.length), hasMore: false });
    }
    if (req.method === "POST" && url.pathname === "/api/v1/events/ack") {
      const { ids } = JSON.parse(body);
      this.acked.push(...ids);
      return this.json(res, 200, { acknowledged: ids.length });
    }
    if (req.method === "GET" && url.pathname === "/api/v1/notifications") {
      this.notificationLists++;
      const items = [...this.notifications];
      await this.notificationsGate;
      return this.json(res, 200, { items, nextCursor: null });
    }
    if (req.method === "GET" && url.pathname === "/api/v1/notifications/counts")
      return this.json(res, 200, { unread: this.unread.count, unseen: this.unread.unseen, total: this.notifications.length });
    const read = /^\/api\/v1\/notifications\/([^/]+)\/read$/.exec(url.pathname);
    if (req.method === "POST" && read) {
      const n = this.markRead(read[1]!);
      return n ? this.json(res, 200, n) : this.json(res, 404, { error: { code: "NOT_FOUND", message: "no" } });
    }
    return this.json(res, 404, { error: { code: "NOT_FOUND", message: `${req.method} ${url.pathname}` } });
  }

  /** Marks a notification read as the server would: the change event and the badge to every user socket. */
  markRead(id: string): any {
    const n = this.notifications.find((x) => x.id === id);
    if (!n) return undefined;
    if (!n.readAt) {
      n.readAt = new Date().toISOString();
      this.unread = { ...this.unread, count: this.unread.count - 1 };
      this.publish("user", "notification:read", { ids: [id], notification: n });
      this.sendBadge();
    }
    return n;
  }

  private upgrade(req: IncomingMessage, socket: any, head: Buffer): void {
    const url = new URL(req.url ?? "/", this.url);
    const stream = url.pathname === "/api/v1/ws" ? "user" : url.pathname === "/api/v1/ws/org" ? "org" : undefined;
    if (!stream) return socket.destroy();
    const bearer = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, stream, url.searchParams, bearer));
  }

  /** Bearer tokens presented in upgrade headers (Node clients with auth: "header"). */
  headerTokens: string[] = [];

  private accept(ws: WebSocket, stream: "user" | "org", params: URLSearchParams, bearer = ""): void {
    this.dials.push({ stream, params });
    if (bearer) this.headerTokens.push(bearer);
    const ticket = params.get("ticket") ?? "";
    this.ticketsPresented.push(ticket);
    const refusal = this.refuseAll ? { code: 4503, reason: refusalReason({ code: "UNAVAILABLE", message: "refused" }) } : this.refuseNext.shift();
    if (refusal) return ws.close(refusal.code, refusal.reason);
    if (!params.has("ticket") && bearer) {
      if (!this.validTokens.has(bearer)) return ws.close(4401, refusalReason({ code: "TOKEN_EXPIRED", message: "expired" }));
    } else if (!this.ticketsIssued.includes(ticket) || this.ticketsPresented.indexOf(ticket) !== this.ticketsPresented.length - 1) {
      return ws.close(4401, refusalReason({ code: "TICKET_INVALID", message: "Unknown, expired or used ticket" }));
    }
    const conn: Conn = { ws, stream, subs: [] };
    this.conns.add(conn);
    ws.on("close", () => this.conns.delete(conn));
    ws.on("message", (raw) => this.onClientFrame(conn, String(raw)));
    const log = this.logs[stream];
    const sinceText = params.get("since");
    let replayed = 0;
    if (sinceText !== null) {
      const since = Number(sinceText);
      if (since > log.length) {
        ws.send(JSON.stringify({ type: "resync-required", reason: "ahead", seq: log.length, oldestSeq: 1 }));
      } else
        for (const e of log.slice(since)) {
          if (stream === "org" && !this.matches(conn, e)) continue;
          ws.send(JSON.stringify(e));
          replayed++;
        }
    }
    ws.send(
      JSON.stringify({
        type: "connected",
        connectionId: `c${this.dials.length}`,
        userId: "u1",
        organizationId: "o1",
        stream,
        seq: log.length,
        resumed: sinceText !== null,
        replayed,
        subscriptions: conn.subs,
        serverTime: new Date(Date.now() - 60_000).toISOString(),
        protocol: 1,
      }),
    );
    if (stream === "user") ws.send(this.badgeFrame());
  }

  private onClientFrame(conn: Conn, text: string): void {
    if (text === PING_FRAME) {
      this.received.push({ stream: conn.stream, frame: "PING" });
      if (this.answerPings) conn.ws.send(PONG_FRAME);
      return;
    }
    const frame = JSON.parse(text);
    this.received.push({ stream: conn.stream, frame });
    const send = (f: unknown) => conn.ws.send(JSON.stringify(f));
    switch (frame.type) {
      case "subscribe":
        if (frame.channels.includes("forbidden")) return send({ type: "error", ref: frame.ref, code: "UNAUTHORIZED", message: "may not" });
        for (const channel of frame.channels) conn.subs.push({ channel, scope: frame.scope ?? {} });
        return send({ type: "ack", ref: frame.ref, subscriptions: conn.subs });
      case "unsubscribe":
        conn.subs = conn.subs.filter((s) => !frame.channels.includes(s.channel));
        return send({ type: "ack", ref: frame.ref, subscriptions: conn.subs });
      case "resume": {
        const log = this.logs[conn.stream];
        let replayed = 0;
        for (const e of log.slice(frame.since)) {
          if (conn.stream === "org" && !this.matches(conn, e)) continue;
          send(e);
          replayed++;
        }
        return send({ type: "ack", ref: frame.ref, resumed: true, replayed, seq: log.length });
      }
      case "mark:read": {
        const n = this.markRead(frame.notificationId);
        if (!n) return send({ type: "error", ref: frame.ref, code: "NOT_FOUND", message: "not yours" });
        return send({ type: "ack", ref: frame.ref, notificationId: n.id, readAt: n.readAt });
      }
      case "mark:all:read": {
        let updated = 0;
        for (const n of this.notifications) if (!n.readAt) ((n.readAt = new Date().toISOString()), updated++);
        this.unread = { ...this.unread, count: 0 };
        this.publish("user", "notification:read", { all: true, at: new Date().toISOString() });
        this.sendBadge();
        return send({ type: "ack", ref: frame.ref, updated });
      }
    }
  }
}

/** Waits until `check` returns a truthy value (generous default timeout). */
export async function eventually<T>(check: () => T | undefined | false | null, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
