import type { Context } from "hono";
import { parseIdempotencyKey, type IdempotencyRequest } from "../services/idempotency";
import type { AppEnv } from "../types";

/**
 * The idempotency part of a create request: the validated `Idempotency-Key`
 * header (400 `INVALID_IDEMPOTENCY_KEY` when malformed) with the parsed body
 * and the configured TTL, or undefined when the header is absent.
 */
export async function idempotencyOf(c: Context<AppEnv>): Promise<Omit<IdempotencyRequest, "orgId" | "scope"> | undefined> {
  const key = parseIdempotencyKey(c.req.header("Idempotency-Key"));
  if (key === undefined) return undefined;
  return { key, body: await c.req.json(), ttlSeconds: c.var.deps.config.idempotencyTtlSeconds };
}
