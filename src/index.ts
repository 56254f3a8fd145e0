import { createApp } from "./app";
import { processQueueBatch } from "./delivery/consumer";
import type { DeliveryMessage } from "./delivery/types";
import type { Shard } from "./db/shards";
import { appDeps, shardDeps } from "./deps";
import { recordShardSize } from "./sharding/sizes";
import { purgeExpiredRealtime, sweepUnpublished } from "./outbox";
import { archiveAndPurge } from "./retention/archive";
import { purgeUnarchived } from "./retention/purge";
import { requeueStaleDeliveries } from "./services/notifications";

const app = createApp();

/**
 * Cron work on one shard (wrangler.toml [triggers], every minute): re-deliver
 * events a hub did not confirm, then delete what has expired (events,
 * acknowledgements, tickets, idempotency keys) and what retention says is due
 * (src/retention), and record the shard's size for placing new orgs. Rows of
 * an org that is moving away or gone (fenced) are left to the move.
 */
async function maintainShard(env: Env, shard: Shard): Promise<void> {
  const { db, config } = shardDeps(env, shard);
  const swept = await sweepUnpublished(env, db);
  const events = await purgeExpiredRealtime(shard.d1, config.eventTtlSeconds, config.retention);
  const requeued = await requeueStaleDeliveries(env, db);
  const retained = await purgeUnarchived(shard.d1, config);
  const keys = retained.idempotencyKeys;
  const archived = await archiveAndPurge(shard.d1, env.ARCHIVE, config);
  await recordShardSize(appDeps(env).shards, shard);
  const on = `shard ${shard.index}`;
  if (retained.deliveries + archived.alerts.deleted + archived.notifications.deleted > 0) {
    console.log(
      `herald: ${on}: retention deleted ${retained.deliveries} deliveries, archived and deleted ${archived.alerts.deleted} alerts and ${archived.notifications.deleted} notifications`,
    );
  }
  if (requeued > 0) console.log(`herald: ${on}: re-queued ${requeued} stale deliveries`);
  if (swept.delivered + swept.failed + events + keys > 0) {
    console.log(`herald: ${on}: re-delivered ${swept.delivered} events (${swept.failed} still failing); purged ${events} events, ${keys} idempotency keys`);
  }
}

export default {
  fetch: app.fetch,

  /**
   * Cron (wrangler.toml [triggers], every minute): re-deliver events a hub did
   * not confirm, then delete what has expired (events, acknowledgements,
   * tickets, idempotency keys) and what retention says is due (src/retention).
   */
  async scheduled(_controller, env, _ctx) {
    const { shards } = appDeps(env);
    // Every shard, one after the other; one failing does not stop the others.
    for (const shard of shards.shards) {
      try {
        await maintainShard(env, shard);
      } catch (err) {
        console.error(`herald: cron on shard ${shard.index} (${shard.binding}) failed`, err);
      }
    }
  },

  /** Outbound deliveries (email, SMS, webhooks) and their dead letters. */
  async queue(batch, env) {
    await processQueueBatch(batch, env);
  },
} satisfies ExportedHandler<Env, DeliveryMessage>;

export { OrgHub } from "./realtime/org-hub";
export { UserHub } from "./realtime/user-hub";
