import { z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { deps } from "../deps";
import { devOutbox, OUTBOUND_CHANNELS } from "../db/schema";
import { AppError, ErrorCode } from "../errors";
import { bearerSecurity, createRouter, defineRoute, jsonContent as json } from "../lib/router";
import { commonErrors } from "../schemas/common";
import type { AppEnv } from "../types";

/** Outside development, answers exactly what an unknown route answers, before any validation can hint otherwise. */
const developmentOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (deps(c.env).config.environment !== "development") {
    throw new AppError(404, ErrorCode.NOT_FOUND, `No route ${c.req.method} ${c.req.path}`);
  }
  await next();
});

const OutboxQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  channel: z.enum(OUTBOUND_CHANNELS).optional(),
});

const OutboxItem = z
  .object({
    id: z.string(),
    deliveryId: z.string(),
    channel: z.enum(OUTBOUND_CHANNELS),
    to: z.string(),
    subject: z.string().nullable(),
    text: z.string().nullable(),
    html: z.string().nullable(),
    headers: z.record(z.string(), z.string()),
    createdAt: z.string(),
  })
  .openapi("DevOutboxItem");

/**
 * Development helpers, mounted at /api/v1/dev. They answer only when
 * ENVIRONMENT=development; anywhere else they are 404 NOT_FOUND, like a route
 * that does not exist, and they are left out of the OpenAPI document.
 */
export const devRouter = createRouter().openapi(
  defineRoute({
    method: "get",
    path: "/outbox",
    operationId: "listDevOutbox",
    hide: true,
    middleware: [developmentOnly] as const,
    tags: ["Development"],
    summary: "What the log email/SMS providers recorded for your organization, newest first (ENVIRONMENT=development only)",
    security: bearerSecurity,
    request: { query: OutboxQuery },
    responses: {
      200: { description: "The newest outbox entries", content: json(z.object({ items: z.array(OutboxItem) })) },
      ...commonErrors,
    },
  }),
  async (c) => {
    const { limit, channel } = c.req.valid("query");
    const rows = await deps(c.env).db
      .select()
      .from(devOutbox)
      .where(and(eq(devOutbox.orgId, c.var.auth.org), channel ? eq(devOutbox.channel, channel) : undefined))
      .orderBy(desc(devOutbox.createdAt), desc(devOutbox.id))
      .limit(limit);
    const items = rows.map((r) => ({
      id: r.id,
      deliveryId: r.deliveryId,
      channel: r.channel,
      to: r.to,
      subject: r.subject,
      text: r.text,
      html: r.html,
      headers: r.headers,
      createdAt: r.createdAt.toISOString(),
    }));
    return c.json({ items }, 200);
  },
);
