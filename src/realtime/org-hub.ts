import { getDb } from "../db/client";
import { ErrorCode } from "../errors";
import { newId } from "../lib/ids";
import { alertStats } from "../services/alerts";
import type { Role } from "../types";
import { HubBase, hubErrorResponse, type Attachment, type ConnectRequest, type HubEvent, type PublishResult } from "./hub-base";
import { recordPublished, userHub } from "./outbox";
import {
  Channels,
  ChannelNameSchema,
  Events,
  PRIVILEGED_CHANNELS,
  ScopeSchema,
  scopeKey,
  scopesOverlap,
  SocketErrorCode,
  type ClientFrame,
  type PresenceEventData,
  type Scope,
} from "../protocol";
import type { ConnectionInfo } from "./user-hub";

/** A channel subscription of one socket. */
interface Subscription {
  channel: string;
  scope: Scope;
}

/** Presence of one user in the org. */
export interface PresenceInfo {
  userId: string;
  online: boolean;
  connections: number;
  lastSeenAt: string | null;
}

/** What `GET /api/v1/realtime/stats` returns. */
export interface RealtimeStats {
  since: string;
  connections: { user: number; org: number; total: number };
  onlineUsers: number;
  channels: { channel: string; scope: Scope; subscribers: number }[];
  messages: { type: string; publishes: number; sent: number; avgLatencyMs: number; maxLatencyMs: number }[];
  latency: { avgMs: number | null; maxMs: number | null };
}

/** Whether a role may subscribe to a channel: agents and members never get `alerts` or `presence`. */
export function maySubscribe(role: Role, channel: string): boolean {
  if (role === "admin" || role === "service") return true;
  return !PRIVILEGED_CHANNELS.has(channel);
}

/** `stats:updated` covers alerts created in the last 24 hours. */
const STATS_WINDOW_MS = 24 * 3600 * 1000;

/** How long hub-born events wait to be recorded in D1 together (ms). */
const POLLING_FLUSH_MS = 50;

/** Most users whose user-stream count the org hub keeps in memory (a cache of the presence table). */
const USER_CONNS_CACHE_MAX = 50_000;

/** How often (in counted events) the dedupe table of counted event ids is pruned. */
const COUNTED_PRUNE_EVERY = 100;

/** Most user hubs asked for their connections by one admin listing. */
const CONNECTION_LISTING_MAX_USERS = 200;

/**
 * One per organization: the org stream (channels such as `alerts`, `stats`,
 * `presence`, `kpi`, scoped by dept and queue), the org's presence registry
 * (user-stream counts reported by the user hubs plus its own sockets), the
 * org-wide connection limit, and the realtime counters behind the stats
 * endpoint.
 */
export class OrgHub extends HubBase {
  protected readonly stream = "org" as const;
  /** Cache of the subs table: connection id → subscriptions. Rebuilt after a wake-up. */
  #subs: Map<string, Map<string, Subscription>> | undefined;
  /** Channel → connection → its scopes on that channel: a fan-out visits only these. */
  #byChannel = new Map<string, Map<string, Scope[]>>();
  /** Events born in this hub waiting to be recorded in D1 for polling clients (one batch per flush). */
  #pollingQueue: HubEvent[] = [];

  protected override migrate(): void {
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS subs (
        cid TEXT NOT NULL,
        channel TEXT NOT NULL,
        skey TEXT NOT NULL,
        dept TEXT,
        queue TEXT,
        PRIMARY KEY (cid, channel, skey)
      );
      CREATE INDEX IF NOT EXISTS log_channel ON log (channel, seq);
      -- Per event type, behind GET /api/v1/realtime/stats.
      CREATE TABLE IF NOT EXISTS counters (
        type TEXT PRIMARY KEY,
        publishes INTEGER NOT NULL,
        sent INTEGER NOT NULL,
        latency_sum INTEGER NOT NULL,
        latency_max INTEGER NOT NULL
      );
      -- Ids of events already counted, so a re-delivery is not counted twice.
      CREATE TABLE IF NOT EXISTS counted (id TEXT PRIMARY KEY, ts INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS presence (
        user_id TEXT PRIMARY KEY,
        user_conns INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0,
        last_seen_at INTEGER NOT NULL
      );
    `);
  }

  // ─────────────────────────── subscriptions ───────────────────────────

  #subscriptions(): Map<string, Map<string, Subscription>> {
    if (this.#subs) return this.#subs;
    const live = new Set(this.sockets().map((s) => s.att.cid));
    const map = new Map<string, Map<string, Subscription>>();
    this.#byChannel.clear();
    const stale: string[] = [];
    for (const row of this.sql.exec<{ cid: string; channel: string; skey: string; dept: string | null; queue: string | null }>("SELECT * FROM subs")) {
      if (!live.has(row.cid)) {
        stale.push(row.cid);
        continue;
      }
      const scope: Scope = { ...(row.dept !== null && { dept: row.dept }), ...(row.queue !== null && { queue: row.queue }) };
      let mine = map.get(row.cid);
      if (!mine) map.set(row.cid, (mine = new Map()));
      mine.set(`${row.channel}|${row.skey}`, { channel: row.channel, scope });
    }
    // Rows of sockets that vanished without a close event (e.g. a crash).
    for (const cid of new Set(stale)) this.sql.exec("DELETE FROM subs WHERE cid = ?", cid);
    this.#subs = map;
    for (const [cid, mine] of map) for (const channel of new Set([...mine.values()].map((s) => s.channel))) this.#indexChannel(cid, channel);
    return map;
  }

  #subsOf(cid: string): Subscription[] {
    return [...(this.#subscriptions().get(cid)?.values() ?? [])];
  }

  #addSubs(cid: string, subs: Subscription[]): void {
    const all = this.#subscriptions();
    let mine = all.get(cid);
    if (!mine) all.set(cid, (mine = new Map()));
    for (const s of subs) {
      const skey = scopeKey(s.scope);
      this.sql.exec(
        "INSERT OR IGNORE INTO subs (cid, channel, skey, dept, queue) VALUES (?, ?, ?, ?, ?)",
        cid,
        s.channel,
        skey,
        s.scope.dept ?? null,
        s.scope.queue ?? null,
      );
      mine.set(`${s.channel}|${skey}`, s);
      this.#indexChannel(cid, s.channel);
    }
  }

  /** Sets a connection's scopes on a channel in the channel index from its subscriptions (none left: out of the index). */
  #indexChannel(cid: string, channel: string): void {
    const scopes = [...(this.#subs?.get(cid)?.values() ?? [])].filter((s) => s.channel === channel).map((s) => s.scope);
    let cids = this.#byChannel.get(channel);
    if (scopes.length > 0) {
      if (!cids) this.#byChannel.set(channel, (cids = new Map()));
      cids.set(cid, scopes);
    } else if (cids) {
      cids.delete(cid);
      if (cids.size === 0) this.#byChannel.delete(channel);
    }
  }

  #removeSubs(cid: string, subs: Subscription[]): void {
    const mine = this.#subscriptions().get(cid);
    for (const s of subs) {
      const skey = scopeKey(s.scope);
      this.sql.exec("DELETE FROM subs WHERE cid = ? AND channel = ? AND skey = ?", cid, s.channel, skey);
      mine?.delete(`${s.channel}|${skey}`);
      this.#indexChannel(cid, s.channel);
    }
  }

  /** The distinct channels a connection subscribes to: replay reads only their rows. */
  #channelsOf(cid: string): string[] {
    return [...new Set(this.#subsOf(cid).map((s) => s.channel))];
  }

  #matches(cid: string, channel: string | null, scope: Scope): boolean {
    if (channel === null) return false;
    const mine = this.#subscriptions().get(cid);
    if (!mine) return false;
    for (const s of mine.values()) if (s.channel === channel && scopesOverlap(scope, s.scope)) return true;
    return false;
  }

  // ─────────────────────────── presence ───────────────────────────

  #orgSocketsOf(userId: string, excludeCid?: string): number {
    return this.userSocketCount(userId, excludeCid);
  }

  /** user_conns by user: a read-through cache of the presence table (every write goes through #touchPresence). */
  #userConnsCache = new Map<string, number>();

  #userConns(userId: string): number {
    let n = this.#userConnsCache.get(userId);
    if (n === undefined) {
      n = this.sql.exec<{ n: number }>("SELECT user_conns AS n FROM presence WHERE user_id = ?", userId).toArray()[0]?.n ?? 0;
      if (this.#userConnsCache.size >= USER_CONNS_CACHE_MAX) this.#userConnsCache.clear();
      this.#userConnsCache.set(userId, n);
    }
    return n;
  }

  /** Sum of user_conns over the presence table, kept in memory (read once after a wake-up): admission needs it per upgrade. */
  #userConnsTotal: number | undefined;

  #userConnsSum(): number {
    this.#userConnsTotal ??= this.sql.exec<{ n: number | null }>("SELECT sum(user_conns) AS n FROM presence").toArray()[0]?.n ?? 0;
    return this.#userConnsTotal;
  }

  #touchPresence(userId: string, userConns: number, version?: number): void {
    const total = this.#userConnsSum() - this.#userConns(userId) + userConns;
    this.#userConnsTotal = total;
    this.#userConnsCache.set(userId, userConns);
    this.sql.exec(
      `INSERT INTO presence (user_id, user_conns, version, last_seen_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET user_conns = excluded.user_conns, last_seen_at = excluded.last_seen_at,
         version = max(version, excluded.version)`,
      userId,
      userConns,
      version ?? 0,
      Date.now(),
    );
  }

  /** Publishes presence:online / presence:offline when a user's connection count crosses zero. */
  #presenceTransition(userId: string, before: number, after: number): void {
    if ((before === 0) === (after === 0)) return;
    const data: PresenceEventData = { userId, online: after > 0, connections: after, lastSeenAt: new Date().toISOString() };
    this.#publishInternal(after > 0 ? Events.presenceOnline : Events.presenceOffline, Channels.presence, {}, data);
  }

  /**
   * User-stream connections (as the user hubs reported them) plus this hub's
   * sockets. Cheap by default (sockets whose close is still in flight count);
   * `exact` skips those, for the decision at the limit.
   */
  #totalConnections(exact = false): number {
    return this.#userConnsSum() + (exact ? this.sockets().length : this.socketCount());
  }

  /** Whether `adding` more connections would pass the org-wide limit (exact only near it). */
  #overOrgLimit(adding: number): boolean {
    const max = this.config.maxConnectionsPerOrg;
    return this.#totalConnections() + adding > max && this.#totalConnections(true) + adding > max;
  }

  /**
   * A user hub asks before accepting a socket: refuses past the org-wide limit,
   * otherwise records the user's new user-stream count (presence).
   */
  async admitUserConnection(userId: string, userConns: number, version: number): Promise<{ ok: true } | { ok: false; reason: string }> {
    const current = this.#userConns(userId);
    if (userConns > current && this.#overOrgLimit(userConns - current)) {
      return { ok: false, reason: `At most ${this.config.maxConnectionsPerOrg} connections per organization` };
    }
    this.#setUserConns(userId, userConns, version);
    return { ok: true };
  }

  /** A user hub reports its socket count after a socket went away (or a refused upgrade). */
  async reportUserConnections(userId: string, userConns: number, version: number): Promise<void> {
    this.#setUserConns(userId, userConns, version);
  }

  /** Records a user hub's count unless a newer report already arrived. */
  #setUserConns(userId: string, userConns: number, version: number): void {
    const known = this.sql.exec<{ version: number }>("SELECT version FROM presence WHERE user_id = ?", userId).toArray()[0]?.version ?? 0;
    if (version <= known) return;
    const orgSockets = this.#orgSocketsOf(userId);
    const before = this.#userConns(userId) + orgSockets;
    this.#touchPresence(userId, userConns, version);
    this.#presenceTransition(userId, before, userConns + orgSockets);
  }

  /** Presence of every user seen, or of one. */
  async presence(userId?: string): Promise<PresenceInfo[]> {
    const rows =
      userId === undefined
        ? this.sql.exec<{ user_id: string; user_conns: number; last_seen_at: number }>("SELECT * FROM presence ORDER BY user_id").toArray()
        : this.sql.exec<{ user_id: string; user_conns: number; last_seen_at: number }>("SELECT * FROM presence WHERE user_id = ?", userId).toArray();
    const orgCounts = new Map<string, number>();
    for (const { att } of this.sockets()) orgCounts.set(att.uid, (orgCounts.get(att.uid) ?? 0) + 1);
    const seen = new Set<string>();
    const out: PresenceInfo[] = rows.map((r) => {
      seen.add(r.user_id);
      const connections = r.user_conns + (orgCounts.get(r.user_id) ?? 0);
      return { userId: r.user_id, online: connections > 0, connections, lastSeenAt: new Date(r.last_seen_at).toISOString() };
    });
    if (userId !== undefined && !seen.has(userId)) out.push({ userId, online: false, connections: 0, lastSeenAt: null });
    return out;
  }

  // ─────────────────────────── connect ───────────────────────────

  protected async acceptUpgrade({ url, identity, since }: ConnectRequest): Promise<Response> {
    const { maxConnectionsPerUser, maxConnectionsPerOrg, maxSubscriptionsPerSocket } = this.config;

    if (this.#orgSocketsOf(identity.userId) >= maxConnectionsPerUser) {
      return hubErrorResponse(429, ErrorCode.CONNECTION_LIMIT, `At most ${maxConnectionsPerUser} org-stream connections per user`);
    }
    if (this.#overOrgLimit(1)) {
      return hubErrorResponse(429, ErrorCode.CONNECTION_LIMIT, `At most ${maxConnectionsPerOrg} connections per organization`);
    }

    // Initial subscriptions: admins start on the org-wide alert feed; `channels` (+ dept/queue) asks for more.
    const requestedScope = ScopeSchema.safeParse({
      ...(url.searchParams.get("dept") && { dept: url.searchParams.get("dept") }),
      ...(url.searchParams.get("queue") && { queue: url.searchParams.get("queue") }),
    });
    const scope: Scope = requestedScope.success ? requestedScope.data : {};
    const wanted: Subscription[] = identity.role === "admin" ? [{ channel: Channels.alerts, scope: {} }] : [];
    const refused: string[] = [];
    for (const channel of (url.searchParams.get("channels") ?? "").split(",").filter(Boolean)) {
      if (!ChannelNameSchema.safeParse(channel).success || !maySubscribe(identity.role, channel)) refused.push(channel);
      else wanted.push({ channel, scope });
    }
    const initial = dedupeSubs(wanted).slice(0, maxSubscriptionsPerSocket);
    const userBefore = this.#userConns(identity.userId) + this.#orgSocketsOf(identity.userId);

    // From here to the 101 nothing awaits: replay and `connected` precede any later publish.
    const { client, server, att } = this.acceptSocket(identity);
    this.#addSubs(att.cid, initial);
    const { resumed, replayed } =
      since === undefined
        ? { resumed: false, replayed: 0 }
        : this.replay(server, since, (row) => this.#matches(att.cid, row.channel, rowScope(row)), this.#channelsOf(att.cid));
    this.send(server, this.connectedFrame(att, resumed, replayed, initial));
    if (refused.length > 0) {
      this.sendError(server, SocketErrorCode.UNAUTHORIZED, `Not subscribed to: ${refused.join(", ")} (not allowed for role ${identity.role})`);
    }
    this.#touchPresence(identity.userId, this.#userConns(identity.userId));
    this.#presenceTransition(identity.userId, userBefore, userBefore + 1);
    this.armAlarm(att.exp);
    return new Response(null, { status: 101, webSocket: client });
  }

  // ─────────────────────────── publishing ───────────────────────────

  /** Appends and sends a channel event; counted unless the caller counts it with other deliveries. */
  #fanOut(event: HubEvent, counted = true): PublishResult {
    const { seq, frame, duplicate } = this.append(event);
    if (duplicate) return { seq, delivered: 0, duplicate, latencyMs: 0 };
    const scope = event.scope ?? {};
    let delivered = 0;
    this.#subscriptions();
    const subscribers = event.channel !== undefined ? this.#byChannel.get(event.channel) : undefined;
    if (subscribers) {
      // The hot loop of a fan-out: no per-socket lookups beyond two maps.
      const live = this.liveSockets();
      for (const [cid, scopes] of subscribers) {
        if (!scopes.some((s) => scopesOverlap(scope, s))) continue;
        const socket = live.get(cid);
        if (socket && this.send(socket.ws, frame)) delivered++;
      }
    }
    const latencyMs = Math.max(0, Date.now() - event.ts);
    if (counted) this.#count(event.type, delivered, latencyMs);
    return { seq, delivered, duplicate, latencyMs };
  }

  /** An event born in this hub (presence, stats): logged and sent now, recorded in D1 for polling clients. */
  #publishInternal(type: string, channel: string, scope: Scope, data: unknown): void {
    const event: HubEvent = { id: newId("evt"), type, ts: Date.now(), data, channel, scope };
    this.#fanOut(event);
    this.#recordForPolling(event);
  }

  /**
   * Records hub-born events in D1 for polling clients, coalesced: the events
   * of one short window (a reconnect storm's presence changes) go in one batch.
   */
  #recordForPolling(event: HubEvent): void {
    this.#pollingQueue.push(event);
    if (this.#pollingQueue.length > 1) return;
    this.ctx.waitUntil(
      (async () => {
        await new Promise((resolve) => setTimeout(resolve, POLLING_FLUSH_MS));
        const events = this.#pollingQueue;
        this.#pollingQueue = [];
        try {
          await recordPublished(
            this.env.DB,
            events.map((e) => ({ ...e, orgId: this.#orgId(), userIds: [], channel: { name: e.channel!, scope: e.scope ?? {} } })),
            this.config.eventTtlSeconds,
          );
        } catch (err) {
          console.error(`${this.logPrefix} could not record ${events.length} event(s) for polling:`, err);
        }
      })(),
    );
  }

  #orgId(): string {
    return this.ctx.id.name ?? "";
  }

  /**
   * One delivery of events, in order: each channel event is appended to the
   * org stream and sent to its subscribers; every event (channel or not) is
   * counted once in the stats counters, its user-stream sends counted from
   * the connection counts the user hubs report (the user hubs publish in
   * parallel with this call). Returns, per event, the org-stream result or
   * null when it has no channel.
   */
  async publishMany(items: { event: HubEvent; userIds: string[] }[]): Promise<(PublishResult | null)[]> {
    let alertChanged = false;
    const results = items.map(({ event, userIds }) => {
      const result = event.channel !== undefined ? this.#fanOut(event, false) : null;
      const fresh = this.#markCounted(event.id);
      if (fresh && !result?.duplicate) {
        const sent = (result?.delivered ?? 0) + userIds.reduce((n, uid) => n + this.#userConns(uid), 0);
        this.#count(event.type, sent, result?.latencyMs ?? Math.max(0, Date.now() - event.ts));
        if (event.type.startsWith("alert:")) alertChanged = true;
      }
      return result;
    });
    if (alertChanged) this.#statsDirty();
    return results;
  }

  // ─────────────────────────── counters ───────────────────────────

  /** When this hub started counting (ms); cached, it never changes once set. */
  #countingSince: number | undefined;

  #since(): number {
    if (this.#countingSince === undefined) {
      let since = this.getMeta("since");
      if (!since) {
        since = String(Date.now());
        this.setMeta("since", since);
      }
      this.#countingSince = Number(since);
    }
    return this.#countingSince;
  }

  /** Adds one publish to the per-type counters behind the stats endpoint. */
  #count(type: string, sent: number, latencyMs: number): void {
    this.#since();
    this.sql.exec(
      `INSERT INTO counters (type, publishes, sent, latency_sum, latency_max) VALUES (?, 1, ?, ?, ?)
       ON CONFLICT (type) DO UPDATE SET publishes = publishes + 1, sent = sent + excluded.sent,
         latency_sum = latency_sum + excluded.latency_sum, latency_max = max(latency_max, excluded.latency_max)`,
      type,
      sent,
      latencyMs,
      latencyMs,
    );
  }

  #counters(): { type: string; publishes: number; sent: number; latency_sum: number; latency_max: number }[] {
    return this.sql.exec<{ type: string; publishes: number; sent: number; latency_sum: number; latency_max: number }>("SELECT * FROM counters").toArray();
  }

  /** Counted ids older than the replay window are forgotten (inline, every COUNTED_PRUNE_EVERY counts: no alarm needed). */
  #countedSincePrune = 0;

  #markCounted(id: string): boolean {
    const now = Date.now();
    if (++this.#countedSincePrune >= COUNTED_PRUNE_EVERY) {
      this.#countedSincePrune = 0;
      this.sql.exec("DELETE FROM counted WHERE ts < ?", now - this.config.replayRetentionSeconds * 1000);
    }
    return this.sql.exec("INSERT OR IGNORE INTO counted (id, ts) VALUES (?, ?)", id, now).rowsWritten > 0;
  }

  // ─────────────────────────── coalesced stats:updated ───────────────────────────

  /**
   * Whether a live socket subscribes to `stats`. Nobody watching: no alarm and
   * no query (a dashboard that connects later reads GET /api/v1/alerts/stats
   * once, then follows the channel).
   */
  #statsWatched(): boolean {
    this.#subscriptions();
    for (const cid of this.#byChannel.get(Channels.stats)?.keys() ?? []) if (this.socketOf(cid)) return true;
    return false;
  }

  #statsDirty(): void {
    // The in-memory check first: with nobody on `stats`, a publish reads no storage here.
    if (!this.#statsWatched() || this.getMeta("stats_due")) return;
    const last = Number(this.getMeta("stats_last") ?? 0);
    const due = Math.max(Date.now(), last + this.config.statsCoalesceMs);
    this.setMeta("stats_due", String(due));
    this.armAlarm(due);
  }

  protected override nextWorkAt(): number | undefined {
    const due = this.getMeta("stats_due");
    return due ? Number(due) : undefined;
  }

  protected override async onAlarmWork(): Promise<void> {
    const due = this.getMeta("stats_due");
    if (!due || Number(due) > Date.now()) return;
    this.sql.exec("DELETE FROM meta WHERE k = 'stats_due'");
    // The subscriber may have left since the change was noted.
    if (!this.#statsWatched()) return;
    this.setMeta("stats_last", String(Date.now()));
    // A rolling window, not all time: a full-history scan every second per org
    // would grow without bound (docs/COST.md).
    const since = new Date(Date.now() - STATS_WINDOW_MS).toISOString();
    const stats = await alertStats(getDb(this.env), { sub: "herald", org: this.#orgId(), role: "service" }, { since });
    this.#publishInternal(Events.statsUpdated, Channels.stats, {}, stats);
  }

  // ─────────────────────────── admin views ───────────────────────────

  async stats(): Promise<RealtimeStats> {
    const sockets = this.sockets();
    const user = this.#userConnsSum();
    const online = (await this.presence()).filter((p) => p.online).length;
    const channels = new Map<string, { channel: string; scope: Scope; subscribers: number }>();
    for (const { att } of sockets) {
      for (const s of this.#subsOf(att.cid)) {
        const key = `${s.channel}|${scopeKey(s.scope)}`;
        const entry = channels.get(key) ?? { channel: s.channel, scope: s.scope, subscribers: 0 };
        entry.subscribers++;
        channels.set(key, entry);
      }
    }
    const counters = this.#counters();
    const publishes = counters.reduce((n, c) => n + c.publishes, 0);
    return {
      since: new Date(this.#since()).toISOString(),
      connections: { user, org: sockets.length, total: user + sockets.length },
      onlineUsers: online,
      channels: [...channels.values()].sort((a, b) => a.channel.localeCompare(b.channel)),
      messages: counters
        .map((c) => ({
          type: c.type,
          publishes: c.publishes,
          sent: c.sent,
          avgLatencyMs: c.publishes === 0 ? 0 : Math.round(c.latency_sum / c.publishes),
          maxLatencyMs: c.latency_max,
        }))
        .sort((a, b) => a.type.localeCompare(b.type)),
      latency: {
        avgMs: publishes === 0 ? null : Math.round(counters.reduce((n, c) => n + c.latency_sum, 0) / publishes),
        maxMs: publishes === 0 ? null : Math.max(...counters.map((c) => c.latency_max)),
      },
    };
  }

  /** Every connection of the org: its own sockets, and those of the user hubs of online users. */
  async connections(): Promise<{ items: ConnectionInfo[]; truncated: boolean }> {
    const own: ConnectionInfo[] = this.sockets().map(({ ws, att }) => ({
      connectionId: att.cid,
      userId: att.uid,
      stream: "org",
      subscriptions: this.#subsOf(att.cid),
      connectedAt: new Date(att.at).toISOString(),
      lastActivityAt: new Date(this.lastActivity(ws, att)).toISOString(),
    }));
    const users = this.sql
      .exec<{ user_id: string }>("SELECT user_id FROM presence WHERE user_conns > 0 ORDER BY last_seen_at DESC LIMIT ?", CONNECTION_LISTING_MAX_USERS + 1)
      .toArray();
    const truncated = users.length > CONNECTION_LISTING_MAX_USERS;
    const lists = await Promise.all(users.slice(0, CONNECTION_LISTING_MAX_USERS).map((u) => userHub(this.env, this.#orgId(), u.user_id).connections()));
    return { items: [...lists.flat(), ...own], truncated };
  }

  async headSeq(): Promise<number> {
    return this.head();
  }

  // ─────────────────────────── frames ───────────────────────────

  protected onFrame(ws: WebSocket, att: Attachment, frame: Exclude<ClientFrame, { type: "ping" }>): void {
    switch (frame.type) {
      case "subscribe": {
        const refused = frame.channels.filter((c) => !maySubscribe(att.role, c));
        if (refused.length > 0) {
          this.sendError(ws, SocketErrorCode.UNAUTHORIZED, `Role ${att.role} may not subscribe to: ${refused.join(", ")}`, frame.ref);
          return;
        }
        const scope = frame.scope ?? {};
        const current = this.#subsOf(att.cid);
        const adding = dedupeSubs(frame.channels.map((channel) => ({ channel, scope }))).filter(
          (s) => !current.some((c) => c.channel === s.channel && scopeKey(c.scope) === scopeKey(s.scope)),
        );
        const max = this.config.maxSubscriptionsPerSocket;
        if (current.length + adding.length > max) {
          this.sendError(ws, SocketErrorCode.SUBSCRIPTION_LIMIT, `At most ${max} subscriptions per connection`, frame.ref);
          return;
        }
        this.#addSubs(att.cid, adding);
        this.send(ws, JSON.stringify({ type: "ack", ref: frame.ref, subscriptions: this.#subsOf(att.cid) }));
        return;
      }
      case "unsubscribe": {
        const scope = frame.scope ?? {};
        this.#removeSubs(att.cid, frame.channels.map((channel) => ({ channel, scope })));
        this.send(ws, JSON.stringify({ type: "ack", ref: frame.ref, subscriptions: this.#subsOf(att.cid) }));
        return;
      }
      case "resume": {
        const { resumed, replayed } = this.replay(ws, frame.since, (row) => this.#matches(att.cid, row.channel, rowScope(row)), this.#channelsOf(att.cid));
        if (frame.ref !== undefined) this.send(ws, JSON.stringify({ type: "ack", ref: frame.ref, resumed, replayed, seq: this.head() }));
        return;
      }
      case "mark:read":
      case "mark:all:read":
        this.sendError(ws, SocketErrorCode.UNSUPPORTED, "Notifications are read on the user stream (/api/v1/ws)", frame.ref);
        return;
    }
  }

  protected onDisconnect(_ws: WebSocket, att: Attachment): void {
    this.sql.exec("DELETE FROM subs WHERE cid = ?", att.cid);
    const channels = this.#channelsOf(att.cid);
    this.#subs?.delete(att.cid);
    for (const channel of channels) this.#indexChannel(att.cid, channel);
    const after = this.#userConns(att.uid) + this.#orgSocketsOf(att.uid, att.cid);
    this.#touchPresence(att.uid, this.#userConns(att.uid));
    this.#presenceTransition(att.uid, after + 1, after);
  }
}

function rowScope(row: { dept: string | null; queue: string | null }): Scope {
  return { ...(row.dept !== null && { dept: row.dept }), ...(row.queue !== null && { queue: row.queue }) };
}

function dedupeSubs(subs: Subscription[]): Subscription[] {
  const seen = new Map<string, Subscription>();
  for (const s of subs) seen.set(`${s.channel}|${scopeKey(s.scope)}`, s);
  return [...seen.values()];
}
