import { createMiddleware } from "hono/factory";
import { appDeps } from "../deps";
import { recordUserFromClaims } from "../services/users";
import type { AppEnv } from "../types";

/**
 * Records the authenticated caller (`c.var.auth`, set by `authenticate`) in
 * the directory on first sight, so notifications can reach people who never
 * had a profile written for them (see recordUserFromClaims). While the org
 * is moving between shards its writes are refused for a moment: the request
 * goes on (a read must not fail for it) and a later request records the caller.
 */
export const recordUser = createMiddleware<AppEnv>(async (c, next) => {
  try {
    await recordUserFromClaims(c.var.deps.db, c.var.auth);
  } catch (err) {
    if (!appDeps(c.env).shards.refused(err, c.var.auth.org)) throw err;
  }
  await next();
});
