import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const configPath = "./wrangler.toml";
const JWT_SECRET = "test-secret-test-secret-test-secret-0123";
const OPS_TOKEN = "test-ops-token-test-ops-token-0123456789";

// Three projects; the first two inside workerd with the real wrangler.toml bindings and the
// very migrations `wrangler d1 migrations apply` uses:
// - "herald": the suite, with test values for the vars it needs to reach;
// - "deployed": wrangler.toml's top-level [vars] untouched (only the secret a
//   deployment sets with `wrangler secret put`), proving what `wrangler deploy` ships;
// - "sdk": the client SDK (packages/sdk) in Node.
export default defineConfig(async () => {
  const migrations = await readD1Migrations(new URL("./migrations", import.meta.url).pathname);
  return {
    test: {
      // .ci/run sets HERALD_TEST_REPORT to get a JSON summary next to the usual output.
      reporters: process.env.HERALD_TEST_REPORT
        ? ["default", ["json", { outputFile: process.env.HERALD_TEST_REPORT }]]
        : ["default"],
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath },
              miniflare: {
                bindings: {
                  TEST_MIGRATIONS: migrations,
                  ENVIRONMENT: "test",
                  JWT_SECRET,
                  CORS_ORIGINS: "https://app.example.com",
                  ALLOWED_ORIGINS: "https://app.example.com",
                  // Webhook tests post to local listeners; test/webhooks.test.ts turns it off where it tests the SSRF guard.
                  ALLOW_INSECURE_WEBHOOKS: "true",
                  // Smaller than production so tests can reach them (test/realtime-*.test.ts).
                  MAX_CONNECTIONS_PER_ORG: "40",
                  MAX_CONNECTS_PER_MINUTE: "40",
                  REPLAY_MAX_EVENTS: "50",
                  // The operator routes (test/shard-move.test.ts), and a short shard-map cache so a
                  // move's wait before deleting the old copy is a second, not a minute.
                  OPS_TOKEN: OPS_TOKEN,
                  SHARD_CACHE_SECONDS: "1",
                },
                // A smaller budget than wrangler.toml's so test/rate-limit.test.ts can exhaust it.
                ratelimits: { API_RATE_LIMITER: { namespace_id: "1001", simple: { limit: 100, period: 60 } } },
              },
            }),
          ],
          test: {
            name: "herald",
            include: ["test/**/*.test.ts"],
            exclude: ["test/deployed/**"],
            setupFiles: ["./test/apply-migrations.ts"],
          },
        },
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath },
              miniflare: { bindings: { TEST_MIGRATIONS: migrations, JWT_SECRET } },
            }),
          ],
          test: {
            name: "deployed",
            include: ["test/deployed/**/*.test.ts"],
            setupFiles: ["./test/apply-migrations.ts"],
          },
        },
        {
          // The client SDK's unit tests: Node, against an in-process fake server over real sockets (no workerd).
          test: {
            name: "sdk",
            environment: "node",
            include: ["packages/sdk/test/**/*.test.ts", "packages/sdk/test/**/*.test.tsx"],
            testTimeout: 30_000,
          },
        },
      ],
    },
  };
});
