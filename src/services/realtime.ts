import type { Config } from "../config";
import type { Db } from "../db/client";
import { AppError, ErrorCode } from "../errors";
import { newId } from "../lib/ids";
import { assertRole } from "../lib/roles";
import { assertDataSize } from "../lib/size-limit";
import type { OutboundEvent } from "../outbox/events";
import type { RealtimePort } from "../outbox/port";
import type { BroadcastInput, BroadcastResult } from "../schemas/realtime";
import type { Claims } from "../types";
import { runIdempotent, type IdempotencyRequest } from "./idempotency";

export interface BroadcastDeps {
  db: Db;
  realtime: RealtimePort;
  config: Config;
}

/**
 * Publishes a producer's event to user streams and/or one org channel
 * (admins and services). Answers after every target hub appended it; with an
 * Idempotency-Key a retry never publishes twice and finishes a publish that a
 * failed attempt left pending.
 */
export async function broadcast(
  deps: BroadcastDeps,
  actor: Claims,
  input: BroadcastInput,
  idempotency?: Omit<IdempotencyRequest, "orgId" | "scope">,
  now = new Date(),
): Promise<{ body: BroadcastResult; replayed: boolean }> {
  assertRole(actor, ["admin", "service"], "Only admins and services broadcast");
  const { maxBroadcastDataBytes, maxBroadcastUsers } = deps.config;
  assertDataSize(input.data ?? null, maxBroadcastDataBytes);
  const userIds = input.target.userIds ?? [];
  if (userIds.length > maxBroadcastUsers) {
    throw new AppError(400, ErrorCode.VALIDATION_FAILED, `At most ${maxBroadcastUsers} userIds per broadcast`, {
      target: "json",
      issues: [{ path: "target.userIds", code: "too_big", message: `At most ${maxBroadcastUsers}` }],
    });
  }
  const id = newId("evt", now.getTime());
  const event: OutboundEvent = {
    id,
    orgId: actor.org,
    type: input.event,
    data: input.data ?? null,
    ts: now.getTime(),
    userIds,
    ...(input.target.channel !== undefined && { channel: { name: input.target.channel, scope: input.target.scope ?? {} } }),
    source: `broadcast:${id}`,
  };
  const staged = deps.realtime.stage([event]);
  const stored = await runIdempotent<BroadcastResult>(
    deps.db,
    idempotency && { ...idempotency, orgId: actor.org, scope: "POST /api/v1/realtime/broadcast" },
    () => ({
      statements: staged.statements,
      body: { id, event: input.event, reached: 0, userSeqs: {}, orgSeq: null },
    }),
    now,
  );
  if (stored.replayed) {
    await deps.realtime.finishPending(actor.org, `broadcast:${stored.body.id}`);
    return { body: stored.body, replayed: true };
  }
  const [report] = await deps.realtime.publish(staged);
  return {
    body: { id, event: input.event, reached: report?.reached ?? 0, userSeqs: report?.userSeqs ?? {}, orgSeq: report?.orgSeq ?? null },
    replayed: false,
  };
}
