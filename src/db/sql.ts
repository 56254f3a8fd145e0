import { getTableColumns, is, sql, SQL, type Column } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "./client";
import { chunkJsonRows } from "./limits";

/**
 * A list of ids as one bound JSON parameter, for `inArray(column, idList(ids))`:
 * D1 binds at most 100 parameters per statement, so long IN lists would
 * otherwise need chunked queries.
 */
export function idList(ids: readonly string[]): SQL {
  return sql`(SELECT value FROM json_each(${JSON.stringify(ids)}))`;
}

/**
 * Insert statements for many rows of one table, for the caller's
 * batch: the rows travel as one JSON array parameter per statement (expanded
 * by json_each, inserted in order), so a statement binds one parameter
 * whatever the number of rows, and a batch holds one statement per
 * ~512 KB of rows instead of one per 5 rows. Values go through each column's
 * own driver mapping (timestamps, JSON, booleans), so the stored rows are the
 * ones `db.insert(table).values(rows)` would write. A missing value takes the
 * column's static default, else NULL.
 */
export function insertJsonRows<T extends SQLiteTable>(
  db: Db,
  table: T,
  rows: readonly T["$inferInsert"][],
  options: { onConflictDoNothing?: true | { target: Column } } = {},
): BatchItem<"sqlite">[] {
  if (rows.length === 0) return [];
  const columns = Object.entries(getTableColumns(table)) as [string, Column][];
  const encoded = rows.map((row) =>
    JSON.stringify(
      columns.map(([key, column]) => {
        let value = (row as Record<string, unknown>)[key];
        if (value === undefined) value = column.defaultFn?.() ?? column.default;
        if (value === undefined || value === null || is(value, SQL)) return null;
        return column.mapToDriverValue(value);
      }),
    ),
  );
  const picks = sql.raw(columns.map((_, i) => `value ->> '$[${i}]'`).join(", "));
  const target = options.onConflictDoNothing;
  // "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint.
  return chunkJsonRows(encoded).map((part) => {
    const insert = db.insert(table).select(sql`SELECT ${picks} FROM json_each(${`[${part.join(",")}]`}) WHERE true ORDER BY key`);
    if (target === undefined) return insert;
    return target === true ? insert.onConflictDoNothing() : insert.onConflictDoNothing({ target: target.target as never });
  });
}

/**
 * `INSERT INTO table SELECT <row's values> FROM from WHERE where`: the row is
 * written only if `where` matches, in the same statement, so a batch can make
 * it depend on an earlier conditional update (it matches only if the update
 * applied). Values go through each column's driver mapping, as `values(row)`
 * would; each binds one parameter, so a row stays well under D1's 100.
 */
export function insertIfApplied<T extends SQLiteTable>(db: Db, table: T, row: T["$inferInsert"], from: SQLiteTable, where: SQL) {
  const select: Record<string, SQL.Aliased> = {};
  for (const [key, column] of Object.entries(getTableColumns(table)) as [string, Column][]) {
    let value = (row as Record<string, unknown>)[key];
    if (value === undefined) value = column.defaultFn?.() ?? column.default;
    select[key] = (value === undefined || value === null ? sql`NULL` : sql`${column.mapToDriverValue(value)}`).as(column.name);
  }
  return db.insert(table).select(db.select(select).from(from).where(where) as never);
}
