import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes SQL migrations here; wrangler.toml's
// migrations_dir and the tests' readD1Migrations read the same folder.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});
