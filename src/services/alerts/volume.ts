import { and, count, gte, lt, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { alerts } from "../../db/schema";
import { badRequest, ErrorCode } from "../../errors";
import type { AlertVolume, VolumeInput } from "../../schemas/alerts";
import type { Claims } from "../../types";
import { visibleTo } from "./access";

/** Most buckets one `GET /alerts/volume` answers (about 41 days by hour, 2.7 years by day). */
export const MAX_VOLUME_BUCKETS = 1_000;

const BUCKET_MS = { hour: 3_600_000, day: 86_400_000 } as const;
/** The default window ends now and spans this many buckets. */
const DEFAULT_BUCKETS = { hour: 24, day: 30 } as const;

/**
 * Alerts created per UTC hour or day over the alerts the actor can see
 * (visibility as `alertStats`), oldest first, empty buckets included. `since`
 * is rounded down to its bucket's start and `until` (exclusive) up to a
 * bucket boundary; both are echoed rounded. Without `since` the window is
 * the 24 hours (30 days) ending with the bucket of `until` (default now),
 * the current one included. More than {@link MAX_VOLUME_BUCKETS} buckets is
 * 400 `VALIDATION_FAILED`.
 */
export async function alertVolume(db: Db, actor: Claims, query: VolumeInput, now = Date.now()): Promise<AlertVolume> {
  const size = BUCKET_MS[query.bucket];
  const untilMs = query.until ? Date.parse(query.until) : now;
  // Epoch milliseconds are UTC, so whole multiples of an hour or a day are UTC hour and day starts.
  const end = Math.ceil(untilMs / size) * size;
  const sinceMs = query.since ? Date.parse(query.since) : end - DEFAULT_BUCKETS[query.bucket] * size;
  const start = Math.floor(sinceMs / size) * size;
  const buckets = (end - start) / size;
  if (sinceMs >= untilMs) {
    throw badRequest(ErrorCode.VALIDATION_FAILED, "since must be before until", {
      target: "query",
      issues: [{ path: "since", code: "custom", message: "since must be before until" }],
    });
  }
  if (buckets > MAX_VOLUME_BUCKETS) {
    const message = `The window spans ${buckets} ${query.bucket} buckets; at most ${MAX_VOLUME_BUCKETS} (narrow since/until or use a larger bucket)`;
    throw badRequest(ErrorCode.VALIDATION_FAILED, message, { target: "query", issues: [{ path: "since", code: "too_big", message }] });
  }
  // `size` is one of two constants, inlined so SELECT and GROUP BY are the same expression.
  const slot = sql<number>`${alerts.createdAt} / ${sql.raw(String(size))}`;
  const rows = await db
    .select({ slot, n: count() })
    .from(alerts)
    .where(and(visibleTo(db, actor), gte(alerts.createdAt, new Date(start)), lt(alerts.createdAt, new Date(end))))
    .groupBy(slot);
  const counts = new Map(rows.map((r) => [Number(r.slot) * size, r.n]));
  const items = Array.from({ length: buckets }, (_, i) => {
    const at = start + i * size;
    return { start: new Date(at).toISOString(), count: counts.get(at) ?? 0 };
  });
  return { bucket: query.bucket, since: new Date(start).toISOString(), until: new Date(end).toISOString(), items };
}
