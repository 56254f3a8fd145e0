import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      /** Test-only binding set in vitest.config.ts: the migrations folder, read in Node. */
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
