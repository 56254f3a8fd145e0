import type { Config } from "../config";
import { cutoff, idBefore, type RetentionBudget } from "./purge";
import { NOT_FENCED } from "../sharding/fence";

/**
 * Archive before delete: closed alerts (with their history, assignments and
 * recipients) and read or archived notifications past their retention are
 * written to R2 as gzip-compressed NDJSON, one object per org, kind and
 * creation day per batch, and deleted from D1 only once R2 has confirmed the
 * object (put resolved, then a head with the same size and etag).
 *
 * Keys: `archive/<org>/<kind>/<YYYY-MM-DD>/<first id>-<content hash>.ndjson.gz`.
 * The name is derived from the rows themselves, so a run interrupted between
 * the put and the delete writes the very same object again next time (no
 * duplicate), and an object is never overwritten with different rows. The
 * rows of one object are deleted in one D1 batch (a transaction): all or none.
 *
 * Each line is one row as stored in D1 (snake_case columns, times in ms since
 * the epoch); an alert's line also carries `history`, `assignments` and
 * `recipients`, the rows of those tables that belonged to it.
 */

/** What the archive holds. */
export const ARCHIVE_KINDS = ["alerts", "notifications"] as const;
export type ArchiveKind = (typeof ARCHIVE_KINDS)[number];

/** The statuses after which an alert may leave D1 (src/services/alerts/state.ts): never an open one. */
export const CLOSED_ALERT_STATUSES = ["RESOLVED", "DISMISSED", "CONVERTED"] as const;
const CLOSED_SQL = CLOSED_ALERT_STATUSES.map((s) => `'${s}'`).join(", ");

/** The prefix of every archive object of one org (a trailing slash: no org's prefix is another's). */
export function orgArchivePrefix(orgId: string): string {
  return `archive/${orgId}/`;
}

type Row = Record<string, unknown> & { id: string; org_id: string; created_at: number };

/** What archiving one kind did in one run. */
export interface ArchiveKindReport {
  /** Rows deleted from D1 after their object was confirmed (alerts or notifications; an alert's children not counted). */
  deleted: number;
  /** Objects written (and confirmed). */
  objects: number;
  /** Set when a put, a confirmation or a delete failed: the run stopped there, what was not deleted waits for the next run. */
  error?: string;
}

/** What one archive run did, per kind. */
export type ArchiveReport = Record<ArchiveKind, ArchiveKindReport>;

/** One object's worth of rows: the same org, kind and creation day. */
interface Group {
  orgId: string;
  day: string;
  rows: Row[];
}

function groupByOrgDay(rows: Row[]): Group[] {
  const groups = new Map<string, Group>();
  for (const row of rows) {
    const day = new Date(row.created_at).toISOString().slice(0, 10);
    const k = `${row.org_id}\n${day}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { orgId: row.org_id, day, rows: [] }));
    g.rows.push(row);
  }
  return [...groups.values()];
}

/** gzip of `text` with the platform's CompressionStream. */
export async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Writes one group's NDJSON to R2 and confirms it: resolves with the key once
 * a head of the object reports the size and etag the put returned; throws otherwise.
 */
async function writeConfirmed(bucket: R2Bucket, kind: ArchiveKind, group: Group, lines: string[]): Promise<string> {
  const text = `${lines.join("\n")}\n`;
  const key = `${orgArchivePrefix(group.orgId)}${kind}/${group.day}/${group.rows[0]!.id}-${(await sha256Hex(text)).slice(0, 16)}.ndjson.gz`;
  const body = await gzip(text);
  const put = await bucket.put(key, body, {
    httpMetadata: { contentType: "application/x-ndjson", contentEncoding: "gzip" },
    customMetadata: { rows: String(lines.length) },
  });
  if (!put) throw new Error(`archive put of ${key} returned nothing`);
  const head = await bucket.head(key);
  if (!head || head.size !== body.byteLength || head.etag !== put.etag) {
    throw new Error(`archive object ${key} not confirmed (size ${head?.size ?? "none"} of ${body.byteLength}, etag ${head?.etag ?? "none"} vs ${put.etag})`);
  }
  return key;
}

const jsonIds = (rows: Row[]) => JSON.stringify(rows.map((r) => r.id));

/** The rows of `table` whose `alert_id` is one of `ids`, by alert. */
async function childrenOf(d1: D1Database, table: string, ids: string): Promise<Map<string, Record<string, unknown>[]>> {
  const { results } = await d1
    .prepare(`SELECT * FROM ${table} WHERE alert_id IN (SELECT value FROM json_each(?)) ORDER BY alert_id, created_at, rowid`)
    .bind(ids)
    .all<Record<string, unknown> & { alert_id: string }>();
  const by = new Map<string, Record<string, unknown>[]>();
  for (const r of results) {
    const list = by.get(r.alert_id) ?? [];
    list.push(r);
    by.set(r.alert_id, list);
  }
  return by;
}

/** How to select, serialize and delete one kind. */
interface KindPlan {
  kind: ArchiveKind;
  /** Due rows, oldest id first, at most `limit` (bound last). */
  select: { sql: string; binds: unknown[] };
  /** NDJSON lines of the rows of one group (children loaded here). */
  lines(d1: D1Database, rows: Row[]): Promise<string[]>;
  /** The statements that delete one group, each binding the ids as one JSON parameter plus the same condition as the select. */
  deletes(d1: D1Database, ids: string): D1PreparedStatement[];
}

function alertPlan(days: number, now: Date): KindPlan {
  const before = cutoff(now, days);
  // Re-checked in every delete: an alert reopened since it was selected stays (its archived copy is then only a copy).
  const still = `SELECT id FROM alerts WHERE id IN (SELECT value FROM json_each(?1)) AND status IN (${CLOSED_SQL}) AND updated_at < ?2`;
  return {
    kind: "alerts",
    select: {
      sql: `SELECT * FROM alerts WHERE id < ? AND status IN (${CLOSED_SQL}) AND updated_at < ? AND ${NOT_FENCED} ORDER BY id LIMIT ?`,
      binds: [idBefore("alr", before), before],
    },
    async lines(d1, rows) {
      const ids = jsonIds(rows);
      const [history, assignments, recipients] = await Promise.all([
        childrenOf(d1, "alert_history", ids),
        childrenOf(d1, "alert_assignments", ids),
        childrenOf(d1, "alert_recipients", ids),
      ]);
      return rows.map((r) =>
        JSON.stringify({ ...r, history: history.get(r.id) ?? [], assignments: assignments.get(r.id) ?? [], recipients: recipients.get(r.id) ?? [] }),
      );
    },
    deletes: (d1, ids) => [
      ...["alert_history", "alert_assignments", "alert_recipients"].map((t) =>
        d1.prepare(`DELETE FROM ${t} WHERE alert_id IN (${still})`).bind(ids, before),
      ),
      d1.prepare(`DELETE FROM alerts WHERE id IN (${still})`).bind(ids, before),
    ],
  };
}

function notificationPlan(days: number, now: Date): KindPlan {
  const before = cutoff(now, days);
  // Done with: read, archived, or deleted by its user (a soft delete; the archive keeps the record).
  const done = "(read_at IS NOT NULL OR archived_at IS NOT NULL OR deleted_at IS NOT NULL)";
  return {
    kind: "notifications",
    select: { sql: `SELECT * FROM notifications WHERE id < ? AND ${done} AND ${NOT_FENCED} ORDER BY id LIMIT ?`, binds: [idBefore("ntf", before)] },
    lines: async (_d1, rows) => rows.map((r) => JSON.stringify(r)),
    deletes: (d1, ids) => [d1.prepare(`DELETE FROM notifications WHERE id IN (SELECT value FROM json_each(?1)) AND ${done}`).bind(ids)],
  };
}

/**
 * Archives then deletes the due rows of one kind: up to `maxBatches` selects
 * of `batchRows` rows, each cut into per-org-per-day objects. A failed put or
 * confirmation stops the run for this kind before that group's delete.
 */
async function archiveKind(d1: D1Database, bucket: R2Bucket, plan: KindPlan, budget: RetentionBudget): Promise<ArchiveKindReport> {
  const report: ArchiveKindReport = { deleted: 0, objects: 0 };
  try {
    for (let i = 0; i < budget.maxBatches; i++) {
      const { results } = await d1
        .prepare(plan.select.sql)
        .bind(...plan.select.binds, budget.batchRows)
        .all<Row>();
      for (const group of groupByOrgDay(results)) {
        await writeConfirmed(bucket, plan.kind, group, await plan.lines(d1, group.rows));
        report.objects++;
        const done = await d1.batch(plan.deletes(d1, jsonIds(group.rows)));
        report.deleted += done.at(-1)!.meta.changes ?? 0;
      }
      if (results.length < budget.batchRows) break;
    }
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err);
    console.error(`herald: archiving ${plan.kind} stopped; what is not deleted waits for the next run`, err);
  }
  return report;
}

/** Cron: archives to R2, then deletes, the closed alerts and done notifications past their retention. */
export async function archiveAndPurge(d1: D1Database, bucket: R2Bucket, config: Pick<Config, "retention">, now = new Date()): Promise<ArchiveReport> {
  const { alertDays, notificationDays, batchRows, maxBatches } = config.retention;
  const budget = { batchRows, maxBatches };
  return {
    alerts: await archiveKind(d1, bucket, alertPlan(alertDays, now), budget),
    notifications: await archiveKind(d1, bucket, notificationPlan(notificationDays, now), budget),
  };
}
