import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { except } from "hono/combine";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import pkg from "../package.json";
import { getConfig } from "./config";
import { isOrgMoving, orgMoving } from "./db/shards";
import { appDeps } from "./deps";
import { AppError, ErrorCode, RETRY_AFTER_SECONDS } from "./errors";
import { authenticate, UPGRADE_PATHS, useOrgShard } from "./middleware/auth";
import { rateLimit } from "./middleware/rate-limit";
import { recordUser } from "./middleware/record-user";
import { isStreamUpgrade, refuseUpgrade, wsGuard } from "./middleware/ws-guard";
import { devRouter, devTokenRouter } from "./routes/dev";
import { eventsRouter } from "./routes/events";
import { notificationsRouter } from "./routes/notifications";
import { preferencesRouter } from "./routes/preferences";
import { webhooksRouter } from "./routes/webhooks";
import { realtimeRouter, wsRouter } from "./routes/realtime";
import { alertsRouter } from "./routes/alerts";
import { archiveRouter } from "./routes/archive";
import { opsRouter } from "./routes/ops";
import { routingActionsRouter } from "./routes/routing-actions";
import { healthRouter } from "./routes/health";
import { usersRouter } from "./routes/users";
import { availabilityRouter, routingRouter } from "./routes/routing";
import { unsubscribeRouter } from "./routes/unsubscribe";
import type { AppEnv } from "./types";

/** Codes for HTTP errors raised by Hono itself rather than by Herald's code. */
const HTTP_CODES: Partial<Record<number, ErrorCode>> = {
  400: ErrorCode.VALIDATION_FAILED,
  401: ErrorCode.AUTH_FAILED,
  403: ErrorCode.FORBIDDEN,
  404: ErrorCode.NOT_FOUND,
  405: ErrorCode.METHOD_NOT_ALLOWED,
  413: ErrorCode.PAYLOAD_TOO_LARGE,
  415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  426: ErrorCode.UPGRADE_REQUIRED,
  429: ErrorCode.RATE_LIMITED,
};

/**
 * Any thrown value as an AppError: an AppError as is, an HTTP error raised by
 * Hono itself with its code, anything else (logged here) as 500 `INTERNAL`.
 */
function asAppError(err: Error, requestId: string | undefined): AppError {
  if (err instanceof AppError) return err;
  const code = err instanceof HTTPException ? HTTP_CODES[err.status] : undefined;
  if (err instanceof HTTPException && code) return new AppError(err.status as ContentfulStatusCode, code, err.message || "Request refused");
  console.error(`herald: unhandled error (request ${requestId})`, err);
  return new AppError(500, ErrorCode.INTERNAL, "Internal error; quote the requestId when reporting it");
}

/** The error's own response, merged (as Hono's default handler does) with the headers middleware already set on `c`. */
function respond(c: Context<AppEnv>, error: AppError): Response {
  const res = error.getResponse(c.var.requestId);
  return c.newResponse(res.body, res);
}

/** Builds the Herald API: middleware, routes, OpenAPI document, one error path. */
export function createApp() {
  const app = new OpenAPIHono<AppEnv>();

  app.use("*", requestId());
  app.use(
    "*",
    cors({
      origin: (origin, c) => {
        const allowed = getConfig(c.env).corsOrigins;
        if (allowed.includes("*")) return "*";
        return allowed.includes(origin) ? origin : null;
      },
      allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"],
      allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      exposeHeaders: ["X-Request-Id", "Idempotent-Replayed", "Location", "Retry-After", "WWW-Authenticate"],
      maxAge: 600,
    }),
  );
  app.use("*", secureHeaders({ crossOriginResourcePolicy: false }));
  app.use("/api/*", async (c, next) =>
    bodyLimit({
      maxSize: getConfig(c.env).maxBodyBytes,
      onError: () => {
        throw new AppError(413, ErrorCode.PAYLOAD_TOO_LARGE, `The body is larger than ${getConfig(c.env).maxBodyBytes} bytes`);
      },
    })(c, next),
  );
  app.use("/api/v1/ws", wsGuard);
  app.use("/api/v1/ws/org", wsGuard);
  // Socket upgrades skip the request budget and the directory write: the hub that
  // admits the socket counts its connects (MAX_CONNECTS_PER_MINUTE) and the org hub
  // records the people it sees in batches (SeenClaims), so an upgrade makes no
  // round trip to the limiter or D1 before the 101.
  app.use("/api/v1/*", authenticate, useOrgShard, except((c) => UPGRADE_PATHS.has(c.req.path), rateLimit, recordUser));

  app.route("/", healthRouter);
  app.route("/", unsubscribeRouter);
  app.route("/api/v1/alerts", alertsRouter);
  app.route("/api/v1/users", usersRouter);
  app.route("/api/v1/routing", routingActionsRouter);
  app.route("/api/v1", wsRouter);
  app.route("/api/v1/realtime", realtimeRouter);
  app.route("/api/v1/events", eventsRouter);
  app.route("/api/v1/webhooks", webhooksRouter);
  app.route("/api/v1/notifications", notificationsRouter);
  app.route("/api/v1", preferencesRouter);
  app.route("/api/v1/routing", routingRouter);
  app.route("/api/v1", availabilityRouter);
  app.route("/api/v1/archive", archiveRouter);
  app.route("/api/v1/dev", devRouter);
  app.route("/api/dev", devTokenRouter);
  app.route("/api/ops", opsRouter);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "HS256 with JWT_SECRET, or RS256/ES256/EdDSA from JWT_JWKS_URL. Claims: sub, org, role, email?, name?",
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/openapi.json",
    operationId: "getOpenApiDocument",
    tags: ["Operations"],
    security: [],
    summary: "This OpenAPI 3.1 document (public, no token)",
    responses: {
      200: { description: "The document", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } },
    },
  });
  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "Herald API",
      version: pkg.version,
      description: "Realtime alerts and notifications on Cloudflare Workers. Errors: {error:{code,message,details}}.",
    },
    servers: [{ url: new URL(c.req.url).origin }],
  }));

  app.notFound((c) => respond(c, new AppError(404, ErrorCode.NOT_FOUND, `No route ${c.req.method} ${c.req.path}`)));

  app.onError((err, c) => {
    const requestId = c.var.requestId;
    let error: AppError;
    // A shard's fence refused the org's write: it is moving, or this isolate's map is stale.
    if (c.var.auth ? appDeps(c.env).shards.refused(err, c.var.auth.org) : isOrgMoving(err)) {
      error = orgMoving();
    } else {
      error = asAppError(err, requestId);
    }
    if (error.status >= 500 && err instanceof AppError) console.error(`herald: ${err.code} (request ${requestId})`, err.message);
    if (isStreamUpgrade(c)) {
      const retryAfter = error.status === 429 ? Number(error.headers?.["Retry-After"] || RETRY_AFTER_SECONDS) : undefined;
      const { code, message } = error;
      return refuseUpgrade(error.status, { code, message, ...(retryAfter !== undefined && { retryAfter }) }, requestId ? { "X-Request-Id": requestId } : undefined);
    }
    return respond(c, error);
  });

  return app;
}
