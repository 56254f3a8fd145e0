import { OpenAPIHono } from "@hono/zod-openapi";
import { badRequest, ErrorCode } from "../errors";
import type { AppEnv } from "../types";

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
