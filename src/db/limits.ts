import { getTableColumns, type Table } from "drizzle-orm";

/**
 * D1 (like Durable Object SQLite) binds at most 100 parameters per statement
 * (https://developers.cloudflare.com/d1/platform/limits/); above it the
 * statement fails with `too many SQL variables`. Every statement built from a
 * list whose length users control stays within it: lists travel as one JSON
 * parameter (`idList`, `insertJsonRows`), or are cut with `chunk`.
 */
export const D1_MAX_BOUND_PARAMETERS = 100;

/**
 * Most bytes of JSON bound as one parameter when rows travel as a JSON array
 * (D1 caps one value at 2 MB; smaller chunks keep each statement short).
 */
export const JSON_ROWS_CHUNK_BYTES = 512 * 1024;

/** Splits a list into consecutive parts of at most `size` items. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!(size >= 1)) throw new RangeError(`chunk size must be at least 1, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Rows one multi-row `INSERT … VALUES` of this table may carry: floor(100 / columns bound per row). */
export function rowsPerInsert(table: Table, extraParameters = 0): number {
  return Math.max(1, Math.floor((D1_MAX_BOUND_PARAMETERS - extraParameters) / Object.keys(getTableColumns(table)).length));
}

/** Splits already-serialized JSON rows into parts of at most `maxBytes` characters (a part always holds at least one row). */
export function chunkJsonRows(rows: readonly string[], maxBytes = JSON_ROWS_CHUNK_BYTES): string[][] {
  const out: string[][] = [];
  let bytes = 0;
  for (const row of rows) {
    if (out.length === 0 || (bytes + row.length > maxBytes && out.at(-1)!.length > 0)) {
      out.push([]);
      bytes = 0;
    }
    out.at(-1)!.push(row);
    bytes += row.length + 1;
  }
  return out;
}
