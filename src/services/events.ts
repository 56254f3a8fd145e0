import { and, eq, inArray, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { chunk, rowsPerInsert } from "../db/limits";
import { idList } from "../db/sql";
import { fromBase64Url, toBase64Url } from "../lib/base64url";
import { realtimeEventAcks, realtimeEvents } from "../db/schema";
import { badRequest, ErrorCode, forbidden } from "../errors";
import { maySubscribe, type Scope } from "../protocol";
import type { EventsInput, PolledEvent } from "../schemas/realtime";
import type { Claims } from "../types";

/**
 * The polling fallback: the events a caller would have received on its user
 * stream and on the channels it names, in the order they were committed,
 * without the ones it acknowledged. Same authorization as subscribing.
 */

/**
 * A polling cursor: the last position read on the org's shard, the org's
 * placement epoch then (moves so far) and the id of the last event read.
 * Positions are a shard's own order: after a move (a new epoch) the cursor is
 * translated through its event id to that event's position on the new shard
 * (src/sharding/move.ts copies targets in order); if that event has expired
 * too, polling starts over and returns what was not acknowledged
 * (at-least-once, never a gap). `p:<pos>` is the form from before sharding.
 */
interface Cursor {
  pos: number;
  epoch: number;
  eventId: string | null;
}

const encodeCursor = (c: Cursor) => toBase64Url(`p:${c.pos}:${c.epoch}:${c.eventId ?? ""}`);

function decodeCursor(raw: string): Cursor {
  try {
    const text = fromBase64Url(raw);
    const m = /^p:(0|[1-9][0-9]{0,15})(?::(0|[1-9][0-9]{0,8}):([A-Za-z0-9_-]{0,64}))?$/.exec(text);
    if (m) return { pos: Number(m[1]), epoch: Number(m[2] ?? 0), eventId: m[3] || null };
  } catch {
    // fall through
  }
  throw badRequest(ErrorCode.INVALID_CURSOR, "since is not a nextCursor this API returned");
}

/** The position on this shard after which a cursor's reader continues. */
async function positionOf(db: Db, actor: Claims, cursor: Cursor, epoch: number): Promise<number> {
  if (cursor.epoch === epoch) return cursor.pos;
  if (cursor.eventId === null || cursor.pos === 0) return 0;
  const row = await db.get<{ pos: number | null }>(
    sql`SELECT MAX(pos) AS pos FROM realtime_event_targets WHERE event_id = ${cursor.eventId} AND org_id = ${actor.org}`,
  );
  return row?.pos ?? 0;
}

interface Row {
  pos: number;
  id: string;
  type: string;
  data: string;
  created_at: number;
  user_id: string | null;
  channel: string | null;
  dept: string | null;
  queue: string | null;
}

/** SQL for "an event scope that overlaps the subscription scope" (org ⊇ dept ⊇ queue), on target alias `a`. */
function scopeMatch(a: SQL, scope: Scope): SQL {
  if (scope.dept === undefined) return sql`1`;
  if (scope.queue === undefined) return sql`(${a}.dept IS NULL OR ${a}.dept = ${scope.dept})`;
  return sql`(${a}.dept IS NULL OR (${a}.dept = ${scope.dept} AND (${a}.queue IS NULL OR ${a}.queue = ${scope.queue})))`;
}

/** SQL for "this target row is one the caller reads": its user stream, or a requested channel in scope. */
function readsTarget(a: SQL, actor: Claims, channels: string[], scope: Scope): SQL {
  // The channels as one JSON parameter: this runs twice per query, and D1 binds at most 100.
  const channel =
    channels.length === 0 ? sql`0` : sql`(${a}.channel IN (SELECT value FROM json_each(${JSON.stringify(channels)})) AND ${scopeMatch(a, scope)})`;
  return sql`(${a}.org_id = ${actor.org} AND (${a}.user_id = ${actor.sub} OR ${channel}))`;
}

export async function listEvents(
  db: Db,
  actor: Claims,
  query: EventsInput,
  /** The org's placement epoch (ShardMap.placement): cursors from an earlier one are translated. */
  epoch = 0,
  now = new Date(),
): Promise<{ items: PolledEvent[]; nextCursor: string; hasMore: boolean }> {
  const channels = [...new Set(query.channels ?? [])];
  const refused = channels.filter((c) => !maySubscribe(actor.role, c));
  if (refused.length > 0) throw forbidden(`Role ${actor.role} may not read: ${refused.join(", ")}`);
  const cursor: Cursor = query.since === undefined ? { pos: 0, epoch, eventId: null } : decodeCursor(query.since);
  const after = await positionOf(db, actor, cursor, epoch);
  const scope: Scope = { ...(query.dept && { dept: query.dept }), ...(query.queue && { queue: query.queue }) };
  // An event can have several target rows the caller reads (its user stream and a
  // channel): only the first one counts, so pages never return an event twice.
  const rows = await db.all<Row>(sql`
    SELECT t.pos, e.id, e.type, e.data, e.created_at, t.user_id, t.channel, t.dept, t.queue
    FROM realtime_event_targets t JOIN realtime_events e ON e.id = t.event_id
    WHERE t.pos > ${after} AND e.expires_at > ${now.getTime()}
      AND ${readsTarget(sql.raw("t"), actor, channels, scope)}
      AND NOT EXISTS (
        SELECT 1 FROM realtime_event_targets f
        WHERE f.event_id = t.event_id AND f.pos < t.pos AND ${readsTarget(sql.raw("f"), actor, channels, scope)}
      )
      AND NOT EXISTS (
        SELECT 1 FROM realtime_event_acks a WHERE a.org_id = t.org_id AND a.user_id = ${actor.sub} AND a.event_id = t.event_id
      )
    ORDER BY t.pos
    LIMIT ${query.limit + 1}`);
  const hasMore = rows.length > query.limit;
  const page = rows.slice(0, query.limit);
  const seen = new Set<string>();
  const items: PolledEvent[] = [];
  for (const r of page) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    items.push({
      id: r.id,
      type: r.type,
      stream: r.user_id !== null ? "user" : "org",
      ...(r.channel !== null && {
        channel: r.channel,
        scope: { ...(r.dept !== null && { dept: r.dept }), ...(r.queue !== null && { queue: r.queue }) },
      }),
      ts: new Date(r.created_at).toISOString(),
      data: JSON.parse(r.data),
    });
  }
  const last = page.at(-1);
  const next: Cursor = last ? { pos: last.pos, epoch, eventId: last.id } : { pos: after, epoch, eventId: after === 0 ? null : cursor.eventId };
  return { items, nextCursor: encodeCursor(next), hasMore };
}

/** Acknowledges events for the caller so polling no longer returns them. Unknown ids are ignored. */
export async function ackEvents(db: Db, actor: Claims, ids: string[], now = new Date()): Promise<{ acknowledged: number }> {
  const unique = [...new Set(ids)];
  const known = await db
    .select({ id: realtimeEvents.id })
    .from(realtimeEvents)
    .where(and(eq(realtimeEvents.orgId, actor.org), inArray(realtimeEvents.id, idList(unique))));
  if (known.length === 0) return { acknowledged: 0 };
  const rows = known.map((k) => ({ orgId: actor.org, userId: actor.sub, eventId: k.id, ackedAt: now }));
  // D1 binds at most 100 parameters per statement: floor(100 / 4 columns) rows per insert.
  const statements = chunk(rows, rowsPerInsert(realtimeEventAcks)).map((part) => db.insert(realtimeEventAcks).values(part).onConflictDoNothing());
  await db.batch(statements as [(typeof statements)[number], ...typeof statements]);
  return { acknowledged: known.length };
}
