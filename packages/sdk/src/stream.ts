import ReconnectingWebSocket from "partysocket/ws";
import { PING_FRAME } from "../../../src/protocol/index";
import { closeAction, jitteredDelay, parseCloseReason, type BackoffOptions } from "./backoff";
import { HeraldError, type Http } from "./http";

/** Settings of one stream's socket. */
export interface StreamLinkOptions {
  stream: "user" | "org";
  /** ws:// or wss:// origin (and path prefix) of the API. */
  wsBase: string;
  path: string;
  http: Http;
  WebSocket: unknown;
  /** `ticket`: a fresh single-use ticket in the URL per dial (browsers). `header`: the token in an Authorization header (Node only). */
  auth: "ticket" | "header";
  backoff: BackoffOptions;
  /** Ping interval; a socket that answers nothing within one interval is dead. 0 turns the heartbeat off. */
  heartbeatMs: number;
  /** The seq to resume after, or undefined for a fresh start (read before every dial). */
  since: () => number | undefined;
  /** Extra query parameters (read before every dial). */
  params?: () => Record<string, string | undefined>;
  /** Every parsed frame. */
  onFrame: (frame: any) => void;
  /** The socket is usable: its `connected` frame arrived (the frame is also passed to onFrame first). */
  onConnected: () => void;
  /** A dial failed or a socket dropped; `failures` counts those since the last `connected`. */
  onDown: (failures: number) => void;
  /** The server refused for good (4400, 4403, an unrefreshable token): the link stopped. */
  onStop: (error: HeraldError) => void;
  random?: () => number;
}

type WebSocketClass = new (...args: any[]) => object;

// partysocket's internals this module replaces per instance (see StreamLink).
interface RwsInternals {
  _retryCount: number;
  _getNextDelay: () => number;
  _wait: () => Promise<void>;
  _ws?: { send(data: string): void; readyState: number };
}

/**
 * One stream's reconnecting socket on partysocket: every dial fetches a fresh
 * single-use ticket and passes `since`; reconnect delays get per-instance
 * full jitter; close codes decide between retrying, refreshing the token,
 * waiting and stopping; a heartbeat with the server's auto-response ping
 * detects dead connections. `close()` leaves no timer or socket behind.
 */
export class StreamLink {
  private rws: ReconnectingWebSocket;
  private stopped = false;
  private live = false;
  private failures = 0;
  private nextDelay: number | undefined;
  private waitTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private heard = true;
  private abort: AbortController | undefined;
  private ticketFailed = false;
  /** Tickets presented so far (never one twice): for diagnostics and tests. */
  ticketsUsed = 0;

  constructor(private readonly o: StreamLinkOptions) {
    this.rws = new ReconnectingWebSocket(() => this.nextUrl(), undefined, {
      WebSocket: o.auth === "header" ? this.withAuthorization(o.WebSocket as WebSocketClass) : o.WebSocket,
      startClosed: true,
      maxEnqueuedMessages: 0,
      shouldReconnectOnClose: (event) => this.onClose(event.code, event.reason),
    });
    const internals = this.rws as unknown as RwsInternals;
    const random = o.random ?? Math.random;
    internals._getNextDelay = () => {
      const override = this.nextDelay;
      this.nextDelay = undefined;
      return override ?? jitteredDelay(internals._retryCount, o.backoff, random);
    };
    // partysocket's wait is a bare setTimeout that close() cannot cancel; this one can.
    internals._wait = () =>
      new Promise<void>((resolve) => {
        const delay = internals._getNextDelay();
        if (delay <= 0) return resolve();
        this.waitTimer = setTimeout(() => {
          this.waitTimer = undefined;
          resolve();
        }, delay);
      });
    this.rws.addEventListener("open", () => this.startHeartbeat());
    this.rws.addEventListener("message", (event) => this.onMessage(event as MessageEvent));
    this.rws.reconnect();
  }

  /** Whether the socket is open and its `connected` frame arrived. */
  get connected(): boolean {
    return this.live;
  }

  /** Sends a frame when connected; false when it could not be sent. */
  send(frame: object | string): boolean {
    if (!this.live || this.stopped) return false;
    const ws = (this.rws as unknown as RwsInternals)._ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
    return true;
  }

  /** Drops the current connection and dials again at once (e.g. a dead heartbeat). */
  reconnectNow(): void {
    if (this.stopped) return;
    this.down();
    this.rws.reconnect(4000, "reconnect");
  }

  /** Closes the socket for good: no timer, socket or request is left. */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.live = false;
    this.stopHeartbeat();
    if (this.waitTimer !== undefined) clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    this.abort?.abort();
    this.rws.close(1000, "client closed");
  }

  /**
   * The WebSocket class with the dial's token in an Authorization header:
   * Node's built-in WebSocket takes `{ headers }` as its second argument, the
   * `ws` package as its third.
   */
  private withAuthorization(Base: WebSocketClass): WebSocketClass {
    const link = this;
    const builtIn = Base === (globalThis as { WebSocket?: unknown }).WebSocket;
    return class extends Base {
      constructor(url: string, protocols?: string | string[]) {
        const headers = { authorization: `Bearer ${link.dialToken ?? ""}` };
        if (builtIn) super(url, { ...(protocols !== undefined && { protocols }), headers });
        else super(url, protocols, { headers });
      }
    };
  }

  private dialToken: string | undefined;

  private async nextUrl(): Promise<string> {
    if (this.stopped) throw new Error("closed");
    if (this.o.auth === "header") {
      this.dialToken = await this.o.http.token.get();
      if (this.stopped) throw new Error("closed");
      return this.urlWith(new URLSearchParams());
    }
    const abort = (this.abort = new AbortController());
    this.ticketFailed = false;
    let ticket: string;
    try {
      ({ ticket } = await this.o.http.request<{ ticket: string }>("POST", "/api/v1/realtime/ticket", undefined, abort.signal));
    } catch (err) {
      if (this.stopped) throw err;
      if (err instanceof HeraldError) this.onTicketError(err);
      if (!this.stopped) {
        // partysocket retries with backoff; it may also report this as a close of the previous socket (not counted twice).
        this.ticketFailed = true;
        this.down(!apiUnreachable(err));
      }
      throw err;
    }
    if (this.stopped) throw new Error("closed");
    this.ticketsUsed++;
    return this.urlWith(new URLSearchParams({ ticket }));
  }

  private urlWith(q: URLSearchParams): string {
    const since = this.o.since();
    if (since !== undefined) q.set("since", String(since));
    for (const [k, v] of Object.entries(this.o.params?.() ?? {})) if (v !== undefined) q.set(k, v);
    const query = q.toString();
    return `${this.o.wsBase}${this.o.path}${query ? `?${query}` : ""}`;
  }

  private onTicketError(err: HeraldError): void {
    // Http already asked the token function once for a 401; a fixed token that is refused will never work.
    if (err.status === 401 && !this.o.http.token.refreshable) return this.stop(err);
    if (err.status === 403 || err.status === 400) return this.stop(err);
    if (err.status === 401) this.o.http.token.refresh();
    if (err.status === 429) this.nextDelay = ((err.retryAfter ?? 10) + (this.o.random ?? Math.random)() * 0.5) * 1000;
  }

  private onClose(code: number, reason: string): boolean {
    if (this.stopped) return false;
    this.stopHeartbeat();
    if (this.ticketFailed) {
      this.ticketFailed = false;
      return true;
    }
    const decision = closeAction(code, reason);
    const parsed = parseCloseReason(reason);
    const error = () => new HeraldError(parsed.code ?? `CLOSE_${code}`, parsed.message ?? (reason || `closed with ${code}`), code, parsed.retryAfter);
    switch (decision.action) {
      case "stop":
        this.stop(error());
        return false;
      case "refresh":
        // A spent ticket only needs a new ticket (every dial gets one); an expired or refused token needs a new token.
        if (parsed.code !== "TICKET_INVALID") {
          if (!this.o.http.token.refreshable) {
            this.stop(error());
            return false;
          }
          this.o.http.token.refresh();
        }
        break;
      case "wait":
        this.nextDelay = decision.delayMs + (this.o.random ?? Math.random)() * 500;
        break;
      case "retry":
        break;
    }
    this.down();
    return true;
  }

  /**
   * The connection is down. A failed dial counts toward the polling fallback
   * only when the API answered: sockets that fail where HTTP works (a proxy
   * refusing upgrades) call for polling; an API that is unreachable or
   * overloaded (a restart, a deploy) would fail the polls too, and a storm of
   * polling clients would only slow its recovery.
   */
  private down(countsTowardFallback = true): void {
    const wasLive = this.live;
    this.live = false;
    this.stopHeartbeat();
    if (!wasLive && countsTowardFallback) this.failures++;
    this.o.onDown(this.failures);
  }

  private stop(error: HeraldError): void {
    if (this.stopped) return;
    this.close();
    this.o.onStop(error);
  }

  private onMessage(event: MessageEvent): void {
    if (this.stopped) return;
    this.heard = true;
    if (typeof event.data !== "string") return;
    let frame: any;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== "string") return;
    if (frame.type === "pong") return;
    this.o.onFrame(frame);
    if (frame.type === "connected") {
      this.live = true;
      this.failures = 0;
      this.o.onConnected();
    }
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    if (this.o.heartbeatMs <= 0) return;
    this.heard = true;
    this.heartbeat = setInterval(() => {
      if (!this.heard) return this.reconnectNow();
      this.heard = false;
      const ws = (this.rws as unknown as RwsInternals)._ws;
      if (ws && ws.readyState === 1) ws.send(PING_FRAME);
    }, this.o.heartbeatMs);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}

/** A ticket request that failed because the API could not answer: no connection, a timeout, or a 5xx. */
function apiUnreachable(err: unknown): boolean {
  return err instanceof HeraldError && (err.code === "NETWORK" || (err.status !== undefined && err.status >= 500));
}
