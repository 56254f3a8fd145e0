import { z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import pkg from "../../package.json";
import { appDeps } from "../deps";
import { createRouter, defineRoute } from "../lib/router";

const HealthSchema = z
  .object({
    status: z.enum(["ok", "degraded"]),
    version: z.string(),
    d1: z.object({ reachable: z.boolean(), latencyMs: z.number().nullable() }),
  })
  .openapi("Health");

/** Liveness and D1 reachability; public, no token. */
export const healthRouter = createRouter().openapi(
  defineRoute({
    method: "get",
    path: "/health",
    operationId: "getHealth",
    tags: ["Operations"],
    // Public: no token. An explicit empty requirement says so in the document.
    security: [],
    summary: "Version and D1 reachability (503 when D1 cannot be reached)",
    responses: {
      200: { description: "Healthy", content: { "application/json": { schema: HealthSchema } } },
      503: { description: "D1 unreachable", content: { "application/json": { schema: HealthSchema } } },
    },
  }),
  async (c) => {
    const started = Date.now();
    try {
      // Every shard: an org on an unreachable one could not be served.
      await Promise.all(appDeps(c.env).shards.shards.map((s) => s.db.run(sql`SELECT 1`)));
      return c.json({ status: "ok" as const, version: pkg.version, d1: { reachable: true, latencyMs: Date.now() - started } }, 200);
    } catch (err) {
      console.error("herald: health check could not reach D1", err);
      return c.json({ status: "degraded" as const, version: pkg.version, d1: { reachable: false, latencyMs: null } }, 503);
    }
  },
);
