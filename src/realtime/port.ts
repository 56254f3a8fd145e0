import type { BatchItem } from "drizzle-orm/batch";
import type { Config } from "../config";
import type { Db } from "../db/client";
import {
  deliverEvents,
  eventStatements,
  publishPendingFor,
  type DeliverOptions,
  type DeliveryReport,
  type EventGuard,
  type OutboundEvent,
} from "./outbox";

/**
 * What a domain service needs from realtime: rows for its batch, delivery
 * after the commit, and completion of pending events on an idempotent retry.
 * Services depend on this interface, not on Durable Object bindings.
 */
export interface RealtimePort {
  statements(ev: OutboundEvent, guard?: EventGuard): BatchItem<"sqlite">[];
  deliver(events: OutboundEvent[], options?: DeliverOptions): Promise<DeliveryReport[]>;
  finishPending(orgId: string, source: string): Promise<void>;
}

export function realtimePort(env: Env, db: Db, config: Config): RealtimePort {
  return {
    statements: (ev, guard) => eventStatements(db, ev, config.eventTtlSeconds, { guard }),
    deliver: (events, options) => deliverEvents(env, db, events, options),
    finishPending: (orgId, source) => publishPendingFor(env, db, orgId, source),
  };
}
