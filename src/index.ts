import { createApp } from "./app";
import { getDb } from "./db/client";
import { purgeExpiredIdempotencyKeys } from "./services/idempotency";

const app = createApp();

export default {
  fetch: app.fetch,

  /** Cron housekeeping (wrangler.toml [triggers]): expired idempotency keys. */
  async scheduled(_controller, env, _ctx) {
    const purged = await purgeExpiredIdempotencyKeys(getDb(env));
    console.log(`herald: purged ${purged} expired idempotency keys`);
  },
} satisfies ExportedHandler<Env>;
