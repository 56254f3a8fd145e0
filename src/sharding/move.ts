import type { AppDeps } from "../deps";
import type { Shard } from "../db/shards";
import { AppError, ErrorCode } from "../errors";
import { ORG_TABLES, type OrgTable } from "./tables";

/**
 * Moving an organization between shards (README "Shards", docs/SHARDING.md)
 * without losing a write. A move is a resumable state machine kept in the
 * control row (org_shards.move_*); each call of `moveStep` (the operator
 * route, `npm run shard:move`) runs a bounded number of batches and saves
 * where it got to, so an interrupted move continues where it stopped and
 * running a step twice changes nothing twice.
 *
 * 1. copying: every table's rows of the org are copied to the target while
 *    the org keeps working on the source (the target is fenced 'incoming',
 *    which only keeps the target's cron off the rows).
 * 2. syncing: the source is fenced (its triggers refuse the org's writes:
 *    503 ORG_MOVING, retryable) and a second pass copies what changed and
 *    deletes on the target what was deleted meanwhile. Only this pass and the
 *    next refuse writes.
 * 3. verifying: a third pass only compares; any difference sends the move
 *    back to syncing.
 * 4. switch: the control row names the target (epoch + 1), the source fence
 *    becomes 'retired' (no more inserts or updates there, ever), the target's
 *    'incoming' fence goes.
 * 5. switched → deleting: after SHARD_CACHE_SECONDS (no isolate can still
 *    read the source from a cached map), the source's rows are deleted in
 *    batches; then the move is done.
 */
export type MoveState = "copying" | "syncing" | "verifying" | "switched" | "deleting";

/** An org's placement and the move in progress, as the operator routes show it. */
export interface OrgShardStatus {
  org: string;
  shard: number;
  epoch: number;
  move: null | {
    from: number;
    to: number;
    state: MoveState;
    table: string | null;
    startedAt: string;
    switchedAt: string | null;
    /** When `switched` may turn into `deleting`. */
    deleteAfter: string | null;
  };
}

/** What one step did. */
export interface MoveStepResult extends OrgShardStatus {
  /** No move in progress any more: the org lives on the target and the source holds none of its rows. */
  done: boolean;
  /** Rows written or deleted by this step (or, while verifying, differences found). */
  changed: number;
}

interface ControlRow {
  org_id: string;
  shard: number;
  epoch: number;
  move_to: number | null;
  move_state: MoveState | null;
  move_table: string | null;
  move_cursor: string | null;
  move_started_at: number | null;
  move_switched_at: number | null;
}

type Row = Record<string, unknown>;

/** Bytes of row JSON per write statement: well under D1's 2 MB per value and 100 KB statement text. */
const MAX_JSON_BYTES = 512 * 1024;

async function readControl(app: AppDeps, orgId: string): Promise<ControlRow | null> {
  return app.shards.control.d1.prepare("SELECT * FROM org_shards WHERE org_id = ?").bind(orgId).first<ControlRow>();
}

function statusOf(row: ControlRow, cacheMs: number): OrgShardStatus {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    org: row.org_id,
    shard: row.shard,
    epoch: row.epoch,
    move:
      row.move_state === null || row.move_to === null
        ? null
        : {
            from: row.move_state === "switched" || row.move_state === "deleting" ? previousShard(row) : row.shard,
            to: row.move_to,
            state: row.move_state,
            table: row.move_table,
            startedAt: iso(row.move_started_at)!,
            switchedAt: iso(row.move_switched_at),
            deleteAfter: row.move_switched_at === null ? null : iso(row.move_switched_at + cacheMs),
          },
  };
}

/** After the switch, `shard` is the target and the source is kept in move_cursor's `from`. */
function previousShard(row: ControlRow): number {
  return (JSON.parse(row.move_cursor ?? "{}") as { from?: number }).from ?? row.shard;
}

/** An org's placement and move, or 404 NOT_FOUND for an org no request ever placed. */
export async function orgShardStatus(app: AppDeps, orgId: string): Promise<OrgShardStatus> {
  const row = await readControl(app, orgId);
  if (!row) throw new AppError(404, ErrorCode.NOT_FOUND, `No organization ${orgId} on any shard`);
  return statusOf(row, app.config.shards.cacheSeconds * 1000);
}

/**
 * Runs one bounded step of moving `orgId` to shard `to` (starting the move
 * if none is in progress). 404 NOT_FOUND for an unknown org, 404
 * SHARD_NOT_FOUND for a shard D1_SHARDS does not list, 409 CONFLICT while a
 * move of the org to another shard is in progress.
 */
export async function moveStep(app: AppDeps, orgId: string, to: number, now = Date.now()): Promise<MoveStepResult> {
  const { shards, config } = app;
  const cacheMs = config.shards.cacheSeconds * 1000;
  const target = shards.shard(to);
  let row = await readControl(app, orgId);
  if (!row) throw new AppError(404, ErrorCode.NOT_FOUND, `No organization ${orgId} on any shard`);
  if (row.move_state === null) {
    if (row.shard === to) return { ...statusOf(row, cacheMs), done: true, changed: 0 };
    await target.d1
      .prepare("INSERT INTO org_fence (org_id, mode, created_at) VALUES (?, 'incoming', ?) ON CONFLICT (org_id) DO UPDATE SET mode = 'incoming', created_at = excluded.created_at")
      .bind(orgId, now)
      .run();
    await shards.control.d1
      .prepare(
        `UPDATE org_shards SET move_to = ?, move_state = 'copying', move_table = ?, move_cursor = NULL, move_started_at = ?, move_switched_at = NULL, updated_at = ?
         WHERE org_id = ? AND move_state IS NULL`,
      )
      .bind(to, ORG_TABLES[0]!.name, now, now, orgId)
      .run();
    row = (await readControl(app, orgId))!;
  }
  if (row.move_to !== to) {
    throw new AppError(409, ErrorCode.CONFLICT, `A move of ${orgId} to shard ${row.move_to} is in progress; finish it first`);
  }

  let changed = 0;
  for (let budget = config.shards.moveStepBatches; budget > 0 && row.move_state !== null; budget--) {
    const state: MoveState = row.move_state;
    let next: Partial<ControlRow>;
    if (state === "copying" || state === "syncing" || state === "verifying") {
      const source = shards.shard(row.shard);
      const tableIndex = ORG_TABLES.findIndex((t) => t.name === row!.move_table);
      const table = ORG_TABLES[tableIndex]!;
      const batch = await syncBatch(source, target, orgId, table, row.move_cursor, config.shards.moveBatchRows, {
        compareOnly: state === "verifying",
        dropOrphans: state === "syncing",
        now: Date.now(),
      });
      changed += batch.changed;
      if (state === "verifying" && batch.changed > 0) {
        console.error(`herald: move of ${orgId}: ${batch.changed} difference(s) in ${table.name} while verifying; syncing again`);
        next = { move_state: "syncing", move_table: ORG_TABLES[0]!.name, move_cursor: null };
      } else if (!batch.done) {
        next = { move_cursor: batch.cursor };
      } else if (tableIndex + 1 < ORG_TABLES.length) {
        next = { move_table: ORG_TABLES[tableIndex + 1]!.name, move_cursor: null };
      } else if (state === "copying") {
        await fence(source, orgId, "fenced");
        next = { move_state: "syncing", move_table: ORG_TABLES[0]!.name, move_cursor: null };
      } else if (state === "syncing") {
        next = { move_state: "verifying", move_table: ORG_TABLES[0]!.name, move_cursor: null };
      } else {
        row = await switchOver(app, row, source, target);
        continue;
      }
    } else if (state === "switched") {
      if (Date.now() < row.move_switched_at! + cacheMs) break;
      next = { move_state: "deleting", move_table: ORG_TABLES[0]!.name };
    } else {
      const source = shards.shard(previousShard(row));
      const table = ORG_TABLES.findIndex((t) => t.name === row!.move_table);
      const res = await source.d1
        .prepare(`DELETE FROM ${ORG_TABLES[table]!.name} WHERE (${ORG_TABLES[table]!.key.join(", ")}) IN (SELECT ${ORG_TABLES[table]!.key.join(", ")} FROM ${ORG_TABLES[table]!.name} WHERE org_id = ? LIMIT ?)`)
        .bind(orgId, config.shards.moveBatchRows)
        .run();
      const deleted = res.meta.changes ?? 0;
      changed += deleted;
      if (deleted >= config.shards.moveBatchRows) continue;
      if (table + 1 < ORG_TABLES.length) {
        next = { move_table: ORG_TABLES[table + 1]!.name };
      } else {
        next = { move_to: null, move_state: null, move_table: null, move_cursor: null, move_started_at: null, move_switched_at: null };
      }
    }
    row = await saveControl(app, row, next);
  }
  return { ...statusOf(row, cacheMs), done: row.move_state === null && row.shard === to, changed };
}

/** Applies `next` to the control row if no other step changed it meanwhile; returns the row as it is now. */
async function saveControl(app: AppDeps, row: ControlRow, next: Partial<ControlRow>): Promise<ControlRow> {
  const entries = Object.entries(next);
  await app.shards.control.d1
    .prepare(
      `UPDATE org_shards SET ${entries.map(([k]) => `${k} = ?`).join(", ")}, updated_at = ?
       WHERE org_id = ? AND move_state IS ? AND move_table IS ? AND move_cursor IS ?`,
    )
    .bind(...entries.map(([, v]) => v ?? null), Date.now(), row.org_id, row.move_state, row.move_table, row.move_cursor)
    .run();
  return (await readControl(app, row.org_id))!;
}

async function fence(shard: Shard, orgId: string, mode: "fenced" | "retired"): Promise<void> {
  await shard.d1
    .prepare("INSERT INTO org_fence (org_id, mode, created_at) VALUES (?, ?, ?) ON CONFLICT (org_id) DO UPDATE SET mode = excluded.mode")
    .bind(orgId, mode, Date.now())
    .run();
}

/** The control row names the target (new epoch); the source retires the org; the target takes writes and cron work. */
async function switchOver(app: AppDeps, row: ControlRow, source: Shard, target: Shard): Promise<ControlRow> {
  const now = Date.now();
  await app.shards.control.d1
    .prepare(
      `UPDATE org_shards SET shard = ?, epoch = epoch + 1, move_state = 'switched', move_table = NULL, move_cursor = ?, move_switched_at = ?, updated_at = ?
       WHERE org_id = ? AND move_state = 'verifying'`,
    )
    .bind(target.index, JSON.stringify({ from: source.index }), now, now, row.org_id)
    .run();
  await fence(source, row.org_id, "retired");
  await target.d1.prepare("DELETE FROM org_fence WHERE org_id = ? AND mode = 'incoming'").bind(row.org_id).run();
  app.shards.forget(row.org_id);
  return (await readControl(app, row.org_id))!;
}

interface SyncOptions {
  /** Verifying: count differences, write nothing. */
  compareOnly: boolean;
  /** Syncing (the source is fenced): also drop the target's event targets whose event is gone. */
  dropOrphans: boolean;
  now: number;
}

interface SyncResult {
  changed: number;
  cursor: string | null;
  done: boolean;
}

/** One batch of one table: `batchRows` source rows after `cursor`, made identical on the target. */
async function syncBatch(source: Shard, target: Shard, orgId: string, table: OrgTable, cursor: string | null, batchRows: number, o: SyncOptions): Promise<SyncResult> {
  if (table.appendOnly) return syncAppendOnly(source, target, orgId, table, cursor, batchRows, o);
  const key = table.key.join(", ");
  const marks = table.key.map(() => "?").join(", ");
  const after: unknown[] | null = cursor === null ? null : JSON.parse(cursor);
  const afterSql = after ? `AND (${key}) > (${marks})` : "";
  const src = (
    await source.d1
      .prepare(`SELECT * FROM ${table.name} WHERE org_id = ? ${afterSql} ORDER BY ${key} LIMIT ?`)
      .bind(orgId, ...(after ?? []), batchRows)
      .all<Row>()
  ).results;
  const done = src.length < batchRows;
  const upper = done ? null : keyOf(table, src.at(-1)!);
  const dst = (
    await target.d1
      .prepare(`SELECT * FROM ${table.name} WHERE org_id = ? ${afterSql} ${upper ? `AND (${key}) <= (${marks})` : ""} ORDER BY ${key}`)
      .bind(orgId, ...(after ?? []), ...(upper ?? []))
      .all<Row>()
  ).results;
  const theirs = new Map(dst.map((r) => [JSON.stringify(keyOf(table, r)), JSON.stringify(r)]));
  const upserts = src.filter((r) => theirs.get(JSON.stringify(keyOf(table, r))) !== JSON.stringify(r));
  const ours = new Set(src.map((r) => JSON.stringify(keyOf(table, r))));
  const deletes = dst.filter((r) => !ours.has(JSON.stringify(keyOf(table, r)))).map((r) => keyOf(table, r));
  const changed = upserts.length + deletes.length;
  if (!o.compareOnly && changed > 0) {
    const statements: D1PreparedStatement[] = [];
    for (const part of byJsonSize(upserts)) {
      const cols = Object.keys(part[0]!);
      statements.push(
        target.d1
          .prepare(`INSERT OR REPLACE INTO ${table.name} (${cols.map(ident).join(", ")}) SELECT ${cols.map((c) => field("value", c)).join(", ")} FROM json_each(?)`)
          .bind(JSON.stringify(part)),
      );
    }
    if (deletes.length > 0) {
      const picks = table.key.map((_, i) => `json_extract(value, '$[${i}]')`).join(", ");
      statements.push(
        target.d1
          .prepare(`DELETE FROM ${table.name} WHERE org_id = ? AND (${key}) IN (SELECT ${picks} FROM json_each(?))`)
          .bind(orgId, JSON.stringify(deletes)),
      );
    }
    await target.d1.batch(statements);
  }
  return { changed, cursor: upper ? JSON.stringify(upper) : null, done };
}

/** A column name as an SQL identifier (some are keywords: dev_outbox.to). */
const ident = (column: string) => `"${column}"`;

/** SQL reading `column` from a JSON object of a row (json_each's value). */
const field = (json: string, column: string) => `json_extract(${json}, '$."${column}"')`;

function keyOf(table: OrgTable, row: Row): unknown[] {
  return table.key.map((k) => row[k]);
}

/** Splits rows into runs whose JSON stays under MAX_JSON_BYTES (one write statement each). */
function byJsonSize(rows: Row[]): Row[][] {
  const parts: Row[][] = [];
  let part: Row[] = [];
  let size = 0;
  for (const r of rows) {
    const n = JSON.stringify(r).length;
    if (part.length > 0 && size + n > MAX_JSON_BYTES) {
      parts.push(part);
      part = [];
      size = 0;
    }
    part.push(r);
    size += n;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

interface AppendCursor {
  /** Last source position copied (copying, syncing) or compared (verifying). */
  s: number;
  /** Last target position compared (verifying). */
  t: number;
}

/**
 * Event targets: copied in the source's order, each getting the target's next
 * position (the polling order there; cursors from before the move are
 * translated by event id, src/services/events.ts), matched by their natural
 * key so a repeated batch inserts nothing twice. Verifying compares the two
 * sequences of the targets of events that have not expired (expired ones are
 * never read and each shard's cron removes them).
 */
async function syncAppendOnly(source: Shard, target: Shard, orgId: string, table: OrgTable, cursor: string | null, batchRows: number, o: SyncOptions): Promise<SyncResult> {
  const at: AppendCursor = cursor === null ? { s: 0, t: 0 } : JSON.parse(cursor);
  const natural = table.appendOnly!.natural;
  let changed = 0;
  if (o.compareOnly) {
    const live = (d1: D1Database, after: number) =>
      d1
        .prepare(
          `SELECT t.pos, ${natural.map((c) => `t.${c}`).join(", ")}, t.dept, t.queue FROM ${table.name} t JOIN realtime_events e ON e.id = t.event_id
           WHERE t.org_id = ? AND t.pos > ? AND e.expires_at > ? ORDER BY t.pos LIMIT ?`,
        )
        .bind(orgId, after, o.now, batchRows)
        .all<Row>();
    const [src, dst] = [(await live(source.d1, at.s)).results, (await live(target.d1, at.t)).results];
    const strip = ({ pos: _pos, ...rest }: Row) => JSON.stringify(rest);
    const n = Math.max(src.length, dst.length);
    for (let i = 0; i < n; i++) if (!src[i] || !dst[i] || strip(src[i]!) !== strip(dst[i]!)) changed++;
    const done = src.length < batchRows && dst.length < batchRows;
    return { changed, done, cursor: JSON.stringify({ s: Number(src.at(-1)?.pos ?? at.s), t: Number(dst.at(-1)?.pos ?? at.t) }) };
  }
  if (o.dropOrphans && cursor === null) {
    const res = await target.d1
      .prepare(`DELETE FROM ${table.name} WHERE org_id = ? AND NOT EXISTS (SELECT 1 FROM realtime_events e WHERE e.id = ${table.name}.event_id)`)
      .bind(orgId)
      .run();
    changed += res.meta.changes ?? 0;
  }
  const src = (
    await source.d1.prepare(`SELECT * FROM ${table.name} WHERE org_id = ? AND pos > ? ORDER BY pos LIMIT ?`).bind(orgId, at.s, batchRows).all<Row>()
  ).results;
  if (src.length > 0) {
    const cols = Object.keys(src[0]!).filter((c) => c !== "pos");
    const same = natural.map((c) => `x.${ident(c)} IS ${field("j.value", c)}`).join(" AND ");
    const statements = byJsonSize(src.map(({ pos: _pos, ...rest }) => rest)).map((part) =>
      target.d1
        .prepare(
          `INSERT INTO ${table.name} (${cols.map(ident).join(", ")})
           SELECT ${cols.map((c) => field("j.value", c)).join(", ")} FROM json_each(?) j
           WHERE NOT EXISTS (SELECT 1 FROM ${table.name} x WHERE ${same})
           ORDER BY j.key`,
        )
        .bind(JSON.stringify(part)),
    );
    const results = await target.d1.batch(statements);
    changed += results.reduce((n, r) => n + (r.meta.changes ?? 0), 0);
  }
  return { changed, done: src.length < batchRows, cursor: JSON.stringify({ s: Number(src.at(-1)?.pos ?? at.s), t: 0 }) };
}
