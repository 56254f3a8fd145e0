import { z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { appDeps } from "../deps";
import { devOutbox, OUTBOUND_CHANNELS } from "../db/schema";
import { AppError, ErrorCode } from "../errors";
import { bearerSecurity, createRouter, defineRoute, jsonContent as json } from "../lib/router";
import { commonErrors, IdString, RoleSchema } from "../schemas/common";
import { mintDevToken } from "../services/dev-tokens";
import type { AppEnv } from "../types";

/** Outside development, answers exactly what an unknown route answers, before any validation can hint otherwise. */
const developmentOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (appDeps(c.env).config.environment !== "development") {
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
    const rows = await c.var.deps.db
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

/** Longest and shortest lifetime of a dev token (seconds). */
const DEV_TOKEN_TTL = { min: 60, max: 86_400, default: 3_600 } as const;

const DevTokenBody = z
  .strictObject({
    sub: IdString.default("dev-admin"),
    org: IdString.default("dev-org"),
    role: RoleSchema.default("admin"),
    name: z.string().min(1).max(200).optional(),
    email: z.email().max(320).optional(),
    ttlSeconds: z.number().int().min(DEV_TOKEN_TTL.min).max(DEV_TOKEN_TTL.max).default(DEV_TOKEN_TTL.default),
  })
  .openapi("DevTokenRequest");

const DevTokenResponse = z
  .object({
    token: z.string(),
    expiresAt: z.string(),
    claims: z.object({
      sub: z.string(),
      org: z.string(),
      role: RoleSchema,
      name: z.string().optional(),
      email: z.string().optional(),
      iat: z.number().int(),
      exp: z.number().int(),
      iss: z.string().optional(),
      aud: z.string().optional(),
    }),
  })
  .openapi("DevToken");

/**
 * `POST /api/dev/token`, mounted at /api/dev: outside /api/v1, so no bearer
 * token is needed (it is how the dashboard's development sign-in gets one).
 * Answers only when ENVIRONMENT=development, otherwise 404 NOT_FOUND like an
 * unknown route; hidden from the OpenAPI document like the dev outbox.
 */
export const devTokenRouter = createRouter().openapi(
  defineRoute({
    method: "post",
    path: "/token",
    operationId: "createDevToken",
    hide: true,
    middleware: [developmentOnly] as const,
    tags: ["Development"],
    summary: "Mints an HS256 token signed with JWT_SECRET for any user, org and role (ENVIRONMENT=development only; no bearer token)",
    security: [],
    request: { body: { content: json(DevTokenBody) } },
    responses: {
      200: { description: "A token the API accepts, its expiry and its claims", content: json(DevTokenResponse) },
      ...commonErrors,
    },
  }),
  async (c) => c.json(await mintDevToken(appDeps(c.env).config, c.req.valid("json")), 200),
);
