import { createApp } from "./app";
import { processQueueBatch } from "./delivery/consumer";
import type { DeliveryMessage } from "./delivery/types";
import { deps } from "./deps";
import { purgeExpiredRealtime, sweepUnpublished } from "./outbox";
import { archiveAndPurge } from "./retention/archive";
import { purgeUnarchived } from "./retention/purge";
import { requeueStaleDeliveries } from "./services/notifications";

const app = createApp();

export default {
  fetch: app.fetch,

  /**
   * Cron (wrangler.toml [triggers], every minute): re-deliver events a hub did
   * not confirm, then delete what has expired (events, acknowledgements,
   * tickets, idempotency keys) and what retention says is due (src/retention).
   */
  async scheduled(_controller, env, _ctx) {
    const { db, config } = deps(env);
    const swept = await sweepUnpublished(env, db);
    const events = await purgeExpiredRealtime(db, config.eventTtlSeconds);
    const requeued = await requeueStaleDeliveries(env, db);
    const retained = await purgeUnarchived(env.DB, config);
    const keys = retained.idempotencyKeys;
    const archived = await archiveAndPurge(env.DB, env.ARCHIVE, config);
    if (retained.deliveries + archived.alerts.deleted + archived.notifications.deleted > 0) {
      console.log(
        `herald: retention deleted ${retained.deliveries} deliveries, archived and deleted ${archived.alerts.deleted} alerts and ${archived.notifications.deleted} notifications`,
      );
    }
    if (requeued > 0) console.log(`herald: re-queued ${requeued} stale deliveries`);
    if (swept.delivered + swept.failed + events + keys > 0) {
      console.log(`herald: re-delivered ${swept.delivered} events (${swept.failed} still failing); purged ${events} events, ${keys} idempotency keys`);
    }
  },

  /** Outbound deliveries (email, SMS, webhooks) and their dead letters. */
  async queue(batch, env) {
    await processQueueBatch(batch, env);
  },
} satisfies ExportedHandler<Env, DeliveryMessage>;

export { OrgHub } from "./realtime/org-hub";
export { UserHub } from "./realtime/user-hub";
