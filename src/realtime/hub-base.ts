import { DurableObject } from "cloudflare:workers";
import { getConfig, type Config } from "../config";
import { AppError, ErrorCode, RETRY_AFTER_SECONDS } from "../errors";
import { refuseUpgrade } from "../middleware/ws-guard";
import {
  ClientFrameSchema,
  CloseCode,
  PING_FRAME,
  PONG_FRAME,
  PROTOCOL_VERSION,
  SocketErrorCode,
  type ClientFrame,
  type ConnectedFrame,
  type ErrorFrame,
  type ResumeAck,
  type Stream,
} from "../protocol";
import { AlarmClock } from "./alarms";
import { ConnectBudget } from "./connect-budget";
import { EventLog, type LogRow, type ReplayResult } from "./event-log";
import { FrameLimiter } from "./frame-limiter";
import { readIdentity, REQUEST_ID_HEADER, type ConnectIdentity, type ConnectRequest, type HubEvent } from "./hub-api";
import { MetaTable } from "./meta";
import { SocketIndex, type Attachment } from "./socket-index";
import { closeQuietly, isHarmlessTeardownError, reciprocateClose, sendQuietly } from "./teardown";

/** Retry-After (s) of a hub's CONNECTION_LIMIT refusal: long enough for a closing socket elsewhere to free its place. */
const CONNECTION_LIMIT_RETRY_AFTER_SECONDS = 10;

/** A hub's refusal of a socket past a connection limit: 429 `CONNECTION_LIMIT`, retry after 10 s. */
export function connectionLimit(message: string): AppError {
  return new AppError(429, ErrorCode.CONNECTION_LIMIT, message, undefined, { "Retry-After": String(CONNECTION_LIMIT_RETRY_AFTER_SECONDS) });
}

/**
 * A hub's refusal as the client sees it. An upgrade is refused the way the
 * Worker refuses one (`refuseUpgrade`): completed, then closed at once with
 * 4000 + status and the error's code, message and `retryAfter`; so the Worker
 * passes the hub's answer on as it is and never rebuilds an error from it.
 * Anything else gets the error's own JSON response.
 */
function refusal(error: AppError, upgrade: boolean, requestId: string | undefined): Response {
  if (!upgrade) return error.getResponse(requestId);
  const retryAfter = error.status === 429 ? Number(error.headers?.["Retry-After"] || RETRY_AFTER_SECONDS) : undefined;
  const reason = { code: error.code, message: error.message, ...(retryAfter !== undefined && { retryAfter }) };
  return refuseUpgrade(error.status, reason, requestId ? { [REQUEST_ID_HEADER]: requestId } : undefined);
}

/** Which logged events a replay sends to a socket: those `matches` accepts, read only from `channels` when given. */
export interface ReplaySelection {
  matches: (row: LogRow) => boolean;
  channels?: string[];
}

/** A client frame a hub handles itself (the base answers ping and resume). */
export type HubFrame = Exclude<ClientFrame, { type: "ping" | "resume" }>;

/**
 * Shared machinery of UserHub and OrgHub, composed of parts that each own
 * their state: the sockets (`SocketIndex`, attachments), the stream's log
 * (`EventLog`: append, replay, retention), the frame limiter, the alarm
 * (`AlarmClock`) and the `meta` table. The base answers pings and `resume`
 * frames, closes sockets at token expiry and prunes the log by alarm.
 *
 * Hook discipline (after partyserver): every socket hook ignores sockets this
 * hub did not accept, wraps its body in try/catch and logs with a prefix that
 * names the hub; `webSocketClose` reciprocates the close; transport errors of
 * a socket already going away are not warned about. Instance fields are
 * caches rebuilt from `ctx.getWebSockets()` and storage after a wake-up.
 */
export abstract class HubBase extends DurableObject<Env> {
  protected readonly meta: MetaTable;
  protected readonly log: EventLog;
  protected readonly sockets: SocketIndex;
  readonly #limiter: FrameLimiter;
  readonly #alarm: AlarmClock;
  readonly #connects = new ConnectBudget(() => this.config.maxConnectsPerMinute);

  constructor(
    ctx: DurableObjectState,
    env: Env,
    protected readonly stream: Stream,
  ) {
    super(ctx, env);
    // Heartbeats are answered by the runtime without waking the hub.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    this.meta = new MetaTable(ctx.storage.sql);
    this.log = new EventLog(
      ctx.storage.sql,
      this.meta,
      stream,
      () => ({ retentionSeconds: this.config.replayRetentionSeconds, maxEvents: this.config.replayMaxEvents }),
      { indexChannels: stream === "org" },
    );
    this.sockets = new SocketIndex(() => ctx.getWebSockets());
    this.#limiter = new FrameLimiter(() => ({
      ratePerSecond: this.config.frameRatePerSecond,
      burst: this.config.frameBurst,
      abuseLimit: this.config.frameAbuseLimit,
    }));
    this.#alarm = new AlarmClock(ctx);
  }

  /**
   * The only HTTP entry: the Worker's forwarded upgrade (`/connect`). An
   * AppError thrown on the way (a connection limit) becomes the refusal the
   * client sees (see `refusal`); any other error propagates to the Worker.
   */
  override async fetch(request: Request): Promise<Response> {
    const upgrade = request.headers.get("Upgrade")?.toLowerCase() === "websocket";
    try {
      const url = new URL(request.url);
      if (url.pathname !== "/connect" || !upgrade) throw new AppError(404, ErrorCode.NOT_FOUND, "No such hub route");
      const identity = readIdentity(request);
      if (!identity) throw new AppError(400, ErrorCode.VALIDATION_FAILED, "Missing identity");
      const raw = url.searchParams.get("since");
      this.spendConnect(identity.userId);
      return await this.acceptUpgrade({ url, identity, since: raw === null ? undefined : Number(raw) });
    } catch (err) {
      if (err instanceof AppError) return refusal(err, upgrade, request.headers.get(REQUEST_ID_HEADER) ?? undefined);
      throw err;
    }
  }

  /**
   * Spends one of the user's connects (MAX_CONNECTS_PER_MINUTE, see
   * ConnectBudget); over budget: 429 `RATE_LIMITED` with Retry-After, which
   * the client sees as close 4429. Every upgrade a hub handles starts here.
   */
  protected spendConnect(userId: string): void {
    const wait = this.#connects.take(userId);
    if (wait === undefined) return;
    throw new AppError(429, ErrorCode.RATE_LIMITED, `At most ${this.config.maxConnectsPerMinute} connects per minute per user on this stream`, undefined, {
      "Retry-After": String(wait),
    });
  }

  /** Accepts a verified upgrade (a 101), or refuses it by throwing an AppError. */
  protected abstract acceptUpgrade(request: ConnectRequest): Promise<Response>;

  protected get config(): Config {
    return getConfig(this.env);
  }

  protected get logPrefix(): string {
    return `herald ${this.constructor.name}:${this.ctx.id.name ?? this.ctx.id.toString()}`;
  }

  /** The seq of the latest event of this stream (0 when none). */
  async headSeq(): Promise<number> {
    return this.log.head();
  }

  // ─────────────────────────── sockets ───────────────────────────

  /** Last activity of a socket: its last frame or its last auto-answered ping. */
  protected lastActivity(ws: WebSocket, att: Attachment): number {
    const ping = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    return Math.max(att.la, ping);
  }

  /** Sends a frame, ignoring a socket that is closing under us. */
  protected send(ws: WebSocket, text: string): boolean {
    return sendQuietly(ws, text);
  }

  protected sendError(ws: WebSocket, code: SocketErrorCode, message: string, ref?: string): void {
    this.send(ws, JSON.stringify({ type: "error", ...(ref !== undefined && { ref }), code, message } satisfies ErrorFrame));
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
    this.sockets.add(server, att);
    return { client, server, att };
  }

  protected connectedFrame(att: Attachment, resumed: boolean, replayed: number, subscriptions: ConnectedFrame["subscriptions"]): string {
    const frame: ConnectedFrame = {
      type: "connected",
      connectionId: att.cid,
      userId: att.uid,
      organizationId: att.org,
      stream: this.stream,
      seq: this.log.head(),
      resumed,
      replayed,
      subscriptions,
      serverTime: new Date().toISOString(),
      protocol: PROTOCOL_VERSION,
    };
    return JSON.stringify(frame);
  }

  // ─────────────────────────── log and resume ───────────────────────────

  /** Appends an event to the stream's log (see EventLog.append) and keeps the alarm armed for its expiry. */
  protected append(event: HubEvent): { seq: number; frame: string; duplicate: boolean } {
    const appended = this.log.append(event);
    if (!appended.duplicate) this.#alarm.arm(this.log.expiryOfNew());
    return appended;
  }

  /** Which logged events a socket gets on replay: every event by default. */
  protected replaySelection(_att: Attachment): ReplaySelection {
    return { matches: () => true };
  }

  /**
   * Replays to one socket what it missed after `since` (nothing when
   * undefined: a fresh connect). The one place both a connect with `?since`
   * and a `resume` frame go through.
   */
  protected resume(ws: WebSocket, att: Attachment, since: number | undefined): ReplayResult {
    if (since === undefined) return { resumed: false, replayed: 0 };
    const { matches, channels } = this.replaySelection(att);
    return this.log.replay((frame) => this.send(ws, frame), since, matches, channels);
  }

  // ─────────────────────────── alarm ───────────────────────────

  /** Makes sure the alarm fires no later than `at`. */
  protected armAlarm(at: number): void {
    this.#alarm.arm(at);
  }

  /** Arms the alarm for the next piece of work: the earliest token expiry, log pruning, subclass work. No work, no alarm. */
  protected scheduleAlarm(): void {
    const times: (number | undefined)[] = this.sockets.open().map(({ att }) => att.exp);
    times.push(this.log.nextPruneAt(), this.nextWorkAt());
    this.#alarm.armEarliest(times);
  }

  /** Subclasses add their own alarm work (ms), e.g. a coalesced stats event. */
  protected nextWorkAt(): number | undefined {
    return undefined;
  }

  protected async onAlarmWork(): Promise<void> {}

  override async alarm(): Promise<void> {
    // This alarm is spent; scheduleAlarm() below arms the next one if there is work.
    this.#alarm.fired();
    try {
      const now = Date.now();
      for (const { ws, att } of this.sockets.open()) {
        if (att.exp <= now) {
          closeQuietly(ws, CloseCode.TOKEN_EXPIRED, "token expired");
          await this.disconnect(ws, att);
        }
      }
      this.log.prune(now);
      await this.onAlarmWork();
    } catch (err) {
      console.error(`${this.logPrefix} alarm:`, err);
    } finally {
      this.scheduleAlarm();
    }
  }

  // ─────────────────────────── socket hooks ───────────────────────────

  /** Handles a parsed, rate-checked client frame. */
  protected abstract onFrame(ws: WebSocket, att: Attachment, frame: HubFrame): Promise<void> | void;

  /** Called once when a socket of this hub goes away (close, error, expiry). */
  protected abstract onDisconnect(ws: WebSocket, att: Attachment): Promise<void> | void;

  /** Runs onDisconnect at most once per connection. */
  protected async disconnect(ws: WebSocket, att: Attachment): Promise<void> {
    if (!this.sockets.release(att.cid)) return;
    this.#limiter.forget(att.cid);
    await this.onDisconnect(ws, att);
  }

  /** Whether a frame passes the connection's rate limit; answers the ones that do not. */
  #allowFrame(ws: WebSocket, att: Attachment): boolean {
    const verdict = this.#limiter.take(att.cid);
    if (verdict === "allow") return true;
    if (verdict === "abuse") {
      this.sendError(ws, SocketErrorCode.RATE_LIMIT_EXCEEDED, "Too many frames; closing");
      closeQuietly(ws, CloseCode.POLICY_VIOLATION, "rate limit abuse");
      void this.disconnect(ws, att);
    } else if (verdict === "warn") {
      this.sendError(ws, SocketErrorCode.RATE_LIMIT_EXCEEDED, `More than ${this.config.frameRatePerSecond} frames per second; frames are being dropped`);
    }
    return false;
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = this.sockets.attachment(ws);
    if (!att) return;
    try {
      const max = this.config.maxFrameBytes;
      const size = typeof message === "string" ? (message.length * 3 <= max ? 0 : new TextEncoder().encode(message).byteLength) : message.byteLength;
      if (size > max) {
        this.sendError(ws, SocketErrorCode.MESSAGE_TOO_LARGE, `Frames are limited to ${max} bytes`);
        closeQuietly(ws, CloseCode.MESSAGE_TOO_BIG, "message too large");
        await this.disconnect(ws, att);
        return;
      }
      if (!this.#allowFrame(ws, att)) return;
      att.la = Date.now();
      this.sockets.save(ws, att);
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
      const frame = parsed.data;
      switch (frame.type) {
        case "ping":
          // A ping with extra whitespace or fields misses the auto-response; answer it here.
          this.send(ws, PONG_FRAME);
          return;
        case "resume": {
          const { resumed, replayed } = this.resume(ws, att, frame.since);
          if (frame.ref !== undefined) this.send(ws, JSON.stringify({ type: "ack", ref: frame.ref, resumed, replayed, seq: this.log.head() } satisfies ResumeAck));
          return;
        }
        default:
          await this.onFrame(ws, att, frame);
      }
    } catch (err) {
      console.error(`${this.logPrefix} webSocketMessage:`, err);
      this.sendError(ws, SocketErrorCode.INTERNAL, "The hub failed to handle this frame");
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string, _wasClean: boolean): Promise<void> {
    const att = this.sockets.attachment(ws);
    if (!att) return;
    try {
      reciprocateClose(ws, code, reason);
      await this.disconnect(ws, att);
    } catch (err) {
      console.error(`${this.logPrefix} webSocketClose:`, err);
    }
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    const att = this.sockets.attachment(ws);
    if (!att) return;
    try {
      if (!isHarmlessTeardownError(ws, error)) console.warn(`${this.logPrefix} webSocketError:`, error);
      await this.disconnect(ws, att);
    } catch (err) {
      console.error(`${this.logPrefix} webSocketError:`, err);
    }
  }
}

