import { createRoute, OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import { badRequest, ErrorCode, forbidden } from "../errors";
import { requireJsonBody } from "../middleware/json-body";
import { hasRole } from "./roles";
import type { AppEnv, Role } from "../types";

/**
 * A router whose failed validations (body, query, params, headers) all become
 * 400 `VALIDATION_FAILED` with the zod issues in `details`.
 */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        throw badRequest(ErrorCode.VALIDATION_FAILED, `Invalid ${result.target === "json" ? "body" : result.target}`, {
          target: result.target,
          issues: result.error.issues.map((i) => ({ path: i.path.join("."), code: i.code, message: i.message })),
        });
      }
    },
  });
}

/** The security requirement every /api/v1 route declares in the OpenAPI document. */
export const bearerSecurity = [{ bearerAuth: [] as string[] }];

/** `content` of a JSON request body or response in a route definition. */
export const jsonContent = <T>(schema: T) => ({ "application/json": { schema } });

/**
 * A route-level middleware that answers 403 `FORBIDDEN` (no details) unless
 * the token's role is one of `roles`. Put it in a route's `middleware`: it runs
 * before the route's validators, so a caller without the role never learns
 * anything about the body, query or path it would have needed to send.
 * Routes that allow a role only conditionally (an agent on a visible alert)
 * keep that check in their service.
 */
export function requireRole(...roles: readonly [Role, ...Role[]]): MiddlewareHandler<AppEnv> {
  const message = `This needs one of the roles: ${roles.join(", ")}`;
  return createMiddleware<AppEnv>(async (c, next) => {
    if (!hasRole(c.var.auth, ...roles)) throw forbidden(message);
    await next();
  });
}

/**
 * `createRoute` for Herald's routes: every operation names a stable camelCase
 * `operationId` (client generators name their methods after it), and a route
 * that declares a JSON body requires one (`required: true` in the document;
 * `requireJsonBody` at run time, after the route's own middleware such as
 * `requireRole`, before any validator).
 */
export function defineRoute<P extends string, R extends Omit<RouteConfig, "path"> & { path: P; operationId: string }>(
  config: R,
): ReturnType<typeof createRoute<P, R>> {
  const body = config.request?.body;
  if (!body?.content["application/json"]) return createRoute<P, R>(config);
  const own = config.middleware === undefined ? [] : Array.isArray(config.middleware) ? config.middleware : [config.middleware];
  return createRoute<P, R>({
    ...config,
    request: { ...config.request, body: { ...body, required: true } },
    middleware: [...own, requireJsonBody],
  });
}
