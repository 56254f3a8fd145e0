import type { DrizzleD1Database } from "drizzle-orm/d1";
import type * as schema from "./schema";

/** Drizzle over one shard's D1 database (src/db/shards.ts builds one per shard). */
export type Db = DrizzleD1Database<typeof schema>;
