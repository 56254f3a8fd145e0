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
 *
 * Not on socket upgrades (src/app.ts): the org hub, which admits every
 * socket of its org, records the people it sees, many in one D1 statement
 * (OrgHub, `SeenClaims`), so a reconnect wave is not one D1 write per person
 * on the upgrade path.
 */
export const recordUser = createMiddleware<AppEnv>(async (c, next) => {
  try {
    await recordUserFromClaims(c.var.deps.shard.d1, c.var.auth);
  } catch (err) {
    if (!appDeps(c.env).shards.refused(err, c.var.auth.org)) throw err;
  }
  await next();
});
