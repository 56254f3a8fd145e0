import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Setup files run before each test file, outside its storage isolation;
// applyD1Migrations skips migrations already applied. Every shard's database
// (D1_SHARDS: the tests run two, as `npm run dev` does).
for (const binding of env.D1_SHARDS.split(",").map((s) => s.trim())) {
  await applyD1Migrations((env as unknown as Record<string, D1Database>)[binding]!, env.TEST_MIGRATIONS);
}
