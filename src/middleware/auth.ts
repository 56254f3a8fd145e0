import { createMiddleware } from "hono/factory";
import { bearerToken, verifyToken } from "../auth/verify";
import { getConfig } from "../config";
import { getDb } from "../db/client";
import { AppError, ErrorCode, forbidden } from "../errors";
import { recordUserFromClaims } from "../services/users";
import type { AppEnv, Role } from "../types";

/**
 * Requires a valid bearer token and puts its claims in `c.var.auth`.
 * The user is recorded in the directory on first sight (see recordUserFromClaims).
 */
export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const config = getConfig(c.env);
  const token = bearerToken(c.req.header("Authorization"));
  if (!token) {
    throw new AppError(401, ErrorCode.AUTH_REQUIRED, "Send Authorization: Bearer <token>", undefined, {
      "WWW-Authenticate": 'Bearer realm="herald", error="invalid_token"',
    });
  }
  const claims = await verifyToken(token, config);
  c.set("auth", claims);
  await recordUserFromClaims(getDb(c.env), claims);
  await next();
});

/** Allows only the given roles; others get 403 `FORBIDDEN`. */
export const allowRoles = (...roles: Role[]) =>
  createMiddleware<AppEnv>(async (c, next) => {
    if (!roles.includes(c.var.auth.role)) throw forbidden(`This needs one of the roles: ${roles.join(", ")}`);
    await next();
  });
