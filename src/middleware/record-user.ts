import { createMiddleware } from "hono/factory";
import { deps } from "../deps";
import { recordUserFromClaims } from "../services/users";
import type { AppEnv } from "../types";

/**
 * Records the authenticated caller (`c.var.auth`, set by `authenticate`) in
 * the directory on first sight, so notifications can reach people who never
 * had a profile written for them (see recordUserFromClaims).
 */
export const recordUser = createMiddleware<AppEnv>(async (c, next) => {
  await recordUserFromClaims(deps(c.env).db, c.var.auth);
  await next();
});
