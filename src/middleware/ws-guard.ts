import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { getConfig } from "../config";
import { AppError, ErrorCode } from "../errors";
import { refusalCloseCode, refusalReason, type RefusalReason } from "../protocol";
import type { AppEnv } from "../types";
import { UPGRADE_PATHS } from "./auth";

/** Whether the request is a WebSocket upgrade to one of the stream routes (its refusals become closes, see refuseUpgrade). */
export function isStreamUpgrade(c: Context<AppEnv>): boolean {
  return c.req.method === "GET" && UPGRADE_PATHS.has(c.req.path) && c.req.header("Upgrade")?.toLowerCase() === "websocket";
}

/**
 * A refused upgrade as a browser can see it: a browser never learns the HTTP
 * status of a failed upgrade (only a bare error and close 1006), so the
 * upgrade is completed here, in the Worker, and the socket closed at once,
 * before any other frame, with 4000 + `status` and the API's error as JSON
 * (`refusalReason`: `code`, `message` shortened to fit 123 bytes, `retryAfter`).
 * No hub is involved.
 */
export function refuseUpgrade(status: number, reason: RefusalReason, headers?: HeadersInit): Response {
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  server.accept();
  server.close(refusalCloseCode(status), refusalReason(reason));
  return new Response(null, { status: 101, webSocket: client, headers });
}

/**
 * Runs before authentication on the upgrade routes, so nothing (not even a
 * single-use ticket) is spent on a request that cannot become a socket:
 * - not a WebSocket upgrade → 426 `UPGRADE_REQUIRED`;
 * - a browser `Origin` outside ALLOWED_ORIGINS (`*` any, empty none) → 403
 *   `ORIGIN_NOT_ALLOWED` (cross-site WebSocket hijacking). Clients that send
 *   no Origin (servers, CLIs) are not browsers and pass, and so does the
 *   Worker's own origin (scheme, host and port of the request URL): the
 *   dashboard it serves is not another site, so it needs no configuration.
 */
export const wsGuard = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.method !== "GET" || c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new AppError(426, ErrorCode.UPGRADE_REQUIRED, "This route only accepts WebSocket upgrades", undefined, { Upgrade: "websocket" });
  }
  const allowed = getConfig(c.env).allowedOrigins;
  const origin = c.req.header("Origin");
  if (origin !== undefined && !allowed.includes("*") && !allowed.includes(origin) && origin !== new URL(c.req.url).origin) {
    throw new AppError(403, ErrorCode.ORIGIN_NOT_ALLOWED, `Origin ${origin} may not open sockets here`);
  }
  await next();
});
