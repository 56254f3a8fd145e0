import type { BatchItem } from "drizzle-orm/batch";
import type { Config } from "../config";
import type { Db } from "../db/client";
import {
  deliverEvents,
  eventsStatements,
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
  /** The outbox rows of one or many events (a few statements whatever the count; see eventsStatements). */
  statements(ev: OutboundEvent | readonly OutboundEvent[], guard?: EventGuard): BatchItem<"sqlite">[];
  deliver(events: OutboundEvent[], options?: DeliverOptions): Promise<DeliveryReport[]>;
  finishPending(orgId: string, source: string): Promise<void>;
}

export function realtimePort(env: Env, db: Db, config: Config): RealtimePort {
  return {
    statements: (ev, guard) => eventsStatements(db, Array.isArray(ev) ? ev : [ev as OutboundEvent], config.eventTtlSeconds, { guard }),
    deliver: (events, options) => deliverEvents(env, db, events, options),
    finishPending: (orgId, source) => publishPendingFor(env, db, orgId, source),
  };
}
