import { createMiddleware } from "hono/factory";
import { bearerToken, verifyToken } from "../auth/verify";
import { deps } from "../deps";
import { AppError, ErrorCode } from "../errors";
import { redeemTicket } from "../services/tickets";
import type { AppEnv, Claims } from "../types";

/** WebSocket upgrade routes: the only ones that also take `?token=` or `?ticket=` (browsers cannot set headers there). */
export const UPGRADE_PATHS: ReadonlySet<string> = new Set(["/api/v1/ws", "/api/v1/ws/org"]);

/**
 * Requires a valid bearer token and puts its claims in `c.var.auth`.
 * On upgrade routes a `?token=` or a single-use `?ticket=` is accepted too.
 * Verification only: recording the user is `recordUser`, which runs next.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const { config, db } = deps(c.env);
  const token = bearerToken(c.req.header("Authorization"));
  const upgrade = UPGRADE_PATHS.has(c.req.path);
  let claims: Claims;
  if (token !== undefined) {
    claims = await verifyToken(token, config);
  } else if (upgrade && c.req.query("ticket")) {
    claims = await redeemTicket(db, c.req.query("ticket")!);
  } else if (upgrade && c.req.query("token")) {
    claims = await verifyToken(c.req.query("token")!, config);
  } else {
    throw new AppError(401, ErrorCode.AUTH_REQUIRED, "Send Authorization: Bearer <token>", undefined, {
      "WWW-Authenticate": 'Bearer realm="herald", error="invalid_token"',
    });
  }
  c.set("auth", claims);
  await next();
});
