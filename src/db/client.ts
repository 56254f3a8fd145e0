import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

/** A drizzle client over the `DB` binding. Cheap: create one per request. */
export function getDb(env: Env): Db {
  return drizzle(env.DB, { schema });
}
