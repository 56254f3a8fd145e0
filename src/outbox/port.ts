import type { Config } from "../config";
import type { Db } from "../db/client";
import type { OutboundEvent } from "./events";
import type { DeliveryReport } from "./hubs";
import { markPublishedIds, publishStaged, stageEvents, type DeliverOptions, type StageOptions, type StagedEvents } from "./publish";
import { PublishedMarks } from "./published-marks";
import { publishPendingFor } from "./sweep";

/**
 * What a domain service needs from realtime, the one way every service
 * publishes: stage the events in the batch of the change that causes them,
 * publish them after the commit, and finish pending events on an idempotent
 * retry. Services depend on this interface, not on Durable Object bindings.
 */
export interface RealtimePort {
  /** The rows of events (a few statements whatever the count; see stageEvents) for the caller's batch. */
  stage(events: readonly OutboundEvent[], options?: StageOptions): StagedEvents;
  /**
   * After the caller's commit: hubs, then queued deliveries; answers once
   * every hub has the events. They are marked published in the background,
   * shared with concurrent requests (see PublishedMarks).
   */
  publish(staged: StagedEvents, options?: Omit<DeliverOptions, "webhookDeliveries" | "marks">): Promise<DeliveryReport[]>;
  finishPending(orgId: string, source: string): Promise<void>;
}

/** The realtime port over this env's hubs and one shard's D1 (built once per shard and isolate: src/deps.ts). */
export function realtimePort(env: Env, db: Db, config: Config): RealtimePort {
  const marks = new PublishedMarks({ write: (ids) => markPublishedIds(db, ids) });
  return {
    stage: (events, options) => stageEvents(db, events, config.eventTtlSeconds, options),
    publish: (staged, options) => publishStaged(env, db, staged, { ...options, marks }),
    finishPending: (orgId, source) => publishPendingFor(env, db, orgId, source),
  };
}
