import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

/** One drizzle client per D1 binding per isolate: building one extracts the schema's relational config every time. */
const clients = new WeakMap<D1Database, Db>();

/** A drizzle client over the `DB` binding (cached per binding, stateless between queries). */
export function getDb(env: Env): Db {
  let db = clients.get(env.DB);
  if (!db) {
    db = drizzle(env.DB, { schema });
    clients.set(env.DB, db);
  }
  return db;
}
