import { createMiddleware } from "hono/factory";
import { getConfig } from "../config";
import { AppError, ErrorCode } from "../errors";
import type { AppEnv } from "../types";

/**
 * Per-caller request budget, counted by the Workers Rate Limiting binding
 * (wrangler.toml `[[ratelimits]]`) under the key org + token subject. Over
 * budget: 429 `RATE_LIMITED` with `Retry-After`. Without the binding, no limit.
 * Runs after authentication, so an anonymous flood cannot spend a user's budget.
 * Not on socket upgrades (src/app.ts): the hub that admits a socket counts
 * its connects (MAX_CONNECTS_PER_MINUTE, ConnectBudget).
 */
export const rateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const limiter = c.env.API_RATE_LIMITER;
  if (limiter) {
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
