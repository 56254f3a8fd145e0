// What the local D1 databases hold, read from the SQLite files Miniflare
// persists (one file per D1 database), with node:sqlite while the Worker is
// stopped: bytes per table and index from SQLite's `dbstat` virtual table
// (pages × page size, i.e. what the file spends, free space inside pages
// included), entries per b-tree (cells on leaf pages: rows of a table, entries
// of an index, partial indexes counted as they are), and a few semantic counts
// (alerts by status, read notifications, deliveries by status, orgs).
import fs from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { DatabaseSync } from "node:sqlite";

/**
 * How each table's growth is projected. Matched on the table name, first
 * match wins; a table no rule names is "other" and is projected as growing
 * with every alert and never deleted (the conservative reading).
 */
export const KIND_RULES = [
  [/^alert/, "alerts"],
  [/^notification/, "notifications"],
  [/^deliver/, "deliveries"],
  [/^(realtime_|ws_tickets$)/, "events"],
  [/^idempotency/, "idempotency"],
  [/^(users|preferences|webhooks|routing_)/, "directory"],
  // Which org lives on which shard, shard sizes, write fences: a few rows per org.
  [/^(org_|shard)/, "control"],
  // Written by the `log` email provider only: no production deployment has rows there.
  [/^dev_outbox$/, "excluded"],
  [/^(sqlite_|_cf_|d1_migrations$)/, "system"],
];

/** The kind of a table (KIND_RULES). */
export function kindOf(table) {
  for (const [re, kind] of KIND_RULES) if (re.test(table)) return kind;
  return "other";
}

/** Every D1 database file Miniflare persisted under `persistDir` (sorted paths). */
export function findD1Files(persistDir) {
  const out = [];
  const walk = (dir, inD1) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p, inD1 || /D1DatabaseObject/.test(e.name));
      // metadata.sqlite is Miniflare's own bookkeeping next to the databases, not a database.
      else if (inD1 && e.name.endsWith(".sqlite") && e.name !== "metadata.sqlite") out.push(p);
    }
  };
  if (fs.existsSync(persistDir)) walk(persistDir, false);
  return out.sort();
}

const sizeOf = (p) => (fs.existsSync(p) ? fs.statSync(p).size : 0);

function tryAll(db, sql) {
  try {
    return db.prepare(sql).all();
  } catch {
    return null;
  }
}

/**
 * One D1 database file as it stands: per table {kind, rows, indexes,
 * indexEntries, bytes (table + its indexes), tableBytes, indexBytes}, file
 * size (and WAL), page size, free pages, and the semantic counts.
 */
export function snapshotDb(file) {
  const db = new DatabaseSync(file);
  try {
    const schema = db.prepare("SELECT type, name, tbl_name AS tbl FROM sqlite_schema WHERE type IN ('table', 'index')").all();
    const owner = new Map(schema.map((s) => [s.name, s.type === "index" ? s.tbl : s.name]));
    owner.set("sqlite_schema", "sqlite_schema");
    const isIndex = new Set(schema.filter((s) => s.type === "index").map((s) => s.name));
    const stat = db.prepare("SELECT name, pagetype, SUM(pgsize) AS bytes, SUM(ncell) AS cells FROM dbstat GROUP BY name, pagetype").all();
    const tables = {};
    const row = (t) =>
      (tables[t] ??= { kind: kindOf(t), rows: 0, indexes: 0, indexEntries: 0, bytes: 0, tableBytes: 0, indexBytes: 0 });
    for (const s of schema) if (s.type === "table") row(s.name);
    for (const s of schema) if (s.type === "index") row(s.tbl).indexes++;
    for (const s of stat) {
      const t = row(owner.get(s.name) ?? s.name);
      const bytes = Number(s.bytes);
      t.bytes += bytes;
      if (isIndex.has(s.name)) {
        t.indexBytes += bytes;
        if (s.pagetype === "leaf") t.indexEntries += Number(s.cells);
      } else {
        t.tableBytes += bytes;
        if (s.pagetype === "leaf") t.rows += Number(s.cells);
      }
    }
    const pragma = (p) => Number(Object.values(db.prepare(`PRAGMA ${p}`).get())[0]);
    const counts = {
      alertsByStatus: Object.fromEntries((tryAll(db, "SELECT status, COUNT(*) AS n FROM alerts GROUP BY status") ?? []).map((r) => [r.status, Number(r.n)])),
      notificationsRead: Number(tryAll(db, "SELECT COUNT(*) AS n FROM notifications WHERE read_at IS NOT NULL OR archived_at IS NOT NULL")?.[0]?.n ?? 0),
      deliveriesByStatus: Object.fromEntries((tryAll(db, "SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status") ?? []).map((r) => [r.status, Number(r.n)])),
      orgs: (tryAll(db, "SELECT DISTINCT org_id FROM users ORDER BY org_id") ?? []).map((r) => r.org_id),
    };
    return {
      file: path.basename(file),
      fileBytes: sizeOf(file),
      walBytes: sizeOf(`${file}-wal`),
      pageSize: pragma("page_size"),
      pages: pragma("page_count"),
      freePages: pragma("freelist_count"),
      tables,
      counts,
    };
  } finally {
    db.close();
  }
}

/** Every D1 database under `persistDir`, snapshotted. */
export function snapshotAll(persistDir) {
  return findD1Files(persistDir).map((f) => ({ path: f, ...snapshotDb(f) }));
}

/** Sums a list of snapshots (one per database) into one per-table view. */
export function sumSnapshots(snaps) {
  const tables = {};
  for (const s of snaps) {
    for (const [name, t] of Object.entries(s.tables)) {
      const acc = (tables[name] ??= { kind: t.kind, rows: 0, indexes: t.indexes, indexEntries: 0, bytes: 0, tableBytes: 0, indexBytes: 0 });
      for (const k of ["rows", "indexEntries", "bytes", "tableBytes", "indexBytes"]) acc[k] += t[k];
    }
  }
  const sum = (f) => snaps.reduce((n, s) => n + f(s), 0);
  const merge = (f) => {
    const out = {};
    for (const s of snaps) for (const [k, v] of Object.entries(f(s))) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    databases: snaps.length,
    fileBytes: sum((s) => s.fileBytes),
    walBytes: sum((s) => s.walBytes),
    freeBytes: sum((s) => s.freePages * s.pageSize),
    tables,
    counts: {
      alertsByStatus: merge((s) => s.counts.alertsByStatus),
      notificationsRead: sum((s) => s.counts.notificationsRead),
      deliveriesByStatus: merge((s) => s.counts.deliveriesByStatus),
      orgs: snaps.flatMap((s) => s.counts.orgs),
    },
  };
}

/** Per kind: {bytes, rows, entries (rows + index entries)} of a summed snapshot. */
export function byKind(sum) {
  const out = {};
  for (const t of Object.values(sum.tables)) {
    const k = (out[t.kind] ??= { bytes: 0, rows: 0, entries: 0 });
    k.bytes += t.bytes;
    k.rows += t.rows;
    k.entries += t.rows + t.indexEntries;
  }
  return out;
}

const CLOSED = "('RESOLVED', 'DISMISSED', 'CONVERTED')";

/**
 * The R2 archive's bytes per row, re-encoded here the way
 * src/retention/archive.ts writes it (one NDJSON line per row as stored; an
 * alert's line with its history, assignments and recipients; gzip) from the
 * rows the run left in D1: closed alerts and read notifications, in objects of
 * `rowsPerObject` rows of one org. Returns {alerts, notifications}: {rows,
 * objects, gzipBytes, ndjsonBytes} (the archive itself cannot run here: rows
 * become due only days after their creation, which a compressed run cannot wait for).
 */
export function archiveEstimate(files, rowsPerObject) {
  const acc = { alerts: { rows: 0, objects: 0, gzipBytes: 0, ndjsonBytes: 0 }, notifications: { rows: 0, objects: 0, gzipBytes: 0, ndjsonBytes: 0 } };
  const emit = (kind, lines) => {
    const text = `${lines.join("\n")}\n`;
    const a = acc[kind];
    a.rows += lines.length;
    a.objects++;
    a.ndjsonBytes += Buffer.byteLength(text);
    a.gzipBytes += gzipSync(text).byteLength;
  };
  for (const file of files) {
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      const has = new Set(db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all().map((r) => r.name));
      const children = (table, ids) =>
        has.has(table)
          ? db.prepare(`SELECT * FROM ${table} WHERE alert_id IN (SELECT value FROM json_each(?)) ORDER BY alert_id, created_at, rowid`).all(JSON.stringify(ids))
          : [];
      const byAlert = (rows) => {
        const m = new Map();
        for (const r of rows) (m.get(r.alert_id) ?? m.set(r.alert_id, []).get(r.alert_id)).push({ ...r });
        return m;
      };
      for (const { org_id: org } of has.has("alerts") ? db.prepare("SELECT DISTINCT org_id FROM alerts").all() : []) {
        const rows = db.prepare(`SELECT * FROM alerts WHERE org_id = ? AND status IN ${CLOSED} ORDER BY id`).all(org);
        for (let i = 0; i < rows.length; i += rowsPerObject) {
          const chunk = rows.slice(i, i + rowsPerObject).map((r) => ({ ...r }));
          const ids = chunk.map((r) => r.id);
          const [h, a, rc] = ["alert_history", "alert_assignments", "alert_recipients"].map((t) => byAlert(children(t, ids)));
          emit(
            "alerts",
            chunk.map((r) => JSON.stringify({ ...r, history: h.get(r.id) ?? [], assignments: a.get(r.id) ?? [], recipients: rc.get(r.id) ?? [] })),
          );
        }
      }
      for (const { org_id: org } of has.has("notifications") ? db.prepare("SELECT DISTINCT org_id FROM notifications").all() : []) {
        const rows = db
          .prepare("SELECT * FROM notifications WHERE org_id = ? AND (read_at IS NOT NULL OR archived_at IS NOT NULL) ORDER BY id")
          .all(org);
        for (let i = 0; i < rows.length; i += rowsPerObject) emit("notifications", rows.slice(i, i + rowsPerObject).map((r) => JSON.stringify({ ...r })));
      }
    } finally {
      db.close();
    }
  }
  return acc;
}
