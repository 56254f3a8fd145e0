import { and, eq, gt, lte } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { idempotencyKeys } from "../db/schema";
import { AppError, badRequest, ErrorCode } from "../errors";
import { canonicalJson, sha256Hex } from "../lib/json";

/** What an idempotent create needs to know about its request. */
export interface IdempotencyRequest {
  orgId: string;
  /** The operation, e.g. "POST /api/v1/alerts": a key is only ever matched within one. */
  scope: string;
  key: string;
  /** The parsed request body; compared by canonical JSON hash. */
  body: unknown;
  ttlSeconds: number;
}

/** The outcome of an idempotent create: the stored or fresh response. */
export interface IdempotentResult<T> {
  status: 201;
  body: T;
  replayed: boolean;
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** Validates an `Idempotency-Key` header value (1–255 visible ASCII characters). */
export function parseIdempotencyKey(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!KEY_PATTERN.test(raw)) {
    throw badRequest(ErrorCode.INVALID_IDEMPOTENCY_KEY, "Idempotency-Key must be 1–255 visible ASCII characters");
  }
  return raw;
}

async function findLive(db: Db, req: IdempotencyRequest, now: Date) {
  return db.query.idempotencyKeys.findFirst({
    where: and(
      eq(idempotencyKeys.orgId, req.orgId),
      eq(idempotencyKeys.scope, req.scope),
      eq(idempotencyKeys.key, req.key),
      gt(idempotencyKeys.expiresAt, now),
    ),
  });
}

function replayOrRefuse<T>(row: { requestHash: string; responseBody: string }, hash: string): IdempotentResult<T> {
  if (row.requestHash !== hash) {
    throw new AppError(422, ErrorCode.IDEMPOTENCY_KEY_REUSED, "This Idempotency-Key was used with a different request body");
  }
  return { status: 201, body: JSON.parse(row.responseBody) as T, replayed: true };
}

/**
 * Runs a create at most once per (org, scope, key).
 *
 * `build` returns the statements that create the resource and the response
 * body; the stored response is written in the same `db.batch` (one D1
 * transaction), so either both exist or neither does. A concurrent twin that
 * loses the race hits the primary key, its whole batch rolls back, and it
 * replays the winner's response.
 */
export async function runIdempotent<T>(
  db: Db,
  req: IdempotencyRequest | undefined,
  build: () => { statements: BatchItem<"sqlite">[]; body: T },
  now = new Date(),
): Promise<IdempotentResult<T>> {
  if (!req) {
    const { statements, body } = build();
    await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
    return { status: 201, body, replayed: false };
  }
  const hash = await sha256Hex(canonicalJson(req.body));
  const existing = await findLive(db, req, now);
  if (existing) return replayOrRefuse<T>(existing, hash);

  const { statements, body } = build();
  const keyMatch = and(eq(idempotencyKeys.orgId, req.orgId), eq(idempotencyKeys.scope, req.scope), eq(idempotencyKeys.key, req.key));
  try {
    await db.batch([
      db.delete(idempotencyKeys).where(and(keyMatch, lte(idempotencyKeys.expiresAt, now))),
      db.insert(idempotencyKeys).values({
        orgId: req.orgId,
        scope: req.scope,
        key: req.key,
        requestHash: hash,
        statusCode: 201,
        responseBody: JSON.stringify(body),
        createdAt: now,
        expiresAt: new Date(now.getTime() + req.ttlSeconds * 1000),
      }),
      ...statements,
    ]);
  } catch (err) {
    const winner = await findLive(db, req, now);
    if (winner) return replayOrRefuse<T>(winner, hash);
    throw err;
  }
  return { status: 201, body, replayed: false };
}

// Expired keys are deleted by the cron in bounded batches: src/retention/purge.ts.
