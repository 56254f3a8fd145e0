import { sql, type SQL } from "drizzle-orm";

/**
 * A list of ids as one bound JSON parameter, for `inArray(column, idList(ids))`:
 * D1 binds at most 100 parameters per statement, so long IN lists would
 * otherwise need chunked queries.
 */
export function idList(ids: readonly string[]): SQL {
  return sql`(SELECT value FROM json_each(${JSON.stringify(ids)}))`;
}
