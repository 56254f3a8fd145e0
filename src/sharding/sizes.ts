import type { Shard, ShardMap } from "../db/shards";

/**
 * Records `shard`'s size in the control table (shard_sizes), from D1's
 * `meta.size_after` (the database's size in bytes after a query): new orgs go
 * to the shard with the fewest bytes (ShardMap placement).
 */
export async function recordShardSize(shards: ShardMap, shard: Shard, now = Date.now()): Promise<number> {
  const probe = await shard.d1.prepare("SELECT 1").run();
  const bytes = Number((probe.meta as { size_after?: number }).size_after ?? 0);
  await shards.control.d1
    .prepare("INSERT INTO shard_sizes (shard, bytes, measured_at) VALUES (?, ?, ?) ON CONFLICT (shard) DO UPDATE SET bytes = excluded.bytes, measured_at = excluded.measured_at")
    .bind(shard.index, bytes, now)
    .run();
  return bytes;
}
