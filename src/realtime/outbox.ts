import { and, eq, inArray, isNull, lt, lte, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { getConfig } from "../config";
import type { Db } from "../db/client";
import { chunkJsonRows } from "../db/limits";
import { idList } from "../db/sql";
import { alerts, realtimeEventAcks, realtimeEventTargets, realtimeEvents, wsTickets } from "../db/schema";
import { ErrorCode, notYetDelivered } from "../errors";
import { enqueueDeliveries, type QueueableDelivery } from "../delivery/enqueue";
import { enqueueWebhookDeliveries } from "../delivery/webhook-fanout";
import type { HubEvent } from "./hub-base";
import type { Scope } from "../protocol";

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
 *    stream thanks to the hubs' dedupe by id; the sweep gives an event up
 *    (`failed_at`, logged) after OUTBOX_MAX_ATTEMPTS tries.
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

/** One event's columns as the JSON rows below carry them (its data as JSON text, as the `data` column stores it). */
function eventRecord(ev: OutboundEvent, ttlSeconds: number) {
  return {
    id: ev.id,
    org: ev.orgId,
    type: ev.type,
    data: JSON.stringify(ev.data ?? null),
    source: ev.source ?? null,
    ts: ev.ts,
    exp: ev.ts + ttlSeconds * 1000,
  };
}

/** An event's targets as JSON rows, in delivery order: its user streams, then its channel. */
function targetRows(ev: OutboundEvent): string[] {
  const rows = [...new Set(ev.userIds)].map((user) => JSON.stringify({ id: ev.id, org: ev.orgId, user, channel: null, dept: null, queue: null }));
  if (ev.channel) {
    const { name, scope } = ev.channel;
    rows.push(JSON.stringify({ id: ev.id, org: ev.orgId, user: null, channel: name, dept: scope.dept ?? null, queue: scope.queue ?? null }));
  }
  return rows;
}

// Every column in table order (insert … select with raw SQL inserts into all of them).
const SELECT_EVENTS = sql.raw(
  `SELECT value ->> 'id', value ->> 'org', value ->> 'type', value ->> 'data', value ->> 'source', value ->> 'ts', value ->> 'exp', `,
);
const SELECT_TARGETS = sql.raw(
  `SELECT NULL, value ->> 'id', value ->> 'org', value ->> 'user', value ->> 'channel', value ->> 'dept', value ->> 'queue' FROM json_each(`,
);

/**
 * The D1 rows of events, for the caller's batch: whatever the number of
 * events and targets, the rows travel as JSON array parameters (one per
 * ~512 KB), so each statement binds at most 4 parameters (D1 allows 100) and
 * a thousand events take two statements, not two thousand. With a guard, the
 * rows are inserted only if the alert's last change is `changeId`, i.e. only
 * if the conditional update earlier in the same batch applied.
 */
export function eventsStatements(
  db: Db,
  events: readonly OutboundEvent[],
  ttlSeconds: number,
  options: { publishedAt?: Date | null; guard?: EventGuard } = {},
): BatchItem<"sqlite">[] {
  const { guard, publishedAt = null } = options;
  const applies = guard
    ? sql`EXISTS (SELECT 1 FROM ${alerts} WHERE ${alerts.id} = ${guard.alertId} AND ${alerts.lastChangeId} = ${guard.changeId})`
    : sql`1`;
  const statements: BatchItem<"sqlite">[] = [];
  for (const rows of chunkJsonRows(events.map((ev) => JSON.stringify(eventRecord(ev, ttlSeconds))))) {
    statements.push(
      db
        .insert(realtimeEvents)
        .select(sql`${SELECT_EVENTS}${publishedAt?.getTime() ?? null}, 0, NULL FROM json_each(${`[${rows.join(",")}]`}) WHERE ${applies} ORDER BY key`),
    );
  }
  // ORDER BY key: targets get their positions (the polling order) in event order.
  for (const rows of chunkJsonRows(events.flatMap(targetRows))) {
    statements.push(db.insert(realtimeEventTargets).select(sql`${SELECT_TARGETS}${`[${rows.join(",")}]`}) WHERE ${applies} ORDER BY key`));
  }
  return statements;
}

/** The D1 rows of one event, for the caller's batch (see eventsStatements). */
export function eventStatements(
  db: Db,
  ev: OutboundEvent,
  ttlSeconds: number,
  options: { publishedAt?: Date | null; guard?: EventGuard } = {},
): BatchItem<"sqlite">[] {
  return eventsStatements(db, [ev], ttlSeconds, options);
}

/**
 * Records events that were already published to an org channel (born in a
 * hub: presence, stats) for polling clients: two statements per ~512 KB of
 * events, the rows travelling as one JSON parameter (plain D1 statements: a
 * query builder would rebuild them per event).
 */
export async function recordPublished(d1: D1Database, events: OutboundEvent[], ttlSeconds: number, publishedAt = Date.now()): Promise<void> {
  const rows = events.map((ev) =>
    JSON.stringify({
      ...eventRecord(ev, ttlSeconds),
      channel: ev.channel?.name ?? null,
      dept: ev.channel?.scope.dept ?? null,
      queue: ev.channel?.scope.queue ?? null,
    }),
  );
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
  for (const part of chunkJsonRows(rows)) {
    const json = `[${part.join(",")}]`;
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
 * Runs tasks with at most `limit` in flight and returns their results in
 * order; rejects with the first failure (tasks not started yet are not started).
 */
async function runLimited<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < tasks.length) {
      const i = next++;
      try {
        results[i] = await tasks[i]!();
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
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
  const userCalls = [...perUser].map(([uid, mine]) => async () => {
    // A user who gets events has the badge refreshed in the same call.
    const results = await userHub(env, orgId, uid).publishMany(
      mine.map(({ id, type, ts, data }) => ({ id, type, ts, data })),
      { refreshUnread: refresh.has(uid) },
    );
    return { uid, mine, results };
  });
  // Badges of users who got no event in this delivery.
  const refreshCalls = [...refresh]
    .filter((uid) => !perUser.has(uid))
    .map((uid) => async () => {
      await userHub(env, orgId, uid).refreshUnread();
      return undefined;
    });
  const orgCall = events.length > 0 ? orgHub(env, orgId).publishMany(events.map((ev) => ({ event: hubEvent(ev), userIds: ev.userIds }))) : Promise.resolve([]);
  // One call per user hub, at most HUB_CALL_CONCURRENCY in flight (an unassigned
  // alert in an org of 1,000 admins is 1,000 calls: docs/NOTIFICATIONS.md).
  const limit = getConfig(env).hubCallConcurrency;
  const [calls, orgResults] = await Promise.all([runLimited([...userCalls, ...refreshCalls], limit), orgCall]);
  const reports = new Map<string, DeliveryReport>(events.map((ev) => [ev.id, { reached: 0, userSeqs: {} }]));
  for (const call of calls) {
    if (!call) continue;
    const { uid, mine, results } = call;
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
    .where(inArray(realtimeEvents.id, idList(events.map((e) => e.id))));
}

/** An event row as the outbox reads it back: `data` still JSON text, parsed per event (see toOutbound). */
type StoredEvent = Omit<typeof realtimeEvents.$inferSelect, "data"> & { data: string };

const storedEventColumns = {
  id: realtimeEvents.id,
  orgId: realtimeEvents.orgId,
  type: realtimeEvents.type,
  // Raw text: one row whose data cannot be parsed must not fail the whole read (see sweepUnpublished).
  data: sql<string>`${realtimeEvents.data}`,
  source: realtimeEvents.source,
  createdAt: realtimeEvents.createdAt,
  expiresAt: realtimeEvents.expiresAt,
  publishedAt: realtimeEvents.publishedAt,
  attempts: realtimeEvents.attempts,
  failedAt: realtimeEvents.failedAt,
};

/** The targets of stored events, by event id, in delivery order. */
async function loadTargets(db: Db, rows: StoredEvent[]): Promise<Map<string, (typeof realtimeEventTargets.$inferSelect)[]>> {
  const byEvent = new Map<string, (typeof realtimeEventTargets.$inferSelect)[]>(rows.map((r) => [r.id, []]));
  if (rows.length === 0) return byEvent;
  const targets = await db
    .select()
    .from(realtimeEventTargets)
    .where(inArray(realtimeEventTargets.eventId, idList(rows.map((r) => r.id))))
    .orderBy(realtimeEventTargets.pos);
  for (const t of targets) byEvent.get(t.eventId)?.push(t);
  return byEvent;
}

/** Rebuilds an outbound event from its D1 rows (throws if its data is not JSON). */
function toOutbound(r: StoredEvent, mine: (typeof realtimeEventTargets.$inferSelect)[]): OutboundEvent {
  const channelRow = mine.find((t) => t.channel !== null);
  return {
    id: r.id,
    orgId: r.orgId,
    type: r.type,
    data: JSON.parse(r.data),
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
}

/**
 * Finishes publishing the events of one source (an idempotent retry of the
 * request that caused them). Events the sweep gave up on stay given up.
 */
export async function publishPendingFor(env: Env, db: Db, orgId: string, source: string): Promise<void> {
  const rows = await db
    .select(storedEventColumns)
    .from(realtimeEvents)
    .where(and(eq(realtimeEvents.orgId, orgId), eq(realtimeEvents.source, source), isNull(realtimeEvents.publishedAt), isNull(realtimeEvents.failedAt)))
    .orderBy(realtimeEvents.createdAt, sql`rowid`);
  const targets = await loadTargets(db, rows);
  const events = rows.map((r) => toOutbound(r, targets.get(r.id)!));
  await deliverEvents(env, db, events, { refreshUnread: inboxUsers(events) });
}

/** Users whose inbox the events change (their badge is re-sent). */
function inboxUsers(events: OutboundEvent[]): DeliverOptions["refreshUnread"] {
  if (events.length === 0) return undefined;
  return { orgId: events[0]!.orgId, userIds: [...new Set(events.filter((e) => e.type.startsWith("notification:")).flatMap((e) => e.userIds))] };
}

/** What one sweep did. */
export interface SweepReport {
  delivered: number;
  /** Attempts that failed this time (the event is tried again next minute, unless given up). */
  failed: number;
  /** Events that reached `maxAttempts` now: marked failed, logged, never picked again. */
  gaveUp: number;
}

/**
 * Cron: re-delivers events left unpublished for longer than `olderThanMs`,
 * oldest first, each on its own (one that fails does not stop the others).
 * Every pick counts as an attempt, before the delivery starts (an attempt
 * that kills the invocation still counts); an event still undelivered after
 * `maxAttempts` sweeps is marked failed (`failed_at`), logged, and never
 * picked again, so events that can never be delivered cannot hold the
 * sweep's places for longer than `maxAttempts` minutes.
 */
export async function sweepUnpublished(
  env: Env,
  db: Db,
  olderThanMs = 10_000,
  limit = 100,
  maxAttempts = getConfig(env).outboxMaxAttempts,
): Promise<SweepReport> {
  const report: SweepReport = { delivered: 0, failed: 0, gaveUp: 0 };
  const rows = await db
    .select(storedEventColumns)
    .from(realtimeEvents)
    .where(and(isNull(realtimeEvents.publishedAt), isNull(realtimeEvents.failedAt), lt(realtimeEvents.createdAt, new Date(Date.now() - olderThanMs))))
    // rowid: insertion order, for the events of one batch (same created_at).
    .orderBy(realtimeEvents.createdAt, sql`rowid`)
    .limit(limit);
  if (rows.length === 0) return report;
  await db
    .update(realtimeEvents)
    .set({ attempts: sql`${realtimeEvents.attempts} + 1` })
    .where(inArray(realtimeEvents.id, idList(rows.map((r) => r.id))));
  const targets = await loadTargets(db, rows);
  for (const row of rows) {
    try {
      const ev = toOutbound(row, targets.get(row.id)!);
      await deliverEvents(env, db, [ev], { refreshUnread: inboxUsers([ev]) });
      report.delivered++;
    } catch (err) {
      report.failed++;
      const attempts = row.attempts + 1;
      if (attempts < maxAttempts) continue;
      report.gaveUp++;
      await db.update(realtimeEvents).set({ failedAt: new Date() }).where(eq(realtimeEvents.id, row.id));
      console.error(
        `herald: outbox gave up on event ${row.id} (type ${row.type}, org ${row.orgId}, source ${row.source ?? "-"}) after ${attempts} attempts; it stays readable by polling until it expires`,
        err,
      );
    }
  }
  return report;
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
