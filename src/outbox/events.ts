import { sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { chunkJsonRows } from "../db/limits";
import { alerts, realtimeEventTargets, realtimeEvents } from "../db/schema";
import type { Scope } from "../protocol";

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
