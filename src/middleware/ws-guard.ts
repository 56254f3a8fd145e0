import { createMiddleware } from "hono/factory";
import { getConfig } from "../config";
import { AppError, ErrorCode } from "../errors";
import type { AppEnv } from "../types";

/**
 * Runs before authentication on the upgrade routes, so nothing (not even a
 * single-use ticket) is spent on a request that cannot become a socket:
 * - not a WebSocket upgrade → 426 `UPGRADE_REQUIRED`;
 * - a browser `Origin` outside ALLOWED_ORIGINS (`*` any, empty none) → 403
 *   `ORIGIN_NOT_ALLOWED` (cross-site WebSocket hijacking). Clients that send
 *   no Origin (servers, CLIs) are not browsers and pass.
 */
export const wsGuard = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.method !== "GET" || c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new AppError(426, ErrorCode.UPGRADE_REQUIRED, "This route only accepts WebSocket upgrades", undefined, { Upgrade: "websocket" });
  }
  const allowed = getConfig(c.env).allowedOrigins;
  const origin = c.req.header("Origin");
  if (origin !== undefined && !allowed.includes("*") && !allowed.includes(origin)) {
    throw new AppError(403, ErrorCode.ORIGIN_NOT_ALLOWED, `Origin ${origin} may not open sockets here`);
  }
  await next();
});
