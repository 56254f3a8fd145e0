import { newId } from "../lib/ids";
import { alertStats } from "../services/alerts";
import { runEscalation, type EscalationContext } from "../services/routing/escalate";
import { appDeps, orgDeps, type Deps } from "../deps";
import { RETRY_AFTER_SECONDS } from "../errors";
import { decide } from "../routing/decide";
import { openAssignedPage } from "../services/routing/open-alerts";
import type { RoutedDecision, RouteRequest } from "../services/routing/port";
import { Counters } from "./counters";
import { Escalations, type PendingEscalation } from "./escalations";
import { connectionLimit, HubBase, type HubFrame, type ReplaySelection } from "./hub-base";
import type { ConnectIdentity, ConnectRequest, HubEvent, PublishResult } from "./hub-api";
import { SeenClaims } from "./seen-claims";
import { recordSeenUsers } from "../services/users";
import { recordPublished, userHub } from "../outbox";
import { PresenceTable } from "./presence";
import { RouterTable, type Reservation } from "./router";
import type { Attachment } from "./socket-index";
import { StatsFeed } from "./stats-feed";
import { dedupeSubs, rowScope, SubscriptionIndex } from "./subscriptions";
import {
  Channels,
  ChannelNameSchema,
  Events,
  maySubscribe,
  ScopeSchema,
  scopeKey,
  scopesOverlap,
  SocketErrorCode,
  type AlertEventData,
  type ConnectionInfo,
  type PresenceEventData,
  type PresenceInfo,
  type RealtimeStats,
  type Scope,
  type Subscription,
  type SubscriptionsAck,
} from "../protocol";

/** How long hub-born events wait to be recorded in D1 together (ms). */
const POLLING_FLUSH_MS = 50;
/** Tries (RETRY_AFTER_SECONDS apart) to record hub-born events for polling while the org is moving between shards. */
const POLLING_MOVE_ATTEMPTS = 30;

/**
 * Most escalations one alarm runs; the rest re-arm the alarm for now. Each
 * one is a D1 round trip or two, a publish and notifications, run one after
 * the other: bounded, one alarm stays a few seconds (well inside an alarm's
 * time limit) and the hub's other work (publishes, routing decisions)
 * interleaves between runs instead of waiting behind a burst of SLAs that
 * passed together. An internal pacing, not a user-facing limit: no config var.
 */
export const ESCALATIONS_PER_ALARM = 50;

/** How long an escalation that failed (D1 or a hub unreachable) waits before it is tried again (ms). */
const ESCALATION_RETRY_MS = 30_000;

/** Open assigned alerts read from D1 per statement while seeding the routing loads. */
const ROUTING_SEED_PAGE = 500;

/** Most user hubs asked for their connections by one admin listing. */
const CONNECTION_LISTING_MAX_USERS = 200;

/**
 * One per organization: the org stream (channels such as `alerts`, `stats`,
 * `presence`, `kpi`, scoped by dept and queue), the org's presence registry
 * (user-stream counts reported by the user hubs plus its own sockets), the
 * org-wide connection limit, and the realtime counters behind the stats
 * endpoint. Each of these is a part with its own table: `SubscriptionIndex`,
 * `PresenceTable`, `Counters`, `StatsFeed`.
 */
export class OrgHub extends HubBase {
  readonly #subs = new SubscriptionIndex(this.ctx.storage.sql, () => this.sockets.open().map((s) => s.att.cid));
  readonly #presence = new PresenceTable(this.ctx.storage.sql);
  readonly #counters = new Counters(this.ctx.storage.sql, this.meta, () => this.config.replayRetentionSeconds * 1000);
  readonly #stats = new StatsFeed(
    this.meta,
    () => this.#statsWatched(),
    () => this.config.statsCoalesceMs,
    (at) => this.armAlarm(at),
  );
  readonly #escalations = new Escalations(this.ctx.storage.sql);
  readonly #router = new RouterTable(this.ctx.storage.sql, this.meta, () => this.config.routing.reservationSeconds * 1000);
  /** The one seeding of the routing loads from D1 in flight, shared by concurrent route calls. */
  #routingSeed: Promise<void> | undefined;
  /** Events born in this hub waiting to be recorded in D1 for polling clients (one batch per flush). */
  #pollingQueue: HubEvent[] = [];
  /** People seen on sockets, and what the directory holds of them. */
  readonly #seen = new SeenClaims(this.ctx.storage.sql);
  #flushScheduled = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, "org");
  }

  protected override replaySelection(att: Attachment): ReplaySelection {
    return { matches: (row) => this.#subs.matches(att.cid, row.channel, rowScope(row)), channels: this.#subs.channelsOf(att.cid) };
  }

  // ─────────────────────────── presence ───────────────────────────

  /** Publishes presence:online / presence:offline when a user's connection count crosses zero. */
  #presenceTransition(userId: string, before: number, after: number): void {
    if ((before === 0) === (after === 0)) return;
    const data: PresenceEventData = { userId, online: after > 0, connections: after, lastSeenAt: new Date().toISOString() };
    this.#publishInternal(after > 0 ? Events.presenceOnline : Events.presenceOffline, Channels.presence, {}, data);
  }

  /** Whether `adding` more connections would pass the org-wide limit. Cheap first (sockets whose close is in flight count), exact only near it. */
  #overOrgLimit(adding: number): boolean {
    const max = this.config.maxConnectionsPerOrg;
    const users = this.#presence.total();
    return users + this.sockets.size + adding > max && users + this.sockets.open().length + adding > max;
  }

  /**
   * A user hub asks before accepting a socket: refuses past the org-wide limit,
   * otherwise records the user's new user-stream count (presence) and, when
   * `identity` is given, the person in the directory (`#recordSeen`).
   */
  async admitUserConnection(
    userId: string,
    userConns: number,
    version: number,
    identity?: ConnectIdentity,
  ): Promise<{ ok: true } | { ok: false; reason: string }> {
    const current = this.#presence.userConns(userId);
    if (userConns > current && this.#overOrgLimit(userConns - current)) {
      return { ok: false, reason: `At most ${this.config.maxConnectionsPerOrg} connections per organization` };
    }
    this.#setUserConns(userId, userConns, version);
    if (identity) this.#recordSeen(identity);
    return { ok: true };
  }

  /** A user hub reports its socket count after a socket went away (or a refused upgrade). */
  async reportUserConnections(userId: string, userConns: number, version: number): Promise<void> {
    this.#setUserConns(userId, userConns, version);
  }

  /** Records a user hub's count unless a newer report already arrived. */
  #setUserConns(userId: string, userConns: number, version: number): void {
    if (version <= this.#presence.version(userId)) return;
    const orgSockets = this.sockets.userCount(userId);
    const before = this.#presence.userConns(userId) + orgSockets;
    this.#presence.touch(userId, userConns, version);
    this.#presenceTransition(userId, before, userConns + orgSockets);
  }

  /** Presence of every user seen, or of one. */
  async presence(userId?: string): Promise<PresenceInfo[]> {
    const rows = this.#presence.rows(userId);
    const orgCounts = new Map<string, number>();
    for (const { att } of this.sockets.open()) orgCounts.set(att.uid, (orgCounts.get(att.uid) ?? 0) + 1);
    const out: PresenceInfo[] = rows.map((r) => {
      const connections = r.user_conns + (orgCounts.get(r.user_id) ?? 0);
      return { userId: r.user_id, online: connections > 0, connections, lastSeenAt: new Date(r.last_seen_at).toISOString() };
    });
    if (userId !== undefined && rows.length === 0) out.push({ userId, online: false, connections: 0, lastSeenAt: null });
    return out;
  }

  // ─────────────────────────── connect ───────────────────────────

  protected async acceptUpgrade({ url, identity, since }: ConnectRequest): Promise<Response> {
    const { maxConnectionsPerUser, maxConnectionsPerOrg, maxSubscriptionsPerSocket } = this.config;

    if (this.sockets.userCount(identity.userId) >= maxConnectionsPerUser) {
      throw connectionLimit(`At most ${maxConnectionsPerUser} org-stream connections per user`);
    }
    if (this.#overOrgLimit(1)) {
      throw connectionLimit(`At most ${maxConnectionsPerOrg} connections per organization`);
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
    const userBefore = this.#presence.userConns(identity.userId) + this.sockets.userCount(identity.userId);

    // From here to the 101 nothing awaits: replay and `connected` precede any later publish.
    const { client, server, att } = this.acceptSocket(identity);
    this.#subs.add(att.cid, initial);
    const { resumed, replayed } = this.resume(server, att, since);
    this.send(server, this.connectedFrame(att, resumed, replayed, initial));
    if (refused.length > 0) {
      this.sendError(server, SocketErrorCode.UNAUTHORIZED, `Not subscribed to: ${refused.join(", ")} (not allowed for role ${identity.role})`);
    }
    this.#presence.touch(identity.userId, this.#presence.userConns(identity.userId));
    this.#presenceTransition(identity.userId, userBefore, userBefore + 1);
    this.#recordSeen(identity);
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
    const subscribers = event.channel !== undefined ? this.#subs.subscribers(event.channel) : undefined;
    if (subscribers) {
      // The hot loop of a fan-out: no per-socket lookups beyond two maps.
      const live = this.sockets.all();
      for (const [cid, scopes] of subscribers) {
        if (!scopes.some((s) => scopesOverlap(scope, s))) continue;
        const socket = live.get(cid);
        if (socket && this.send(socket.ws, frame)) delivered++;
      }
    }
    const latencyMs = Math.max(0, Date.now() - event.ts);
    if (counted) this.#counters.count(event.type, delivered, latencyMs);
    return { seq, delivered, duplicate, latencyMs };
  }

  /** An event born in this hub (presence, stats): logged and sent now, recorded in D1 for polling clients. */
  #publishInternal(type: string, channel: string, scope: Scope, data: unknown): void {
    const event: HubEvent = { id: newId("evt"), type, ts: Date.now(), data, channel, scope };
    this.#fanOut(event);
    this.#recordForPolling(event);
  }

  /** Records a hub-born event in D1 for polling clients, with the next flush (`#scheduleFlush`). */
  #recordForPolling(event: HubEvent): void {
    this.#pollingQueue.push(event);
    this.#scheduleFlush();
  }

  /** Records a person who opened a socket in the D1 directory, with the next flush, unless their claims are already there. */
  #recordSeen(identity: ConnectIdentity): void {
    if (this.#seen.note(identity)) this.#scheduleFlush();
  }

  /**
   * Writes what waits for D1 (hub-born events for polling clients, people
   * seen on sockets) together, POLLING_FLUSH_MS after the first of them: the
   * connects and presence changes of a reconnect storm cost a few D1
   * statements, not several per socket. While the org moves between shards
   * its writes are refused for a few seconds (ORG_MOVING): the flush waits
   * and writes to wherever the org lives then.
   */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    this.ctx.waitUntil(
      (async () => {
        await new Promise((resolve) => setTimeout(resolve, POLLING_FLUSH_MS));
        this.#flushScheduled = false;
        const events = this.#pollingQueue;
        this.#pollingQueue = [];
        const seen = this.#seen.take();
        const rows = events.map((e) => ({ ...e, orgId: this.#orgId(), userIds: [], channel: { name: e.channel!, scope: e.scope ?? {} } }));
        for (let attempt = 1; ; attempt++) {
          try {
            const { d1 } = (await this.#deps()).shard;
            await Promise.all([rows.length > 0 && recordPublished(d1, rows, this.config.eventTtlSeconds), recordSeenUsers(d1, seen)]);
            this.#seen.recorded(seen);
            return;
          } catch (err) {
            if (attempt < POLLING_MOVE_ATTEMPTS && appDeps(this.env).shards.refused(err, this.#orgId())) {
              await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_SECONDS * 1000));
              continue;
            }
            // Not recorded: the people seen are noted again at their next connect.
            console.error(`${this.logPrefix} could not record ${events.length} event(s) for polling and ${seen.length} person(s) seen:`, err);
            return;
          }
        }
      })(),
    );
  }

  /** The dependencies over this org's shard. */
  #deps(): Promise<Deps> {
    return orgDeps(this.env, this.#orgId());
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
      if (event.type.startsWith("alert:")) this.#observeAlert(event);
      const result = event.channel !== undefined ? this.#fanOut(event, false) : null;
      const fresh = this.#counters.markCounted(event.id);
      if (fresh && !result?.duplicate) {
        const sent = (result?.delivered ?? 0) + userIds.reduce((n, uid) => n + this.#presence.userConns(uid), 0);
        this.#counters.count(event.type, sent, result?.latencyMs ?? Math.max(0, Date.now() - event.ts));
        if (event.type.startsWith("alert:")) alertChanged = true;
      }
      return result;
    });
    if (alertChanged) this.#stats.dirty();
    return results;
  }

  // ─────────────────────────── coalesced stats:updated ───────────────────────────

  /**
   * Whether a live socket subscribes to `stats`. Nobody watching: no alarm and
   * no query (a dashboard that connects later reads GET /api/v1/alerts/stats
   * once, then follows the channel).
   */
  #statsWatched(): boolean {
    for (const cid of this.#subs.subscribers(Channels.stats)?.keys() ?? []) if (this.sockets.get(cid)) return true;
    return false;
  }

  protected override nextWorkAt(): number | undefined {
    const tick = this.#stats.nextTickAt();
    const escalation = this.#escalations.nextAt();
    return tick === undefined || escalation === undefined ? (tick ?? escalation) : Math.min(tick, escalation);
  }

  protected override async onAlarmWork(): Promise<void> {
    this.#counters.prune();
    await this.#runDueEscalations();
    if (!this.#stats.takeTick()) return;
    const stats = await alertStats((await this.#deps()).db, { sub: "herald", org: this.#orgId(), role: "service" }, { since: this.#stats.windowStart() });
    this.#publishInternal(Events.statsUpdated, Channels.stats, {}, stats);
  }

  // ─────────────────────────── escalations ───────────────────────────

  /**
   * An alert event passed through. Routing's open loads follow it (confirm a
   * reservation, close, reassign), but only once routing was used in this org:
   * before that the first routing loads the loads from D1, which the event's
   * change is already committed to, so an org without rules writes nothing
   * here. An escalation of an alert no longer PENDING, or reassigned by
   * someone else, is cancelled (nothing to read when none is pending).
   */
  #observeAlert(event: HubEvent): void {
    const alert = (event.data as Partial<AlertEventData> | null)?.alert;
    if (!alert || typeof alert.id !== "string") return;
    if (this.#routingSeed !== undefined || this.#router.seeded()) this.#router.observe(alert);
    if (this.#escalations.nextAt() !== undefined) this.#escalations.observe(alert);
  }

  /** Records the alert's pending escalation (replacing any) and arms the alarm for it. Routing calls this in-hub. */
  #scheduleEscalation(alertId: string, e: Omit<PendingEscalation, "alertId" | "since"> & { since?: number }): void {
    this.#escalations.schedule(alertId, e);
    this.armAlarm(e.dueAt);
  }

  /** Schedules an alert's escalation (docs/ROUTING.md, "Escalation"): due at `dueAt` unless an alert event cancels it first. */
  async scheduleEscalation(alertId: string, e: Omit<PendingEscalation, "alertId" | "since"> & { since?: number }): Promise<void> {
    this.#scheduleEscalation(alertId, e);
  }

  /** Cancels an alert's pending escalation, if any. */
  async cancelEscalation(alertId: string): Promise<void> {
    this.#escalations.cancel(alertId);
  }

  /** The alert's pending escalation (admin views, tests), or null. */
  async pendingEscalation(alertId: string): Promise<PendingEscalation | null> {
    return this.#escalations.get(alertId) ?? null;
  }

  /** Runs the escalations due now, at most ESCALATIONS_PER_ALARM (the alarm re-arms for the rest); one failing does not stop the others. */
  async #runDueEscalations(): Promise<void> {
    const now = Date.now();
    const due = this.#escalations.due(now, ESCALATIONS_PER_ALARM);
    if (due.length === 0) return;
    const d = await this.#deps();
    // This run's reservations, to give back exactly (the previous assignee's entry, the rotation) if a write loses.
    const held = new Map<string, Reservation>();
    const context: EscalationContext = {
      state: async () => {
        await this.#seedRouting();
        this.#router.expire();
        const loads = this.#router.loads();
        return {
          load: (id) => loads.get(id) ?? 0,
          online: (id) => this.#online(id),
          lastAssignedAt: (id) => this.#router.lastAssignedAt(id),
          cursor: (id) => this.#router.cursor(id),
        };
      },
      reserve: (alertId, agentId, ruleId) => {
        held.set(alertId, this.#router.reserveFor(alertId, agentId, ruleId));
      },
      release: (alertId) => {
        const reservation = held.get(alertId);
        if (reservation) this.#router.undo(reservation);
        else this.#router.release(alertId);
      },
      schedule: (alertId, e) => this.#scheduleEscalation(alertId, e),
      cancel: (alertId) => this.#escalations.cancel(alertId),
    };
    for (const pending of due) {
      // Still pending and unchanged (an event handled while an earlier one awaited may have cancelled or moved it).
      const current = this.#escalations.get(pending.alertId);
      if (!current || current.dueAt > now || current.level !== pending.level) continue;
      try {
        await runEscalation(d, this.#orgId(), current, context);
      } catch (err) {
        console.error(`${this.logPrefix} escalation of ${pending.alertId}:`, err);
        // Tried again a little later, not in a loop of alarms (D1 or a hub was unreachable).
        const after = this.#escalations.get(pending.alertId);
        if (after && after.level === current.level && after.dueAt === current.dueAt) {
          this.#scheduleEscalation(pending.alertId, { ...after, dueAt: Date.now() + ESCALATION_RETRY_MS });
        }
      }
    }
  }

  // ─────────────────────────── routing ───────────────────────────

  /** Whether the user has a connection open to this hub or their user hub. */
  #online(userId: string): boolean {
    return this.#presence.userConns(userId) + this.sockets.userCount(userId) > 0;
  }

  /** Loads the org's open assigned alerts from D1 once (meta flag), page by page. */
  async #seedRouting(): Promise<void> {
    if (this.#router.seeded()) return;
    this.#routingSeed ??= (async () => {
      const { db } = await this.#deps();
      let after = "";
      for (;;) {
        const page = await openAssignedPage(db, this.#orgId(), after, ROUTING_SEED_PAGE);
        this.#router.seed(page);
        if (page.length < ROUTING_SEED_PAGE) break;
        after = page[page.length - 1]!.id;
      }
      this.#router.markSeeded();
    })().finally(() => {
      this.#routingSeed = undefined;
    });
    await this.#routingSeed;
  }

  /**
   * Routes an alert (docs/ROUTING.md): the decision over the org's loads,
   * presence, cursors and last assignments, and with `reserve` the
   * reservation of the alert for the chosen agent, the rule's cursor, and
   * the escalation when the rule has an SLA for the alert's priority. From
   * the decision to the reservation nothing awaits, so concurrent calls
   * never see the same free capacity. A retry for an alert already reserved
   * does not reserve again. The escalation is due at `assignedAt` (the
   * caller's assignment time, the alert's `assignedAt`) + SLA.
   */
  async route(input: RouteRequest): Promise<RoutedDecision> {
    await this.#seedRouting();
    const now = Date.now();
    this.#router.expire(now);
    const loads = this.#router.loads();
    const decision = decide({
      alert: input.alert,
      rules: input.rules,
      agents: input.agents,
      exclude: new Set(input.exclude ?? []),
      defaultCapacity: this.config.routing.defaultCapacity,
      state: {
        load: (id) => loads.get(id) ?? 0,
        online: (id) => this.#online(id),
        lastAssignedAt: (id) => this.#router.lastAssignedAt(id),
        cursor: (id) => this.#router.cursor(id),
      },
    });
    if (input.reserve && decision.agentId !== null && decision.rule !== null) {
      const reservation = this.#router.reserveFor(input.alert.id, decision.agentId, decision.rule.id, now);
      const sla = decision.escalation?.slaSeconds[input.alert.priority];
      if (sla !== undefined && sla > 0) {
        const assignedAt = input.assignedAt ?? now;
        this.#scheduleEscalation(input.alert.id, {
          ruleId: decision.rule.id,
          level: 0,
          dueAt: assignedAt + sla * 1000,
          assigneeId: decision.agentId,
          priority: input.alert.priority,
          // The assignment's own event (updatedAt = assignedAt) keeps it; older ones are ignored.
          since: input.assignedAt ?? 0,
        });
      }
      return { ...decision, reservation };
    }
    return decision;
  }

  /**
   * Gives back a reservation whose write did not happen (a lost idempotent
   * race, a reassignment that lost its race, a failed write) and its
   * escalation. With the reservation `route` returned, the alert's entry,
   * the rule's cursor and the agent's last assignment return to what they
   * were; without, an unconfirmed entry is dropped.
   */
  async releaseRoute(alertId: string, reservation?: Reservation): Promise<void> {
    if (reservation && reservation.alertId === alertId) this.#router.undo(reservation);
    else this.#router.release(alertId);
    this.#escalations.cancel(alertId);
  }

  /** Open load and presence of the given agents (the routing agents view). */
  async routingState(agentIds: string[]): Promise<{ agentId: string; load: number; online: boolean }[]> {
    await this.#seedRouting();
    this.#router.expire();
    const loads = this.#router.loads();
    return agentIds.map((agentId) => ({ agentId, load: loads.get(agentId) ?? 0, online: this.#online(agentId) }));
  }

  // ─────────────────────────── admin views ───────────────────────────

  async stats(): Promise<RealtimeStats> {
    const sockets = this.sockets.open();
    const user = this.#presence.total();
    const online = (await this.presence()).filter((p) => p.online).length;
    const { since, messages, latency } = this.#counters.summary();
    return {
      since,
      connections: { user, org: sockets.length, total: user + sockets.length },
      onlineUsers: online,
      channels: this.#subs.countsFor(sockets.map((s) => s.att.cid)),
      messages,
      latency,
    };
  }

  /** Every connection of the org: its own sockets, and those of the user hubs of online users. */
  async connections(): Promise<{ items: ConnectionInfo[]; truncated: boolean }> {
    const own: ConnectionInfo[] = this.sockets.open().map(({ ws, att }) => ({
      connectionId: att.cid,
      userId: att.uid,
      stream: "org",
      subscriptions: this.#subs.of(att.cid),
      connectedAt: new Date(att.at).toISOString(),
      lastActivityAt: new Date(this.lastActivity(ws, att)).toISOString(),
    }));
    const users = this.#presence.connectedUsers(CONNECTION_LISTING_MAX_USERS + 1);
    const truncated = users.length > CONNECTION_LISTING_MAX_USERS;
    const lists = await Promise.all(users.slice(0, CONNECTION_LISTING_MAX_USERS).map((uid) => userHub(this.env, this.#orgId(), uid).connections()));
    return { items: [...lists.flat(), ...own], truncated };
  }

  // ─────────────────────────── frames ───────────────────────────

  protected onFrame(ws: WebSocket, att: Attachment, frame: HubFrame): void {
    switch (frame.type) {
      case "subscribe": {
        const refused = frame.channels.filter((c) => !maySubscribe(att.role, c));
        if (refused.length > 0) {
          this.sendError(ws, SocketErrorCode.UNAUTHORIZED, `Role ${att.role} may not subscribe to: ${refused.join(", ")}`, frame.ref);
          return;
        }
        const scope = frame.scope ?? {};
        const current = this.#subs.of(att.cid);
        const adding = dedupeSubs(frame.channels.map((channel) => ({ channel, scope }))).filter(
          (s) => !current.some((c) => c.channel === s.channel && scopeKey(c.scope) === scopeKey(s.scope)),
        );
        const max = this.config.maxSubscriptionsPerSocket;
        if (current.length + adding.length > max) {
          this.sendError(ws, SocketErrorCode.SUBSCRIPTION_LIMIT, `At most ${max} subscriptions per connection`, frame.ref);
          return;
        }
        this.#subs.add(att.cid, adding);
        this.send(ws, JSON.stringify({ type: "ack", ref: frame.ref, subscriptions: this.#subs.of(att.cid) } satisfies SubscriptionsAck));
        return;
      }
      case "unsubscribe": {
        const scope = frame.scope ?? {};
        this.#subs.remove(att.cid, frame.channels.map((channel) => ({ channel, scope })));
        this.send(ws, JSON.stringify({ type: "ack", ref: frame.ref, subscriptions: this.#subs.of(att.cid) } satisfies SubscriptionsAck));
        return;
      }
      case "mark:read":
      case "mark:all:read":
        this.sendError(ws, SocketErrorCode.UNSUPPORTED, "Notifications are read on the user stream (/api/v1/ws)", frame.ref);
        return;
    }
  }

  protected onDisconnect(_ws: WebSocket, att: Attachment): void {
    this.#subs.drop(att.cid);
    const userConns = this.#presence.userConns(att.uid);
    const after = userConns + this.sockets.userCount(att.uid, att.cid);
    this.#presence.touch(att.uid, userConns);
    this.#presenceTransition(att.uid, after + 1, after);
  }
}
