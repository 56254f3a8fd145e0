import type { EventFrame, EventMap, Notification, Scope, Subscription, UnreadCountData } from "../../../src/protocol/index";
import { DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
import { RecentIds } from "./dedupe";
import { Emitter, type Unsubscribe } from "./emitter";
import { Http, HeraldError, TokenSource, type TokenProvider } from "./http";
import { Inbox } from "./inbox";
import { Poller } from "./poller";
import { restApi, type RestApi } from "./rest";
import { StreamLink } from "./stream";

export { HeraldError } from "./http";
/** The alert lifecycle (which status moves the server allows), to offer only valid actions. */
export { canTransition, CONVERTIBLE_FROM, STATUS_TRANSITIONS } from "../../../src/protocol/index";
export type { TokenProvider } from "./http";
export { jitteredDelay, closeAction, parseCloseReason } from "./backoff";
export type { BackoffOptions, CloseAction, CloseReason } from "./backoff";
export type { Unsubscribe } from "./emitter";
export type { InboxState } from "./inbox";
export type * from "./rest";
export type {
  Alert,
  AlertEventData,
  AlertStats,
  AlertStatus,
  EventFrame,
  EventMap,
  Notification,
  Priority,
  Scope,
  Subscription,
  UnreadCountData,
} from "../../../src/protocol/index";

/** The connection's state, for a Live/Offline indicator. */
export type HeraldStatus = "connecting" | "open" | "polling" | "closed";

/** Options of `createHerald`. */
export interface HeraldOptions {
  /** The API's origin (and path prefix, if any), e.g. `https://herald.example.com`. */
  url: string;
  /** A bearer token, or a function returning a fresh one; called again whenever a new token is needed (expiry, 401). */
  token: TokenProvider;
  /** A WebSocket class (Node < 22: `import WebSocket from "ws"`); defaults to the global one. `null` (or none available): poll only. */
  WebSocket?: unknown;
  /**
   * How sockets authenticate: `ticket` (default) fetches a fresh single-use
   * ticket for every dial, the only way in a browser; `header` sends the token
   * as `Authorization: Bearer` on the upgrade, for Node (its built-in
   * WebSocket or the `ws` package), saving a request per dial.
   */
  auth?: "ticket" | "header";
  /** A fetch function; defaults to the global one. */
  fetch?: typeof fetch;
  /** Reconnect delays; every delay is full-jittered per instance. */
  backoff?: BackoffOptions;
  /** Heartbeat interval in ms (a ping with the server's auto-response; no answer within one interval = dead). Default 25000; 0 = off. */
  heartbeatMs?: number;
  /**
   * Consecutive failed dials of the user stream, while the API itself answers,
   * before the SDK falls back to polling. Default 3. Dials that fail because the
   * API is unreachable or answers 5xx do not count: polls would fail as well.
   */
  pollAfterFailures?: number;
  /** Polling delays: from `minMs` after events, growing to `maxMs` while idle. Default 5000–60000. */
  /**
   * `ack`: also `POST /api/v1/events/ack` what was delivered. Off by default:
   * the server keeps acks per user, so an ack would hide the events from the
   * user's other polling devices; the SDK's own cursor already prevents repeats.
   */
  polling?: { minMs?: number; maxMs?: number; ack?: boolean };
  /** How many recent event ids to remember for de-duplication. Default 2048. */
  dedupeWindow?: number;
  /** Load the inbox's first page over REST right away (else on `inbox.load()`). Default false. */
  loadInbox?: boolean;
  /** REST requests (tickets included) unanswered this long are aborted and retried. Default 15000. */
  requestTimeoutMs?: number;
  /** Random number source in [0, 1) (tests). */
  random?: () => number;
}

/** How an event reached the app. */
export interface EventMeta {
  /** The event's id (absent on state frames such as `unread:count`). */
  id?: string;
  /** The stream's seq (absent on state frames and polled events). */
  seq?: number;
  stream: "user" | "org";
  ts: string;
  channel?: string;
  scope?: Scope;
  /** Whether it came from the polling fallback. */
  polled?: boolean;
}

/** Sent when the server could not replay what was missed: reload state over REST. */
export interface ResyncInfo {
  stream: "user" | "org";
  /** The stream's head: the SDK continues from here. */
  seq: number;
  /**
   * `expired` / `ahead`: the server could not replay what this client missed.
   * `connected`: the stream went live for the first time (at its head, with
   * the org stream's subscriptions acked): anything loaded over REST before
   * may lack what was committed in between, and no event will bring it.
   */
  reason: "expired" | "ahead" | "connected";
}

/** The SDK's own events (not from the server's event stream). */
export interface LifecycleMap {
  /** The connection state changed. */
  status: HeraldStatus;
  /** Events were missed beyond the replay window: refetch. */
  resync: ResyncInfo;
  /** A refusal that stopped a stream (4400, 4403, an expired fixed token), or a failed request in the background. */
  error: HeraldError;
  /** The inbox (badge or list) changed. */
  inbox: import("./inbox").InboxState;
}

/** Every event handler's first argument is the event's data, typed by name for Herald's own events. */
export type EventHandler<T> = (data: T, meta: EventMeta) => void;

const LIFECYCLE = new Set(["status", "resync", "error", "inbox"]);

interface DesiredSubscription {
  channel: string;
  scope: Scope;
  waiting: { resolve: (subs: Subscription[]) => void; reject: (err: HeraldError) => void }[];
}

interface Pending {
  stream: "user" | "org";
  resolve: (frame: any) => void;
  reject: (err: HeraldError) => void;
  /** Set on a subscribe frame: the desired subscription it (re)establishes. */
  subscription?: string;
}

const scopeKey = (channel: string, scope: Scope) => `${channel}|${scope.dept ?? ""}|${scope.queue ?? ""}`;

/**
 * A Herald client: typed events from the user stream (and the org stream once
 * something subscribes), each delivered to the app exactly once across
 * reconnects, replays, both streams and the polling fallback; the inbox badge
 * and list kept in sync; REST helpers. Create it with `createHerald`.
 */
export class Herald {
  /** Typed REST helpers (alerts, notifications, preferences). */
  readonly api: RestApi;
  /** The notification inbox: badge and list, kept live. */
  readonly inbox: Inbox;

  private readonly emitter = new Emitter();
  private readonly anyListeners = new Set<(name: string, data: unknown, meta: EventMeta) => void>();
  private readonly seen: RecentIds;
  private readonly http: Http;
  private readonly wsBase: string;
  private readonly WebSocketImpl: unknown;
  private readonly seqs: { user?: number; org?: number } = {};
  private user: StreamLink | undefined;
  private org: StreamLink | undefined;
  private poller: Poller | undefined;
  private readonly desired = new Map<string, DesiredSubscription>();
  private readonly pending = new Map<string, Pending>();
  private refCounter = 0;
  private orgResuming: { ref: string; queue: any[] } | undefined;
  /**
   * The org stream's first connect, until its subscriptions are acked (and a
   * resume after a drop in between has finished): then `resync` (connected).
   */
  private orgGoingLive: { refs: Set<string> } | undefined;
  private _status: HeraldStatus = "connecting";
  private closed = false;
  /**
   * When this client started, in the server's clock: the first `connected`
   * frame's serverTime, else the first HTTP answer's Date (less its 1 s
   * resolution), else the local clock. Polled events from before it are
   * history (the app loads that over REST), not news.
   */
  private startedAt = new Date().toISOString();

  constructor(private readonly options: HeraldOptions) {
    const base = options.url.replace(/\/+$/, "");
    const fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
    if (!fetchImpl) throw new HeraldError("CONFIG", "No fetch: pass options.fetch");
    this.http = new Http(base, new TokenSource(options.token), fetchImpl, options.requestTimeoutMs);
    this.wsBase = base.replace(/^http/, "ws");
    this.WebSocketImpl = options.WebSocket === null ? undefined : (options.WebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket);
    this.seen = new RecentIds(options.dedupeWindow ?? 2048);
    if (options.auth === "header" && typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node !== "string")
      throw new HeraldError("CONFIG", 'auth: "header" needs Node: browsers cannot set headers on a WebSocket (use tickets)');
    this.api = restApi(this.http);
    this.inbox = new Inbox(this.api, {
      send: (frame) => this.request(this.user, "user", frame),
      socketOpen: () => this.user?.connected === true,
      changed: (state) => this.emitter.emit("inbox", state),
      error: (err) => this.emitter.emit("error", err),
    });
    if (this.WebSocketImpl) this.user = this.openLink("user");
    else this.startPolling();
    if (options.loadInbox) this.inbox.load().catch((err) => this.emitter.emit("error", err));
  }

  /** The connection's state: `open` when the user stream is live, `polling` on the fallback, `closed` after close() or a refusal. */
  get status(): HeraldStatus {
    return this._status;
  }

  /** The last seq processed per stream (what the next dial resumes after). */
  get lastSeq(): Readonly<{ user?: number; org?: number }> {
    return { ...this.seqs };
  }

  /** The org subscriptions the SDK keeps (re-sent after every reconnect). */
  get subscriptions(): Subscription[] {
    return [...this.desired.values()].map(({ channel, scope }) => ({ channel, scope }));
  }

  /**
   * Listens to one of Herald's events (data typed by name), an SDK lifecycle
   * event (`status`, `resync`, `error`, `inbox`), or a producer's event
   * (unknown data). A producer's event that happens to be named like a
   * lifecycle event reaches only `onAny`.
   */
  on<K extends keyof EventMap>(name: K, handler: EventHandler<EventMap[K]>): Unsubscribe;
  on<K extends keyof LifecycleMap>(name: K, handler: (value: LifecycleMap[K]) => void): Unsubscribe;
  on<T = unknown>(name: string, handler: EventHandler<T>): Unsubscribe;
  on(name: string, handler: (...args: any[]) => void): Unsubscribe {
    return this.emitter.on(name, handler);
  }

  /** Removes a listener added with `on` or `once`. */
  off<K extends keyof EventMap>(name: K, handler: EventHandler<EventMap[K]>): void;
  off<K extends keyof LifecycleMap>(name: K, handler: (value: LifecycleMap[K]) => void): void;
  off<T = unknown>(name: string, handler: EventHandler<T>): void;
  off(name: string, handler: (...args: any[]) => void): void {
    this.emitter.off(name, handler);
  }

  /** Listens to the next occurrence only. */
  once<K extends keyof EventMap>(name: K, handler: EventHandler<EventMap[K]>): Unsubscribe;
  once<K extends keyof LifecycleMap>(name: K, handler: (value: LifecycleMap[K]) => void): Unsubscribe;
  once<T = unknown>(name: string, handler: EventHandler<T>): Unsubscribe;
  once(name: string, handler: (...args: any[]) => void): Unsubscribe {
    return this.emitter.once(name, handler);
  }

  /** Every event (Herald's and producers'), once each, with its name: for logs and generic consumers. */
  onAny(handler: (name: string, data: unknown, meta: EventMeta) => void): Unsubscribe {
    this.anyListeners.add(handler);
    return () => this.anyListeners.delete(handler);
  }

  /**
   * Subscribes to an org channel (optionally in a dept/queue scope). Opens the
   * org stream on the first call. Resolves with the socket's subscriptions
   * when the server acks, rejects with its error (e.g. `UNAUTHORIZED`). Kept
   * and re-sent after every reconnect.
   */
  subscribe(channel: string, scope: Scope = {}): Promise<Subscription[]> {
    if (this.closed) return Promise.reject(new HeraldError("CLOSED", "The client is closed"));
    const key = scopeKey(channel, scope);
    return new Promise((resolve, reject) => {
      let entry = this.desired.get(key);
      if (!entry) this.desired.set(key, (entry = { channel, scope, waiting: [] }));
      entry.waiting.push({ resolve, reject });
      if (this.poller?.polling) {
        // The polling fallback reads channels through the events API: nothing to wait for.
        this.poller.kick();
        this.settleSubscription(key, this.subscriptions);
      }
      if (!this.WebSocketImpl) return;
      if (!this.org) this.org = this.openLink("org");
      else if (this.org.connected) this.sendSubscribe(key);
    });
  }

  /** Unsubscribes from an org channel in a scope; resolves with the remaining subscriptions when the server acks. */
  unsubscribe(channel: string, scope: Scope = {}): Promise<Subscription[]> {
    const key = scopeKey(channel, scope);
    const entry = this.desired.get(key);
    this.desired.delete(key);
    entry?.waiting.forEach((w) => w.reject(new HeraldError("UNSUBSCRIBED", `Unsubscribed from ${channel}`)));
    if (!this.org?.connected) return Promise.resolve(this.subscriptions);
    const scoped = scope.dept !== undefined ? { scope } : {};
    return this.request(this.org, "org", { type: "unsubscribe", channels: [channel], ...scoped }).then(
      (ack) => ack.subscriptions as Subscription[],
    );
  }

  /** Closes everything: sockets, timers, polling, listeners. The client cannot be reopened. */
  close(): void {
    this.shutdown();
  }

  private shutdown(error?: HeraldError): void {
    if (this.closed) return;
    this.closed = true;
    this.user?.close();
    this.org?.close();
    this.poller?.stop();
    this.user = this.org = this.poller = undefined;
    const closedError = error ?? new HeraldError("CLOSED", "The client was closed");
    for (const p of this.pending.values()) p.reject(closedError);
    this.pending.clear();
    for (const entry of this.desired.values()) entry.waiting.splice(0).forEach((w) => w.reject(closedError));
    this.setStatus("closed");
    if (error) this.emitter.emit("error", error);
    this.emitter.clear();
    this.anyListeners.clear();
  }

  /** Whether the client still holds a socket, timer or poll (false after close()). For tests and diagnostics. */
  get active(): boolean {
    return this.user !== undefined || this.org !== undefined || this.poller !== undefined;
  }

  private openLink(stream: "user" | "org"): StreamLink {
    return new StreamLink({
      stream,
      wsBase: this.wsBase,
      path: stream === "user" ? "/api/v1/ws" : "/api/v1/ws/org",
      http: this.http,
      WebSocket: this.WebSocketImpl,
      auth: this.options.auth ?? "ticket",
      backoff: { ...DEFAULT_BACKOFF, ...this.options.backoff },
      heartbeatMs: this.options.heartbeatMs ?? 25000,
      // The org stream resumes with a `resume` frame once its subscriptions are back (a dial's `since` replays only the initial channels).
      since: () => (stream === "user" ? this.seqs.user : undefined),
      onFrame: (frame) => this.onFrame(stream, frame),
      onConnected: () => this.onConnected(stream),
      onDown: (failures) => this.onDown(stream, failures),
      onStop: (error) => this.onStop(stream, error),
      ...(this.options.random && { random: this.options.random }),
    });
  }

  private onConnected(stream: "user" | "org"): void {
    if (stream === "user") {
      this.stopPolling();
      this.setStatus("open");
      // Live at the head for the first time: what the app (or the inbox) loaded before may lack what came in between.
      if (this.fresh.user) this.wentLive("user");
      return;
    }
    // Org: subscriptions first, then replay what was missed on them, then live (queued meanwhile, in seq order).
    const refs = [...this.desired.keys()].map((key) => this.sendSubscribe(key)).filter((ref): ref is string => ref !== undefined);
    // A first connect goes live once its subscriptions are acked; one that dropped before that, once the next connect's are.
    if (this.fresh.org || this.orgGoingLive) this.orgGoingLive = { refs: new Set(refs) };
    if (!this.fresh.org && this.seqs.org !== undefined) {
      const ref = this.nextRef("r");
      this.orgResuming = { ref, queue: [] };
      this.org?.send({ type: "resume", ref, since: this.seqs.org });
    }
    this.settleGoingLive();
  }

  /** The org stream's first connect is live when its subscribe acks (and any resume) are in. */
  private settleGoingLive(ref?: string): void {
    const going = this.orgGoingLive;
    if (!going) return;
    if (ref !== undefined) going.refs.delete(ref);
    if (going.refs.size > 0 || this.orgResuming) return;
    this.orgGoingLive = undefined;
    this.wentLive("org");
  }

  private wentLive(stream: "user" | "org"): void {
    if (stream === "user") this.inbox.resync();
    this.emitter.emit("resync", { stream, seq: this.seqs[stream] ?? 0, reason: "connected" } satisfies ResyncInfo);
  }

  private onDown(stream: "user" | "org", failures: number): void {
    if (this.closed) return;
    // Frames sent on a lost socket will never be answered; subscriptions are re-sent on reconnect.
    for (const [ref, p] of this.pending) {
      if (p.stream !== stream) continue;
      this.pending.delete(ref);
      if (p.subscription === undefined) p.reject(new HeraldError("DISCONNECTED", "The socket closed before the server answered"));
    }
    if (stream === "org") {
      if (this.orgResuming) this.flushOrgQueue();
      return;
    }
    const threshold = this.options.pollAfterFailures ?? 3;
    if (threshold > 0 && failures >= threshold) this.startPolling();
    else if (!this.poller?.polling) this.setStatus("connecting");
  }

  private onStop(stream: "user" | "org", error: HeraldError): void {
    if (stream === "user") return this.shutdown(error);
    this.org = undefined;
    this.orgGoingLive = undefined;
    for (const entry of this.desired.values()) entry.waiting.splice(0).forEach((w) => w.reject(error));
    this.desired.clear();
    this.emitter.emit("error", error);
  }

  private setStatus(status: HeraldStatus): void {
    if (this._status === status) return;
    this._status = status;
    this.emitter.emit("status", status);
  }

  private nextRef(prefix: string): string {
    return `${prefix}${++this.refCounter}`;
  }

  /** Sends a subscribe frame for a desired subscription; returns its ref (undefined when there is nothing to send). */
  private sendSubscribe(key: string): string | undefined {
    const entry = this.desired.get(key);
    if (!entry || !this.org) return undefined;
    const ref = this.nextRef("s");
    this.pending.set(ref, { stream: "org", resolve: () => {}, reject: () => {}, subscription: key });
    const scoped = entry.scope.dept !== undefined ? { scope: entry.scope } : {};
    this.org.send({ type: "subscribe", ref, channels: [entry.channel], ...scoped });
    return ref;
  }

  private settleSubscription(key: string, subs: Subscription[] | HeraldError): void {
    const entry = this.desired.get(key);
    if (!entry) return;
    const waiting = entry.waiting.splice(0);
    if (subs instanceof HeraldError) {
      this.desired.delete(key);
      waiting.forEach((w) => w.reject(subs));
    } else waiting.forEach((w) => w.resolve(subs));
  }

  /** Sends a frame with a ref and resolves with its ack (rejects with its error, or when it cannot be sent). */
  private request(link: StreamLink | undefined, stream: "user" | "org", frame: Record<string, unknown>): Promise<any> {
    const ref = this.nextRef(String(frame.type)[0]!);
    return new Promise((resolve, reject) => {
      if (!link?.send({ ...frame, ref })) return reject(new HeraldError("DISCONNECTED", "The socket is not open"));
      this.pending.set(ref, { stream, resolve, reject });
    });
  }

  private onFrame(stream: "user" | "org", frame: any): void {
    if (this.closed) return;
    switch (frame.type) {
      case "connected":
        // A first connect starts at the head: nothing before it is news, and a drop before any event resumes from here.
        this.fresh[stream] = this.seqs[stream] === undefined;
        if (this.fresh[stream]) this.seqs[stream] = frame.seq;
        if (!this.startedAtFixed) {
          this.startedAtFixed = true;
          this.startedAt = frame.serverTime ?? this.startedAt;
        }
        return;
      case "ack":
      case "error": {
        const p = frame.ref !== undefined ? this.pending.get(frame.ref) : undefined;
        if (frame.type === "ack" && this.orgResuming && frame.ref === this.orgResuming.ref) {
          if (typeof frame.seq === "number") this.seqs.org = Math.max(this.seqs.org ?? 0, frame.seq);
          this.flushOrgQueue();
          this.settleGoingLive();
          return;
        }
        if (!p) {
          if (frame.type === "error" && frame.ref === undefined) this.emitter.emit("error", new HeraldError(frame.code, frame.message));
          return;
        }
        this.pending.delete(frame.ref);
        const error = frame.type === "error" ? new HeraldError(frame.code, frame.message) : undefined;
        if (p.subscription !== undefined) {
          this.settleSubscription(p.subscription, error ?? frame.subscriptions);
          this.settleGoingLive(frame.ref);
        } else if (error) p.reject(error);
        else p.resolve(frame);
        return;
      }
      case "resync-required":
        this.seqs[stream] = frame.seq;
        if (stream === "org" && this.orgResuming) {
          this.flushOrgQueue();
          this.settleGoingLive();
        }
        if (stream === "user") this.inbox.resync();
        this.emitter.emit("resync", { stream, seq: frame.seq, reason: frame.reason });
        return;
      case "unread:count":
        this.inbox.setBadge(frame.data as UnreadCountData);
        this.deliver(frame.type, frame.data, { stream, ts: frame.ts });
        return;
    }
    if (typeof frame.id !== "string") return;
    if (stream === "org" && this.orgResuming) {
      this.orgResuming.queue.push(frame);
      return;
    }
    this.onEvent(stream, frame as EventFrame);
  }

  private startedAtFixed = false;
  private readonly fresh: { user?: boolean; org?: boolean } = {};

  private flushOrgQueue(): void {
    const resuming = this.orgResuming;
    this.orgResuming = undefined;
    if (!resuming) return;
    resuming.queue.sort((a, b) => a.seq - b.seq);
    for (const frame of resuming.queue) this.onEvent("org", frame);
  }

  private onEvent(stream: "user" | "org", frame: EventFrame): void {
    if (typeof frame.seq === "number") {
      const last = this.seqs[stream];
      if (last === undefined || frame.seq > last) this.seqs[stream] = frame.seq;
    }
    if (!this.seen.add(frame.id)) return;
    const meta: EventMeta = {
      id: frame.id,
      seq: frame.seq,
      stream,
      ts: frame.ts,
      ...(frame.channel !== undefined && { channel: frame.channel }),
      ...(frame.scope !== undefined && { scope: frame.scope }),
    };
    this.inbox.apply(frame.type, frame.data);
    this.deliver(frame.type, frame.data, meta);
  }

  /** Delivers a polled event (deduplicated by id like any other). */
  private onPolled(item: { id: string; type: string; stream: "user" | "org"; ts: string; data: unknown; channel?: string; scope?: Scope }): void {
    if (this.closed || !this.seen.add(item.id)) return;
    if (!this.startedAtFixed && this.http.firstServerDate !== undefined) {
      this.startedAtFixed = true;
      this.startedAt = new Date(this.http.firstServerDate - 1000).toISOString();
    }
    if (item.ts < this.startedAt) return;
    const meta: EventMeta = { id: item.id, stream: item.stream, ts: item.ts, polled: true };
    if (item.channel !== undefined) meta.channel = item.channel;
    if (item.scope !== undefined) meta.scope = item.scope;
    this.inbox.apply(item.type, item.data);
    this.deliver(item.type, item.data, meta);
  }

  private deliver(name: string, data: unknown, meta: EventMeta): void {
    if (!LIFECYCLE.has(name)) this.emitter.emit(name, data, meta);
    for (const fn of [...this.anyListeners]) {
      try {
        fn(name, data, meta);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  private startPolling(): void {
    if (this.closed) return;
    if (this.poller) {
      this.poller.resume();
      this.setStatus("polling");
      return;
    }
    this.poller = new Poller({
      http: this.http,
      minMs: this.options.polling?.minMs ?? 5000,
      maxMs: this.options.polling?.maxMs ?? 60000,
      ack: this.options.polling?.ack ?? false,
      random: this.options.random ?? Math.random,
      groups: () => {
        const byScope = new Map<string, { channels: string[]; scope: Scope }>();
        byScope.set("||", { channels: [], scope: {} });
        for (const { channel, scope } of this.desired.values()) {
          const k = `|${scope.dept ?? ""}|${scope.queue ?? ""}`;
          const g = byScope.get(k === "||" ? "||" : k) ?? { channels: [], scope };
          g.channels.push(channel);
          byScope.set(k, g);
        }
        return [...byScope.values()];
      },
      onItems: (items) => {
        for (const item of items) this.onPolled(item);
      },
      onPolled: (touchedInbox) => {
        if (touchedInbox) this.inbox.refreshCounts();
      },
      onError: (err) => this.emitter.emit("error", err),
    });
    this.setStatus("polling");
    this.inbox.refreshCounts();
  }

  private stopPolling(): void {
    const poller = this.poller;
    if (!poller) return;
    // A socket that went live without `since` (none was known while polling) starts at the head: one last poll
    // delivers what was committed before it (deduplicated against the socket by id), then polling stops.
    poller.finish(() => {
      if (this.poller === poller) this.poller = undefined;
    });
  }
}

/**
 * Connects to Herald: the user stream at once (a fresh single-use ticket and
 * `since` on every dial), the org stream on the first `subscribe`.
 *
 * ```ts
 * const herald = createHerald({ url: "https://herald.example.com", token: () => auth.getToken() });
 * herald.on("alert:new", ({ alert }) => show(alert));
 * ```
 */
export function createHerald(options: HeraldOptions): Herald {
  return new Herald(options);
}
