import type { Config } from "../config";
import { NOT_FENCED } from "../sharding/fence";

/**
 * Retention of what needs no archive: bounded batched deletes the per-minute
 * cron runs. Every statement removes at most `batchRows` rows chosen by a
 * `LIMIT`ed sub-select (never a table-wide DELETE) with a fixed handful of
 * bound parameters; a run stops after `maxBatches` statements per kind, and
 * the next run simply selects what is still due (no state between runs), so
 * a purge is resumable and running it again changes nothing more.
 */

/** Rows per statement and statements per kind in one run (config.retention). */
export interface RetentionBudget {
  batchRows: number;
  maxBatches: number;
}

const DAY_MS = 86_400_000;
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * The smallest id `newId(prefix, ms)` can produce (src/lib/ids.ts): ids sort by
 * creation time, so `id < idBefore(prefix, ms)` selects rows created before
 * `ms` as a range on the primary key instead of a scan of the whole table.
 */
export function idBefore(prefix: string, ms: number): string {
  let time = "";
  let t = Math.max(0, Math.floor(ms));
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return `${prefix}_${time}`;
}

/** The instant before which data kept `days` days is due, seen from `now`. */
export function cutoff(now: Date, days: number): number {
  return now.getTime() - days * DAY_MS;
}

/**
 * Runs one `DELETE … WHERE <key> IN (SELECT <key> … LIMIT ?)` up to
 * `maxBatches` times, stopping early when a batch deletes fewer rows than it
 * may (nothing more is due). Returns the rows deleted.
 */
export async function deleteInBatches(d1: D1Database, sql: string, binds: unknown[], budget: RetentionBudget): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < budget.maxBatches; i++) {
    const res = await d1.prepare(sql).bind(...binds, budget.batchRows).run();
    const changes = res.meta.changes ?? 0;
    deleted += changes;
    if (changes < budget.batchRows) break;
  }
  return deleted;
}

/**
 * Deletes deliveries in a final state (sent, failed, skipped: their attempts
 * live in the same row) whose last change is older than `days` days. Queued
 * and deferred deliveries are never touched, whatever their age.
 */
export async function purgeDeliveries(d1: D1Database, days: number, budget: RetentionBudget, now = new Date()): Promise<number> {
  const before = cutoff(now, days);
  return deleteInBatches(
    d1,
    `DELETE FROM deliveries WHERE id IN (
       SELECT id FROM deliveries
       WHERE id < ? AND status IN ('sent', 'failed', 'skipped') AND updated_at < ? AND ${NOT_FENCED}
       ORDER BY id LIMIT ?)`,
    [idBefore("dlv", before), before],
    budget,
  );
}

/**
 * Deletes idempotency keys past their expiry (IDEMPOTENCY_TTL_SECONDS after
 * the first request; an expired key is already ignored by lookups), through
 * the `expires_at` index.
 */
export async function purgeIdempotencyKeys(d1: D1Database, budget: RetentionBudget, now = new Date()): Promise<number> {
  return deleteInBatches(
    d1,
    `DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE expires_at <= ? AND ${NOT_FENCED} LIMIT ?)`,
    [now.getTime()],
    budget,
  );
}

/** What one retention run deleted, per kind. */
export interface PurgeReport {
  deliveries: number;
  idempotencyKeys: number;
}

/**
 * Cron: the retention of data that needs no archive. Realtime events, their
 * acknowledgements and WebSocket tickets expire through the outbox's own
 * purge (src/outbox/sweep.ts, `purgeExpiredRealtime`, after EVENT_TTL_SECONDS).
 */
export async function purgeUnarchived(d1: D1Database, config: Pick<Config, "retention">, now = new Date()): Promise<PurgeReport> {
  const { deliveryDays, batchRows, maxBatches } = config.retention;
  const budget = { batchRows, maxBatches };
  return {
    deliveries: await purgeDeliveries(d1, deliveryDays, budget, now),
    idempotencyKeys: await purgeIdempotencyKeys(d1, budget, now),
  };
}
