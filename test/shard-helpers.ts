import { env } from "cloudflare:workers";
import { appDeps } from "../src/deps";

/** The D1 database that holds `orgId`'s rows (its shard; a new org is placed first, as its first request would). */
export async function orgD1(orgId: string): Promise<D1Database> {
  return (await appDeps(env).shards.forOrg(orgId)).d1;
}

/** The index of the shard that holds `orgId`. */
export async function orgShard(orgId: string): Promise<number> {
  return (await appDeps(env).shards.forOrg(orgId)).index;
}

/** Drizzle over `orgId`'s shard. */
export async function orgDb(orgId: string) {
  return (await appDeps(env).shards.forOrg(orgId)).db;
}

/**
 * A new org id placed on the same shard as `orgId` (written to the control
 * table as a first request would), for tests where another org's rows must
 * sit next to `orgId`'s so that only the org check keeps them apart.
 */
export async function orgBeside(orgId: string, prefix = "org"): Promise<string> {
  const other = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  await appDeps(env)
    .shards.control.d1.prepare("INSERT INTO org_shards (org_id, shard, epoch, updated_at) VALUES (?, ?, 0, ?)")
    .bind(other, await orgShard(orgId), Date.now())
    .run();
  return other;
}

/**
 * Places `orgId` on shard `shard` before its first request (as the control
 * table would after a placement), so a test knows where its rows live.
 */
export async function placeOrg(orgId: string, shard: number): Promise<void> {
  await env.DB.prepare("INSERT INTO org_shards (org_id, shard, epoch, updated_at) VALUES (?, ?, 0, ?)").bind(orgId, shard, Date.now()).run();
}

/** Every shard's D1 database, in shard order. */
export function allShards(): D1Database[] {
  return appDeps(env).shards.shards.map((s) => s.d1);
}
