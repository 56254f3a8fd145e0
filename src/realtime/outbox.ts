import { and, eq, inArray, isNull, lt, lte, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { alerts, realtimeEventAcks, realtimeEventTargets, realtimeEvents, wsTickets } from "../db/schema";
import { ErrorCode, notYetDelivered } from "../errors";
import { enqueueDeliveries, type QueueableDelivery } from "../delivery/enqueue";
import { enqueueWebhookDeliveries } from "../delivery/webhook-fanout";
import type { HubEvent } from "./hub-base";
import type { Scope } from "./protocol";

/**
 * The Worker side of realtime publishing, as a transactional outbox:
 *
 * 1. `eventStatements` turns an event into D1 rows, added to the same
 *    `db.batch` as the change that caused it, so the event exists iff the
 *    change does;
 * 2. `deliverEvents` hands it to every target hub (each appends it to its
 *    log before any socket sees it, and ignores an id it already has), then
 *    marks it published;
 * 3. if a hub cannot be reached the caller answers 503 with Retry-After; the
 *    event stays unpublished, and an idempotent retry (`publishPendingFor`) or
 *    the cron sweep (`sweepUnpublished`) delivers it later, exactly once per
 *    stream thanks to the hubs' dedupe by id.
 */

/** An event on its way to user streams and/or one org channel. */
export interface OutboundEvent {
  id: string;
  orgId: string;
  type: string;
  data: unknown;
  /** Publish time, ms. */
  ts: number;
  userIds: string[];
  channel?: { name: string; scope: Scope };
  source?: string;
}

/** Makes an event's rows conditional on a change having applied (see alerts' `last_change_id`). */
export interface EventGuard {
  alertId: string;
  changeId: string;
}

/**
 * The D1 rows of an event, for the caller's batch. With a guard, the rows are
 * inserted only if the alert's last change is `changeId`, i.e. only if the
 * conditional update earlier in the same batch applied.
 */
export function eventStatements(
  db: Db,
  ev: OutboundEvent,
  ttlSeconds: number,
  options: { publishedAt?: Date | null; guard?: EventGuard } = {},
): BatchItem<"sqlite">[] {
  const { guard, publishedAt = null } = options;
  const applies = guard
    ? sql`EXISTS (SELECT 1 FROM ${alerts} WHERE ${alerts.id} = ${guard.alertId} AND ${alerts.lastChangeId} = ${guard.changeId})`
    : sql`1`;
  // One statement per table whatever the number of targets: the user ids
  // travel as one JSON array parameter, expanded by json_each.
  const statements: BatchItem<"sqlite">[] = [
    db.insert(realtimeEvents).select(
      db
        .select({
          id: sql<string>`${ev.id}`.as("id"),
          orgId: sql<string>`${ev.orgId}`.as("org_id"),
          type: sql<string>`${ev.type}`.as("type"),
          data: sql<string>`${JSON.stringify(ev.data ?? null)}`.as("data"),
          source: sql<string | null>`${ev.source ?? null}`.as("source"),
          createdAt: sql<number>`${ev.ts}`.as("created_at"),
          expiresAt: sql<number>`${ev.ts + ttlSeconds * 1000}`.as("expires_at"),
          publishedAt: sql<number | null>`${publishedAt?.getTime() ?? null}`.as("published_at"),
        })
        .from(sql`json_each('[0]')`)
        .where(applies),
    ),
  ];
  if (ev.userIds.length > 0) {
    statements.push(
      db.insert(realtimeEventTargets).select(
        db
          .select({
            // NULL into INTEGER PRIMARY KEY AUTOINCREMENT: the next position.
            pos: sql<number>`NULL`.as("pos"),
            eventId: sql<string>`${ev.id}`.as("event_id"),
            orgId: sql<string>`${ev.orgId}`.as("org_id"),
            userId: sql<string>`value`.as("user_id"),
            channel: sql<string | null>`NULL`.as("channel"),
            dept: sql<string | null>`NULL`.as("dept"),
            queue: sql<string | null>`NULL`.as("queue"),
          })
          .from(sql`json_each(${JSON.stringify(ev.userIds)})`)
          .where(applies),
      ),
    );
  }
  if (ev.channel) {
    statements.push(
      db.insert(realtimeEventTargets).select(
        db
          .select({
            // NULL into INTEGER PRIMARY KEY AUTOINCREMENT: the next position.
            pos: sql<number>`NULL`.as("pos"),
            eventId: sql<string>`${ev.id}`.as("event_id"),
            orgId: sql<string>`${ev.orgId}`.as("org_id"),
            userId: sql<string | null>`NULL`.as("user_id"),
            channel: sql<string>`${ev.channel.name}`.as("channel"),
            dept: sql<string | null>`${ev.channel.scope.dept ?? null}`.as("dept"),
            queue: sql<string | null>`${ev.channel.scope.queue ?? null}`.as("queue"),
          })
          .from(sql`json_each('[0]')`)
          .where(applies),
      ),
    );
  }
  return statements;
}

/** Most bytes of event JSON bound to one statement when many events are recorded at once (D1 caps one value at 2 MB). */
const RECORD_CHUNK_BYTES = 256 * 1024;

/**
 * Records events that were already published to an org channel (born in a
 * hub: presence, stats) for polling clients: two statements per chunk,
 * whatever the number of events, the rows travelling as one JSON parameter
 * (plain D1 statements: a query builder would rebuild them per event).
 */
export async function recordPublished(d1: D1Database, events: OutboundEvent[], ttlSeconds: number, publishedAt = Date.now()): Promise<void> {
  const chunks: string[][] = [[]];
  let bytes = 0;
  for (const ev of events) {
    const row = JSON.stringify({
      id: ev.id,
      org: ev.orgId,
      type: ev.type,
      data: JSON.stringify(ev.data ?? null),
      source: ev.source ?? null,
      ts: ev.ts,
      exp: ev.ts + ttlSeconds * 1000,
      channel: ev.channel?.name ?? null,
      dept: ev.channel?.scope.dept ?? null,
      queue: ev.channel?.scope.queue ?? null,
    });
    if (bytes + row.length > RECORD_CHUNK_BYTES && chunks.at(-1)!.length > 0) {
      chunks.push([]);
      bytes = 0;
    }
    chunks.at(-1)!.push(row);
    bytes += row.length;
  }
  const insertEvents = d1.prepare(
    `INSERT INTO realtime_events (id, org_id, type, data, source, created_at, expires_at, published_at)
     SELECT value ->> 'id', value ->> 'org', value ->> 'type', value ->> 'data', value ->> 'source', value ->> 'ts', value ->> 'exp', ?2
     FROM json_each(?1)`,
  );
  const insertTargets = d1.prepare(
    `INSERT INTO realtime_event_targets (event_id, org_id, user_id, channel, dept, queue)
     SELECT value ->> 'id', value ->> 'org', NULL, value ->> 'channel', value ->> 'dept', value ->> 'queue'
     FROM json_each(?1) WHERE value ->> 'channel' IS NOT NULL ORDER BY key`,
  );
  for (const rows of chunks) {
    if (rows.length === 0) continue;
    const json = `[${rows.join(",")}]`;
    await d1.batch([insertEvents.bind(json, publishedAt), insertTargets.bind(json)]);
  }
}

/** Addresses of the hubs. Names never contain "/" in ids (see IdString), so `${org}/${user}` is unambiguous. */
export const userHubName = (orgId: string, userId: string) => `${orgId}/${userId}`;

export function userHub(env: Env, orgId: string, userId: string) {
  return env.USER_HUB.getByName(userHubName(orgId, userId));
}

export function orgHub(env: Env, orgId: string) {
  return env.ORG_HUB.getByName(orgId);
}

/** What one delivery reached. */
export interface DeliveryReport {
  /** Sockets the event was sent to, over every target stream. */
  reached: number;
  /** The seq the event got in each user stream, and in the org stream. */
  userSeqs: Record<string, number>;
  orgSeq?: number;
}

/** What a delivery does besides appending the events. */
export interface DeliverOptions {
  /** Users whose `unread:count` badge changed: their hubs re-send it (see UserHub.refreshUnread). */
  refreshUnread?: { orgId: string; userIds: string[] };
  /**
   * Deliveries the caller wrote in the same batch as the events (email, SMS,
   * webhooks): queued after the hubs, before the events are marked published.
   */
  queue?: QueueableDelivery[];
  /**
   * The events' webhook deliveries are among `queue` (see
   * planWebhookDeliveries); otherwise they are created and queued here.
   */
  webhooksPlanned?: boolean;
}

/**
 * Hands events (of one org) to their hubs in one round: one call per target
 * user hub with that user's events in order, and one call to the org hub
 * (channel events, counters), all in parallel. Throws if any hub fails.
 */
export async function deliverToHubs(env: Env, events: OutboundEvent[], refreshUnread?: DeliverOptions["refreshUnread"]): Promise<DeliveryReport[]> {
  const orgId = events[0]?.orgId ?? refreshUnread?.orgId;
  if (orgId === undefined) return [];
  if (refreshUnread && refreshUnread.orgId !== orgId) throw new Error("deliverToHubs: one org per delivery");
  const hubEvent = (ev: OutboundEvent): HubEvent => ({
    id: ev.id,
    type: ev.type,
    ts: ev.ts,
    data: ev.data,
    ...(ev.channel && { channel: ev.channel.name, scope: ev.channel.scope }),
  });
  const perUser = new Map<string, OutboundEvent[]>();
  for (const ev of events) {
    for (const uid of new Set(ev.userIds)) {
      let mine = perUser.get(uid);
      if (!mine) perUser.set(uid, (mine = []));
      mine.push(ev);
    }
  }
  const refresh = new Set(refreshUnread?.userIds);
  const userCalls = [...perUser].map(async ([uid, mine]) => {
    // A user who gets events has the badge refreshed in the same call (and leaves `refresh`).
    const refreshToo = refresh.delete(uid);
    const results = await userHub(env, orgId, uid).publishMany(
      mine.map(({ id, type, ts, data }) => ({ id, type, ts, data })),
      { refreshUnread: refreshToo },
    );
    return { uid, mine, results };
  });
  // Badges of users who got no event in this delivery.
  const refreshCalls = [...refresh].map((uid) => userHub(env, orgId, uid).refreshUnread());
  const orgCall = events.length > 0 ? orgHub(env, orgId).publishMany(events.map((ev) => ({ event: hubEvent(ev), userIds: ev.userIds }))) : Promise.resolve([]);
  const [users, orgResults] = await Promise.all([Promise.all(userCalls), orgCall, Promise.all(refreshCalls)]);
  const reports = new Map<string, DeliveryReport>(events.map((ev) => [ev.id, { reached: 0, userSeqs: {} }]));
  for (const { uid, mine, results } of users) {
    mine.forEach((ev, i) => {
      const report = reports.get(ev.id)!;
      report.reached += results[i]!.delivered;
      report.userSeqs[uid] = results[i]!.seq;
    });
  }
  events.forEach((ev, i) => {
    const org = orgResults[i];
    if (!org) return;
    const report = reports.get(ev.id)!;
    report.reached += org.delivered;
    report.orgSeq = org.seq;
  });
  return events.map((ev) => reports.get(ev.id)!);
}

/**
 * Delivers events (already in D1) and marks them published. If a hub fails,
 * the events stay unpublished for a retry or the sweep, and this throws 503
 * `REALTIME_UNAVAILABLE` with Retry-After.
 */
export async function deliverEvents(env: Env, db: Db, events: OutboundEvent[], options: DeliverOptions = {}): Promise<DeliveryReport[]> {
  // No events can still mean work: badges and queued deliveries (e.g. notifications with realtime turned off).
  let reports: DeliveryReport[];
  try {
    reports = await deliverToHubs(env, events, options.refreshUnread);
  } catch (err) {
    console.error("herald: realtime delivery failed; the events stay queued for retry", err);
    throw notYetDelivered(ErrorCode.REALTIME_UNAVAILABLE, "realtime delivery is not confirmed yet", events.map((e) => e.id));
  }
  try {
    await enqueueDeliveries(env, options.queue ?? []);
  } catch (err) {
    console.error("herald: queuing deliveries failed; the events stay unpublished for retry", err);
    throw notYetDelivered(ErrorCode.SERVICE_UNAVAILABLE, "its deliveries are not queued yet", events.map((e) => e.id));
  }
  if (events.length === 0) return reports;
  // Webhook endpoints subscribed to these events get their deliveries queued
  // (idempotent per endpoint and event, so a re-delivery never doubles them).
  if (!options.webhooksPlanned) await enqueueWebhookDeliveries(env, db, events);
  await markPublished(db, events);
  return reports;
}

/** Marks events published: the sweep leaves them alone from now on. */
export async function markPublished(db: Db, events: OutboundEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .update(realtimeEvents)
    .set({ publishedAt: new Date() })
    .where(inArray(realtimeEvents.id, events.map((e) => e.id)));
}

/** Rebuilds outbound events from their D1 rows. */
async function loadEvents(db: Db, rows: (typeof realtimeEvents.$inferSelect)[]): Promise<OutboundEvent[]> {
  if (rows.length === 0) return [];
  const targets = await db.select().from(realtimeEventTargets).where(inArray(realtimeEventTargets.eventId, rows.map((r) => r.id)));
  return rows.map((r) => {
    const mine = targets.filter((t) => t.eventId === r.id);
    const channelRow = mine.find((t) => t.channel !== null);
    return {
      id: r.id,
      orgId: r.orgId,
      type: r.type,
      data: r.data,
      ts: r.createdAt.getTime(),
      source: r.source ?? undefined,
      userIds: mine.filter((t) => t.userId !== null).map((t) => t.userId!),
      ...(channelRow && {
        channel: {
          name: channelRow.channel!,
          scope: { ...(channelRow.dept !== null && { dept: channelRow.dept }), ...(channelRow.queue !== null && { queue: channelRow.queue }) },
        },
      }),
    };
  });
}

/** Finishes publishing the events of one source (an idempotent retry of the request that caused them). */
export async function publishPendingFor(env: Env, db: Db, orgId: string, source: string): Promise<void> {
  const rows = await db
    .select()
    .from(realtimeEvents)
    .where(and(eq(realtimeEvents.orgId, orgId), eq(realtimeEvents.source, source), isNull(realtimeEvents.publishedAt)))
    .orderBy(realtimeEvents.createdAt, sql`rowid`);
  const events = await loadEvents(db, rows);
  await deliverEvents(env, db, events, { refreshUnread: inboxUsers(events) });
}

/** Users whose inbox the events change (their badge is re-sent). */
function inboxUsers(events: OutboundEvent[]): DeliverOptions["refreshUnread"] {
  if (events.length === 0) return undefined;
  return { orgId: events[0]!.orgId, userIds: [...new Set(events.filter((e) => e.type.startsWith("notification:")).flatMap((e) => e.userIds))] };
}

/** Cron: re-delivers events left unpublished for longer than `olderThanMs`, oldest first. */
export async function sweepUnpublished(env: Env, db: Db, olderThanMs = 10_000, limit = 100): Promise<{ delivered: number; failed: number }> {
  const rows = await db
    .select()
    .from(realtimeEvents)
    .where(and(isNull(realtimeEvents.publishedAt), lt(realtimeEvents.createdAt, new Date(Date.now() - olderThanMs))))
    // rowid: insertion order, for the events of one batch (same created_at).
    .orderBy(realtimeEvents.createdAt, sql`rowid`)
    .limit(limit);
  let delivered = 0;
  let failed = 0;
  for (const ev of await loadEvents(db, rows)) {
    try {
      await deliverEvents(env, db, [ev], { refreshUnread: inboxUsers([ev]) });
      delivered++;
    } catch {
      failed++;
    }
  }
  return { delivered, failed };
}

/** Cron: deletes expired events with their targets and acknowledgements, and spent tickets. */
export async function purgeExpiredRealtime(db: Db, eventTtlSeconds: number, now = new Date()): Promise<number> {
  const expired = db.select({ id: realtimeEvents.id }).from(realtimeEvents).where(lte(realtimeEvents.expiresAt, now));
  const [, , , deleted] = await db.batch([
    db.delete(realtimeEventTargets).where(inArray(realtimeEventTargets.eventId, expired)),
    db.delete(realtimeEventAcks).where(inArray(realtimeEventAcks.eventId, expired)),
    // Acks of ids that never existed in this org (ack ignores unknown ids, so these are rare) age out too.
    db.delete(realtimeEventAcks).where(lte(realtimeEventAcks.ackedAt, new Date(now.getTime() - eventTtlSeconds * 1000))),
    db.delete(realtimeEvents).where(lte(realtimeEvents.expiresAt, now)),
    db.delete(wsTickets).where(lte(wsTickets.expiresAt, now)),
  ]);
  return deleted.meta.changes ?? 0;
}
