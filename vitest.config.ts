import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// The suite runs inside workerd with the real wrangler.toml bindings and the
// very migrations `wrangler d1 migrations apply` uses.
export default defineConfig(async () => {
  const migrations = await readD1Migrations(new URL("./migrations", import.meta.url).pathname);
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            ENVIRONMENT: "test",
            JWT_SECRET: "test-secret-test-secret-test-secret-0123",
            CORS_ORIGINS: "https://app.example.com",
            ALLOWED_ORIGINS: "https://app.example.com",
            // Smaller than production so tests can reach them (test/realtime-*.test.ts).
            MAX_CONNECTIONS_PER_ORG: "40",
            REPLAY_MAX_EVENTS: "50",
          },
          // A smaller budget than wrangler.toml's so test/rate-limit.test.ts can exhaust it.
          ratelimits: { API_RATE_LIMITER: { namespace_id: "1001", simple: { limit: 100, period: 60 } } },
        },
      }),
    ],
    test: {
      setupFiles: ["./test/apply-migrations.ts"],
    },
  };
});
