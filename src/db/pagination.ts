import { and, desc, eq, lt, or, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { decodeCursor, encodeCursor } from "../lib/cursor";

/** The columns of a keyset page ordered newest first: (createdAt desc, id desc). */
export interface PageKeys {
  createdAt: SQLiteColumn;
  id: SQLiteColumn;
}

/** One page and the cursor of the next (null on the last page). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Keyset pagination over (createdAt desc, id desc), the order of every list
 * in the API: decodes the client's cursor (400 `INVALID_CURSOR` when it is not
 * ours), lets `read` run the caller's query with the condition "after the
 * cursor", the order and `limit + 1` rows, and cuts the page, whose last row
 * gives the next cursor when there is one more.
 */
export async function keysetPage<R extends { createdAt: Date; id: string }, T>(
  keys: PageKeys,
  page: { limit: number; cursor?: string },
  read: (after: SQL | undefined, orderBy: [SQL, SQL], limit: number) => Promise<R[]>,
  toItem: (row: R) => T,
): Promise<Page<T>> {
  let after: SQL | undefined;
  if (page.cursor) {
    const cursor = decodeCursor(page.cursor);
    const at = new Date(cursor.createdAt);
    after = or(lt(keys.createdAt, at), and(eq(keys.createdAt, at), lt(keys.id, cursor.id)));
  }
  const rows = await read(after, [desc(keys.createdAt), desc(keys.id)], page.limit + 1);
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return {
    items: items.map(toItem),
    nextCursor: rows.length > page.limit && last ? encodeCursor({ createdAt: last.createdAt.getTime(), id: last.id }) : null,
  };
}
