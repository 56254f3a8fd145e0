import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getConfig } from "../config";
import { parseIdempotencyKey, type IdempotencyRequest } from "../services/idempotency";
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

/**
 * The idempotency part of a create request: the validated `Idempotency-Key`
 * header (400 `INVALID_IDEMPOTENCY_KEY` when malformed) with the parsed body
 * and the configured TTL, or undefined when the header is absent.
 */
export async function idempotencyOf(c: Context<AppEnv>): Promise<Omit<IdempotencyRequest, "orgId" | "scope"> | undefined> {
  const key = parseIdempotencyKey(c.req.header("Idempotency-Key"));
  if (key === undefined) return undefined;
  return { key, body: await c.req.json(), ttlSeconds: getConfig(c.env).idempotencyTtlSeconds };
}
