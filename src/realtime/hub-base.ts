import { DurableObject } from "cloudflare:workers";
import { getConfig, type Config } from "../config";
import type { Role } from "../types";
import {
  ClientFrameSchema,
  CloseCode,
  PING_FRAME,
  PONG_FRAME,
  PROTOCOL_VERSION,
  SocketErrorCode,
  type ClientFrame,
  type ConnectedFrame,
  type EventFrame,
  type ResyncRequiredFrame,
  type Scope,
  type Stream,
} from "../protocol";

/**
 * Per-socket state, kept with `serializeAttachment` so it survives
 * hibernation. Ids and small fields only (the platform caps attachments at
 * 2 KiB); subscriptions and the event log live in the hub's SQLite storage.
 */
export interface Attachment {
  /** Connection id. */
  cid: string;
  uid: string;
  org: string;
  role: Role;
  stream: Stream;
  /** Connected at (ms). */
  at: number;
  /** Token expiry (ms): the socket is closed with 4001 then. */
  exp: number;
  /** Last client frame (ms); pings answered by auto-response are read from the platform. */
  la: number;
}

/** The identity the Worker verified, passed to a hub with the upgrade request. */
export interface ConnectIdentity {
  userId: string;
  orgId: string;
  role: Role;
  /** Token expiry, ms since epoch. */
  exp: number;
}

/** An event handed to a hub to append and fan out. */
export interface HubEvent {
  id: string;
  type: string;
  /** When the publish started (ms): the basis of publish-to-send latency. */
  ts: number;
  data: unknown;
  channel?: string;
  scope?: Scope;
}

/** What a hub reports for one publish. */
export interface PublishResult {
  seq: number;
  /** Sockets the frame was sent to (0 for a duplicate: it was sent the first time). */
  delivered: number;
  duplicate: boolean;
  latencyMs: number;
}

/** Header carrying the verified identity from the Worker to a hub (never from a client). */
export const IDENTITY_HEADER = "X-Herald-Identity";

/** An upgrade the Worker forwarded: its internal URL, the verified identity, `since` if resuming. */
export interface ConnectRequest {
  url: URL;
  identity: ConnectIdentity;
  since: number | undefined;
}

function readIdentity(request: Request): ConnectIdentity | undefined {
  const raw = request.headers.get(IDENTITY_HEADER);
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as ConnectIdentity;
    if (typeof v.userId === "string" && typeof v.orgId === "string" && typeof v.role === "string" && typeof v.exp === "number") return v;
  } catch {
    // fall through
  }
  return undefined;
}

/** An open socket of this hub with its attachment. */
export interface LiveSocket {
  ws: WebSocket;
  att: Attachment;
}

interface Bucket {
  tokens: number;
  last: number;
  refusedSince: number;
  refused: number;
  warnedAt: number;
}

interface LogRow extends Record<string, SqlStorageValue> {
  seq: number;
  frame: string;
  channel: string | null;
  dept: string | null;
  queue: string | null;
}

/** Reserved close codes that must not be echoed back (RFC 6455 §7.4.1). */
const RESERVED_CLOSE_CODES = new Set([1005, 1006, 1015]);
const ABUSE_WINDOW_MS = 10_000;
/** Every this many appends, events beyond REPLAY_MAX_EVENTS are deleted. */
const PRUNE_EVERY = 100;

/** A JSON error response in the API's error format, for refusals before the upgrade. */
export function hubErrorResponse(status: number, code: string, message: string, headers?: Record<string, string>): Response {
  return Response.json({ error: { code, message } }, { status, headers });
}

/**
 * Shared machinery of UserHub and OrgHub: an ordered, durable, resumable event
 * log in SQLite; hibernatable sockets with their attachments; ping/pong by
 * auto-response; frame size and rate limits; token-expiry closes and log
 * pruning by alarm.
 *
 * Hook discipline (after partyserver): every socket hook ignores sockets this
 * hub did not accept, wraps its body in try/catch and logs with a prefix that
 * names the hub; `webSocketClose` reciprocates the close. Instance fields are
 * caches rebuilt from `ctx.getWebSockets()` and storage after a wake-up.
 */
export abstract class HubBase extends DurableObject<Env> {
  protected abstract readonly stream: Stream;
  protected readonly sql: SqlStorage;
  #head: number | undefined;
  #attachments = new WeakMap<WebSocket, Attachment>();
  /**
   * Index of this hub's sockets (connection id → socket, user id → sockets),
   * so that admission, counts and fan-out never walk `ctx.getWebSockets()`
   * per call. A cache: rebuilt from the platform's list after a wake-up, kept
   * in step by acceptSocket and disconnect.
   */
  #live: Map<string, LiveSocket> | undefined;
  #byUser = new Map<string, Set<LiveSocket>>();
  #buckets = new Map<string, Bucket>();
  /** Connections already handled by onDisconnect (a close can be reported more than once). */
  #gone = new Set<string>();
  /** The armed alarm (ms) or null: read once when the hub starts, then kept in step. */
  #alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // Heartbeats are answered by the runtime without waking the hub.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS log (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        ts INTEGER NOT NULL,
        channel TEXT,
        dept TEXT,
        queue TEXT,
        frame TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS log_ts ON log (ts);
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
    `);
    this.migrate();
    void ctx.blockConcurrencyWhile(async () => {
      this.#alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** The only HTTP entry: the Worker's forwarded upgrade (`/connect`). */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== "/connect" || request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return hubErrorResponse(404, "NOT_FOUND", "No such hub route");
    }
    const identity = readIdentity(request);
    if (!identity) return hubErrorResponse(400, "VALIDATION_FAILED", "Missing identity");
    const raw = url.searchParams.get("since");
    return this.acceptUpgrade({ url, identity, since: raw === null ? undefined : Number(raw) });
  }

  /** Accepts (or refuses, as a JSON error response) a verified upgrade. */
  protected abstract acceptUpgrade(request: ConnectRequest): Promise<Response>;

  /** Subclasses create their own tables here (runs in the constructor, synchronously). */
  protected migrate(): void {}

  protected get config(): Config {
    return getConfig(this.env);
  }

  protected get logPrefix(): string {
    return `herald ${this.constructor.name}:${this.ctx.id.name ?? this.ctx.id.toString()}`;
  }

  // ─────────────────────────── metadata ───────────────────────────

  protected getMeta(key: string): string | undefined {
    const row = this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = ?", key).toArray()[0];
    return row?.v;
  }

  protected setMeta(key: string, value: string): void {
    this.sql.exec("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", key, value);
  }

  /** The seq of the latest event ever appended (0 when none). Survives pruning. */
  protected head(): number {
    this.#head ??= Number(this.getMeta("head") ?? 0);
    return this.#head;
  }

  // ─────────────────────────── sockets ───────────────────────────

  /** The attachment of a socket this hub accepted, or undefined for any other socket. */
  protected attachment(ws: WebSocket): Attachment | undefined {
    let att = this.#attachments.get(ws);
    if (!att) {
      const raw = ws.deserializeAttachment() as Attachment | null;
      if (!raw || typeof raw !== "object" || typeof raw.cid !== "string") return undefined;
      att = raw;
      this.#attachments.set(ws, att);
    }
    return att;
  }

  protected saveAttachment(ws: WebSocket, att: Attachment): void {
    ws.serializeAttachment(att);
    this.#attachments.set(ws, att);
  }

  #index(): Map<string, LiveSocket> {
    if (this.#live) return this.#live;
    this.#live = new Map();
    this.#byUser.clear();
    for (const ws of this.ctx.getWebSockets()) {
      const att = this.attachment(ws);
      if (att && ws.readyState === WebSocket.OPEN && !this.#gone.has(att.cid)) this.#track({ ws, att });
    }
    return this.#live;
  }

  #track(s: LiveSocket): void {
    this.#live!.set(s.att.cid, s);
    let mine = this.#byUser.get(s.att.uid);
    if (!mine) this.#byUser.set(s.att.uid, (mine = new Set()));
    mine.add(s);
  }

  #untrack(cid: string): void {
    const s = this.#live?.get(cid);
    if (!s) return;
    this.#live!.delete(cid);
    const mine = this.#byUser.get(s.att.uid);
    mine?.delete(s);
    if (mine?.size === 0) this.#byUser.delete(s.att.uid);
  }

  /** Open sockets of this hub with their attachments. */
  protected sockets(): LiveSocket[] {
    const out: LiveSocket[] = [];
    for (const s of this.#index().values()) if (s.ws.readyState === WebSocket.OPEN) out.push(s);
    return out;
  }

  /**
   * Every socket of this hub by connection id, for hot loops (a socket whose
   * close is still being processed is included: send() to it fails quietly).
   */
  protected liveSockets(): ReadonlyMap<string, LiveSocket> {
    return this.#index();
  }

  /** The open socket of a connection id, if any. */
  protected socketOf(cid: string): LiveSocket | undefined {
    const s = this.#index().get(cid);
    return s && s.ws.readyState === WebSocket.OPEN ? s : undefined;
  }

  /** How many sockets this hub holds (a socket whose close is still being processed counts until then). O(1). */
  protected socketCount(): number {
    return this.#index().size;
  }

  /** Open sockets of one user, optionally without one connection. O(that user's sockets). */
  protected userSocketCount(userId: string, excludeCid?: string): number {
    this.#index();
    let n = 0;
    for (const s of this.#byUser.get(userId) ?? []) if (s.att.cid !== excludeCid && s.ws.readyState === WebSocket.OPEN) n++;
    return n;
  }

  /** Last activity of a socket: its last frame or its last auto-answered ping. */
  protected lastActivity(ws: WebSocket, att: Attachment): number {
    const ping = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    return Math.max(att.la, ping);
  }

  /** Sends a frame, ignoring a socket that is closing under us. */
  protected send(ws: WebSocket, text: string): boolean {
    try {
      ws.send(text);
      return true;
    } catch {
      return false;
    }
  }

  protected sendError(ws: WebSocket, code: SocketErrorCode, message: string, ref?: string): void {
    this.send(ws, JSON.stringify({ type: "error", ...(ref !== undefined && { ref }), code, message }));
  }

  /**
   * Accepts a socket for a verified identity: attachment, tags, and an alarm for
   * its token's expiry. Everything after this call in the same turn (replay,
   * `connected`) reaches the client before any later publish, because the hub
   * is single-threaded and the SQLite API is synchronous.
   */
  protected acceptSocket(identity: ConnectIdentity): { client: WebSocket; server: WebSocket; att: Attachment } {
    const pair = new WebSocketPair();
    const client = pair[0];
    const server = pair[1];
    const now = Date.now();
    const att: Attachment = {
      cid: crypto.randomUUID(),
      uid: identity.userId,
      org: identity.orgId,
      role: identity.role,
      stream: this.stream,
      at: now,
      exp: identity.exp,
      la: now,
    };
    this.ctx.acceptWebSocket(server, [att.cid, `u:${att.uid}`]);
    this.saveAttachment(server, att);
    this.#index();
    this.#track({ ws: server, att });
    return { client, server, att };
  }

  protected connectedFrame(att: Attachment, resumed: boolean, replayed: number, subscriptions: ConnectedFrame["subscriptions"]): string {
    const frame: ConnectedFrame = {
      type: "connected",
      connectionId: att.cid,
      userId: att.uid,
      organizationId: att.org,
      stream: this.stream,
      seq: this.head(),
      resumed,
      replayed,
      subscriptions,
      serverTime: new Date().toISOString(),
      protocol: PROTOCOL_VERSION,
    };
    return JSON.stringify(frame);
  }

  // ─────────────────────────── the log ───────────────────────────

  /**
   * Appends an event to the log (durable before anyone sees it) and returns
   * its frame, serialized once. An id already in the log is not appended again.
   */
  protected append(event: HubEvent): { seq: number; frame: string; duplicate: boolean } {
    const existing = this.sql.exec<{ seq: number; frame: string }>("SELECT seq, frame FROM log WHERE id = ?", event.id).toArray()[0];
    if (existing) return { seq: existing.seq, frame: existing.frame, duplicate: true };
    const seq = this.head() + 1;
    const frame: EventFrame = {
      type: event.type,
      id: event.id,
      stream: this.stream,
      seq,
      ts: new Date(event.ts).toISOString(),
      ...(event.channel !== undefined && { channel: event.channel, scope: event.scope ?? {} }),
      data: event.data,
    };
    const text = JSON.stringify(frame);
    this.sql.exec(
      "INSERT INTO log (seq, id, type, ts, channel, dept, queue, frame) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      seq,
      event.id,
      event.type,
      Date.now(),
      event.channel ?? null,
      event.scope?.dept ?? null,
      event.scope?.queue ?? null,
      text,
    );
    this.#head = seq;
    this.setMeta("head", String(seq));
    // Count-based pruning inline, cheaply (seq is the primary key); time-based by alarm.
    if (seq % PRUNE_EVERY === 0) this.sql.exec("DELETE FROM log WHERE seq <= ?", seq - this.config.replayMaxEvents);
    this.armAlarm(Date.now() + this.config.replayRetentionSeconds * 1000);
    return { seq, frame: text, duplicate: false };
  }

  /** The oldest seq that may still be replayed: within both the time and the count window. */
  protected oldestReplayable(): number {
    const head = this.head();
    const { replayRetentionSeconds, replayMaxEvents } = this.config;
    const cutoff = Date.now() - replayRetentionSeconds * 1000;
    const row = this.sql.exec<{ seq: number | null }>("SELECT min(seq) AS seq FROM log WHERE ts >= ?", cutoff).toArray()[0];
    const oldestKept = row?.seq ?? head + 1;
    return Math.max(oldestKept, head - replayMaxEvents + 1, 1);
  }

  /**
   * Sends every logged event after `since` that `matches` to one socket, in
   * order. If part of that range is no longer kept, nothing is replayed and a
   * `resync-required` frame is sent instead: never a silent gap.
   */
  protected replay(
    ws: WebSocket,
    since: number,
    matches: (row: LogRow) => boolean,
    /** When given, only rows of these channels are read (the org stream: a socket's subscriptions). */
    channels?: string[],
  ): { resumed: boolean; replayed: number } {
    const head = this.head();
    const oldest = this.oldestReplayable();
    if (since > head || since + 1 < oldest) {
      const frame: ResyncRequiredFrame = { type: "resync-required", reason: since > head ? "ahead" : "expired", seq: head, oldestSeq: oldest };
      this.send(ws, JSON.stringify(frame));
      return { resumed: false, replayed: 0 };
    }
    if (channels !== undefined && channels.length === 0) return { resumed: true, replayed: 0 };
    let replayed = 0;
    const rows =
      channels === undefined
        ? this.sql.exec<LogRow>("SELECT seq, frame, channel, dept, queue FROM log WHERE seq > ? ORDER BY seq", since)
        : // The channels as one JSON parameter: SQLite in a Durable Object binds at most 100 per statement.
          this.sql.exec<LogRow>(
            "SELECT seq, frame, channel, dept, queue FROM log WHERE seq > ? AND channel IN (SELECT value FROM json_each(?)) ORDER BY seq",
            since,
            JSON.stringify(channels),
          );
    for (const row of rows) {
      if (!matches(row)) continue;
      this.send(ws, row.frame);
      replayed++;
    }
    return { resumed: true, replayed };
  }

  // ─────────────────────────── alarm ───────────────────────────

  /**
   * Makes sure the alarm fires no later than `at`. Cheap: the armed time is
   * cached, so a publish that needs nothing earlier costs no storage call.
   */
  protected armAlarm(at: number): void {
    if (this.#alarmAt !== null && this.#alarmAt !== undefined && this.#alarmAt <= at) return;
    const when = Math.max(at, Date.now());
    this.#alarmAt = when;
    void this.ctx.storage.setAlarm(when);
  }

  /**
   * Arms the alarm for the next piece of work: the earliest token expiry,
   * pruning the log while it holds events, subclass work. No work, no alarm.
   */
  protected scheduleAlarm(): void {
    const candidates: number[] = [];
    for (const { att } of this.sockets()) candidates.push(att.exp);
    const oldest = this.sql.exec<{ ts: number | null; n: number }>("SELECT min(ts) AS ts, count(*) AS n FROM log").toArray()[0];
    if (oldest && oldest.n > 0 && oldest.ts !== null) {
      const { replayRetentionSeconds, replayMaxEvents } = this.config;
      candidates.push(oldest.n > replayMaxEvents ? Date.now() + 1_000 : oldest.ts + replayRetentionSeconds * 1000);
    }
    const extra = this.nextWorkAt();
    if (extra !== undefined) candidates.push(extra);
    if (candidates.length > 0) this.armAlarm(Math.min(...candidates));
  }

  /** Subclasses add their own alarm work (ms), e.g. a coalesced stats event. */
  protected nextWorkAt(): number | undefined {
    return undefined;
  }

  protected async onAlarmWork(): Promise<void> {}

  override async alarm(): Promise<void> {
    // This alarm is spent; scheduleAlarm() below arms the next one if there is work.
    this.#alarmAt = null;
    try {
      const now = Date.now();
      for (const { ws, att } of this.sockets()) {
        if (att.exp <= now) {
          try {
            ws.close(CloseCode.TOKEN_EXPIRED, "token expired");
          } catch {
            // already closing
          }
          await this.disconnect(ws, att);
        }
      }
      this.prune(now);
      await this.onAlarmWork();
    } catch (err) {
      console.error(`${this.logPrefix} alarm:`, err);
    } finally {
      this.scheduleAlarm();
    }
  }

  /** Drops events outside the replay window (time and count). */
  protected prune(now = Date.now()): void {
    const { replayRetentionSeconds, replayMaxEvents } = this.config;
    this.sql.exec("DELETE FROM log WHERE ts < ? OR seq <= ?", now - replayRetentionSeconds * 1000, this.head() - replayMaxEvents);
  }

  // ─────────────────────────── socket hooks ───────────────────────────

  /** Handles a parsed, rate-checked client frame. */
  protected abstract onFrame(ws: WebSocket, att: Attachment, frame: Exclude<ClientFrame, { type: "ping" }>): Promise<void> | void;

  /** Called once when a socket of this hub goes away (close, error, expiry). */
  protected abstract onDisconnect(ws: WebSocket, att: Attachment): Promise<void> | void;

  /** Runs onDisconnect at most once per connection. */
  protected async disconnect(ws: WebSocket, att: Attachment): Promise<void> {
    if (this.#gone.has(att.cid)) return;
    if (this.#gone.size >= 10_000) this.#gone.clear();
    this.#gone.add(att.cid);
    this.#buckets.delete(att.cid);
    this.#untrack(att.cid);
    await this.onDisconnect(ws, att);
  }

  /** Token bucket per connection. In memory on purpose: after a wake-up the bucket is full, as it would be after 2 s of silence. */
  #allowFrame(ws: WebSocket, att: Attachment): boolean {
    const { frameRatePerSecond, frameBurst, frameAbuseLimit } = this.config;
    const now = Date.now();
    let b = this.#buckets.get(att.cid);
    if (!b) {
      b = { tokens: frameBurst, last: now, refusedSince: now, refused: 0, warnedAt: 0 };
      this.#buckets.set(att.cid, b);
    }
    b.tokens = Math.min(frameBurst, b.tokens + ((now - b.last) / 1000) * frameRatePerSecond);
    b.last = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    if (now - b.refusedSince > ABUSE_WINDOW_MS) {
      b.refusedSince = now;
      b.refused = 0;
    }
    b.refused++;
    if (b.refused > frameAbuseLimit) {
      this.sendError(ws, SocketErrorCode.RATE_LIMIT_EXCEEDED, "Too many frames; closing");
      try {
        ws.close(CloseCode.POLICY_VIOLATION, "rate limit abuse");
      } catch {
        // already closing
      }
      void this.disconnect(ws, att);
      return false;
    }
    if (now - b.warnedAt >= 1_000) {
      b.warnedAt = now;
      this.sendError(ws, SocketErrorCode.RATE_LIMIT_EXCEEDED, `More than ${frameRatePerSecond} frames per second; frames are being dropped`);
    }
    return false;
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = this.attachment(ws);
    if (!att) return;
    try {
      const max = this.config.maxFrameBytes;
      const size = typeof message === "string" ? (message.length * 3 <= max ? 0 : new TextEncoder().encode(message).byteLength) : message.byteLength;
      if (size > max) {
        this.sendError(ws, SocketErrorCode.MESSAGE_TOO_LARGE, `Frames are limited to ${max} bytes`);
        ws.close(CloseCode.MESSAGE_TOO_BIG, "message too large");
        await this.disconnect(ws, att);
        return;
      }
      if (!this.#allowFrame(ws, att)) return;
      att.la = Date.now();
      this.saveAttachment(ws, att);
      if (typeof message !== "string") {
        this.sendError(ws, SocketErrorCode.INVALID_MESSAGE, "Binary frames are not supported; send JSON text");
        return;
      }
      let json: unknown;
      try {
        json = JSON.parse(message);
      } catch {
        this.sendError(ws, SocketErrorCode.INVALID_MESSAGE, "Frames must be JSON");
        return;
      }
      const parsed = ClientFrameSchema.safeParse(json);
      if (!parsed.success) {
        const ref = typeof (json as { ref?: unknown })?.ref === "string" ? (json as { ref: string }).ref : undefined;
        const issue = parsed.error.issues[0];
        this.sendError(ws, SocketErrorCode.INVALID_MESSAGE, `Invalid frame${issue ? ` at ${issue.path.join(".") || "type"}: ${issue.message}` : ""}`, ref);
        return;
      }
      // A ping with extra whitespace or fields misses the auto-response; answer it here.
      if (parsed.data.type === "ping") {
        this.send(ws, PONG_FRAME);
        return;
      }
      await this.onFrame(ws, att, parsed.data);
    } catch (err) {
      console.error(`${this.logPrefix} webSocketMessage:`, err);
      this.sendError(ws, SocketErrorCode.INTERNAL, "The hub failed to handle this frame");
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string, _wasClean: boolean): Promise<void> {
    const att = this.attachment(ws);
    if (!att) return;
    try {
      // Reciprocate, or the client waits in CLOSING until it times out.
      if (!RESERVED_CLOSE_CODES.has(code)) {
        try {
          ws.close(code, reason);
        } catch {
          // already closed
        }
      }
      await this.disconnect(ws, att);
    } catch (err) {
      console.error(`${this.logPrefix} webSocketClose:`, err);
    }
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    const att = this.attachment(ws);
    if (!att) return;
    try {
      console.warn(`${this.logPrefix} webSocketError:`, error);
      await this.disconnect(ws, att);
    } catch (err) {
      console.error(`${this.logPrefix} webSocketError:`, err);
    }
  }
}
