import { createMiddleware } from "hono/factory";
import { getDb } from "../db/client";
import { recordUserFromClaims } from "../services/users";
import type { AppEnv } from "../types";

/**
 * Records the authenticated caller (`c.var.auth`, set by `authenticate`) in
 * the directory on first sight, so notifications can reach people who never
 * had a profile written for them (see recordUserFromClaims).
 */
export const recordUser = createMiddleware<AppEnv>(async (c, next) => {
  await recordUserFromClaims(getDb(c.env), c.var.auth);
  await next();
});
