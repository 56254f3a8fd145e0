import { and, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import { getConfig } from "../config";
import type { Db } from "../db/client";
import { idList } from "../db/sql";
import { realtimeEventTargets, realtimeEvents } from "../db/schema";
import type { OutboundEvent } from "./events";
import type { RefreshUnread } from "./hubs";
import { deliverEvents } from "./publish";
import { deleteInBatches, idBefore, type RetentionBudget } from "../retention/purge";
import { NOT_FENCED, notFenced } from "../sharding/fence";

/**
 * The outbox's second chances: an idempotent retry finishes the events of its
 * first attempt (`publishPendingFor`), the per-minute cron re-delivers what is
 * still unpublished (`sweepUnpublished`) and purges what has expired.
 */

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
function inboxUsers(events: OutboundEvent[]): RefreshUnread | undefined {
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
    .where(
      and(isNull(realtimeEvents.publishedAt), isNull(realtimeEvents.failedAt), lt(realtimeEvents.createdAt, new Date(Date.now() - olderThanMs)), sql.raw(NOT_FENCED)),
    )
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

/**
 * Cron: deletes expired events with their targets and acknowledgements,
 * acknowledgements older than the event TTL (of ids that never existed in
 * the org: an ack ignores unknown ids) and spent tickets, in bounded
 * batches (RETENTION_BATCH_ROWS rows per statement, RETENTION_MAX_BATCHES
 * statements per kind per run); what is left waits for the next run. An
 * event row goes only once its targets are gone, so an interrupted run never
 * leaves targets without their event. Fenced orgs are left to their move.
 *
 * Event ids sort by creation time (newId) and every event expires
 * EVENT_TTL_SECONDS after it was created, so the expired ones are a range of
 * the primary key, `id < idBefore("evt", now − TTL)` (still checked against
 * `expires_at`): no index on `expires_at` is written for every event.
 */
export async function purgeExpiredRealtime(d1: D1Database, eventTtlSeconds: number, budget: RetentionBudget, now = new Date()): Promise<number> {
  const t = now.getTime();
  const before = idBefore("evt", t - eventTtlSeconds * 1000);
  const expired = `e.id < ? AND e.expires_at <= ? AND ${notFenced("e")}`;
  await deleteInBatches(
    d1,
    `DELETE FROM realtime_event_targets WHERE pos IN (
       SELECT t.pos FROM realtime_events e JOIN realtime_event_targets t ON t.event_id = e.id WHERE ${expired} LIMIT ?)`,
    [before, t],
    budget,
  );
  // The acknowledgements of an expired event go with it: an ack names the event's time-ordered id, so no join is needed.
  await deleteInBatches(
    d1,
    `DELETE FROM realtime_event_acks WHERE rowid IN (SELECT rowid FROM realtime_event_acks WHERE event_id < ? AND ${NOT_FENCED} LIMIT ?)`,
    [before],
    budget,
  );
  await deleteInBatches(
    d1,
    `DELETE FROM realtime_event_acks WHERE rowid IN (SELECT rowid FROM realtime_event_acks WHERE acked_at <= ? AND ${NOT_FENCED} LIMIT ?)`,
    [t - eventTtlSeconds * 1000],
    budget,
  );
  await deleteInBatches(d1, `DELETE FROM ws_tickets WHERE hash IN (SELECT hash FROM ws_tickets WHERE expires_at <= ? AND ${NOT_FENCED} LIMIT ?)`, [t], budget);
  return deleteInBatches(
    d1,
    `DELETE FROM realtime_events WHERE id IN (
       SELECT e.id FROM realtime_events e
       WHERE ${expired} AND NOT EXISTS (SELECT 1 FROM realtime_event_targets t WHERE t.event_id = e.id)
       LIMIT ?)`,
    [before, t],
    budget,
  );
}
