import { createMiddleware } from "hono/factory";
import { getConfig } from "../config";
import { AppError, ErrorCode } from "../errors";
import type { AppEnv } from "../types";
import { UPGRADE_PATHS } from "./auth";

/**
 * Per-caller request budget, counted by the Workers Rate Limiting binding
 * (wrangler.toml `[[ratelimits]]`) under the key org + token subject. Over
 * budget: 429 `RATE_LIMITED` with `Retry-After`. Without the binding, no limit.
 * Runs after authentication, so an anonymous flood cannot spend a user's budget.
 * Socket upgrades are not counted here: the hub that admits the socket
 * counts them (MAX_CONNECTS_PER_MINUTE, ConnectBudget) in the same step as
 * its connection limits, with no round trip to the limiter on the way.
 */
export const rateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const limiter = c.env.API_RATE_LIMITER;
  if (limiter && !UPGRADE_PATHS.has(c.req.path)) {
    const { org, sub } = c.var.auth;
    const { success } = await limiter.limit({ key: `${org}\u0000${sub}` });
    if (!success) {
      const retryAfter = String(getConfig(c.env).rateLimitPeriodSeconds);
      throw new AppError(429, ErrorCode.RATE_LIMITED, "Too many requests; slow down and retry later", undefined, {
        "Retry-After": retryAfter,
      });
    }
  }
  await next();
});
