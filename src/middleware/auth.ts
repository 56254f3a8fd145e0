import { createMiddleware } from "hono/factory";
import { bearerToken, verifyToken } from "../auth/verify";
import { appDeps, shardDeps } from "../deps";
import { AppError, ErrorCode } from "../errors";
import { redeemTicket, ticketOrg } from "../services/tickets";
import type { AppEnv, Claims } from "../types";

/** WebSocket upgrade routes: the only ones that also take `?token=` or `?ticket=` (browsers cannot set headers there). */
export const UPGRADE_PATHS: ReadonlySet<string> = new Set(["/api/v1/ws", "/api/v1/ws/org"]);

/**
 * Requires a valid bearer token and puts its claims in `c.var.auth`.
 * On upgrade routes a `?token=` or a single-use `?ticket=` is accepted too.
 * Verification only: recording the user is `recordUser`, which runs next.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const { config } = appDeps(c.env);
  const token = bearerToken(c.req.header("Authorization"));
  const upgrade = UPGRADE_PATHS.has(c.req.path);
  let claims: Claims;
  if (token !== undefined) {
    claims = await verifyToken(token, config);
  } else if (upgrade && c.req.query("ticket")) {
    // The ticket names its org (issueTicket); an org no one ever used has no shard and no tickets.
    const ticket = c.req.query("ticket")!;
    const shard = await appDeps(c.env).shards.existing(ticketOrg(ticket));
    claims = await redeemTicket(shard?.db ?? null, ticket);
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

/**
 * Puts the dependencies over the caller's org's shard in `c.var.deps`, and
 * the org's placement epoch in `c.var.epoch` (a new org is placed on the
 * least-full shard here, on its first request).
 */
export const useOrgShard = createMiddleware<AppEnv>(async (c, next) => {
  const placement = await appDeps(c.env).shards.placement(c.var.auth.org);
  c.set("deps", shardDeps(c.env, placement.shard));
  c.set("epoch", placement.epoch);
  await next();
});
