import { inArray } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { idList } from "../db/sql";
import { realtimeEvents } from "../db/schema";
import { enqueueDeliveries, type QueueableDelivery } from "../delivery/enqueue";
import { ErrorCode, notYetDelivered } from "../errors";
import type { PublishedMarks } from "./published-marks";
import { eventsStatements, type EventGuard, type OutboundEvent } from "./events";
import { deliverToHubs, type DeliveryReport, type RefreshUnread } from "./hubs";
import { enqueueWebhookDeliveries, planWebhookDeliveries, webhookDeliveryStatements, type WebhookEndpoint } from "./webhooks";

/**
 * Publishing, as a transactional outbox; every service does it the same way:
 *
 * 1. `stageEvents` turns events into D1 rows for the same `db.batch` as the
 *    change that caused them, so an event exists iff the change does; when
 *    the caller read the org's webhook endpoints in its read batch, the
 *    events' webhook deliveries are planned here and join the batch too;
 * 2. after the commit, `publishStaged` (`deliverEvents`) hands the events to
 *    every target hub (each appends to its log before any socket sees it, and
 *    ignores an id it already has), queues the deliveries written with them,
 *    creates the webhook deliveries that were not (insert-or-ignore per
 *    endpoint and event) and marks the events published (a request's
 *    publish in the background, shared with concurrent requests:
 *    PublishedMarks);
 * 3. if a hub cannot be reached the caller answers 503 with Retry-After; the
 *    event stays unpublished, and an idempotent retry (`publishPendingFor`) or
 *    the cron sweep (`sweepUnpublished`) delivers it later, exactly once per
 *    stream thanks to the hubs' dedupe by id; the sweep gives an event up
 *    (`failed_at`, logged) after OUTBOX_MAX_ATTEMPTS tries.
 */

/** How events are staged for the caller's batch. */
export interface StageOptions {
  /** The rows apply only if the alert's change did (the event rows only: do not combine with `endpoints`). */
  guard?: EventGuard;
  /** The org's enabled webhook endpoints, read in the caller's read batch: the events' webhook deliveries join the batch. */
  endpoints?: WebhookEndpoint[];
  /** The time of the webhook delivery rows. */
  now?: Date;
}

/** Events staged for the caller's batch, and what publishing them after the commit needs. */
export interface StagedEvents {
  events: OutboundEvent[];
  statements: BatchItem<"sqlite">[];
  /** The events' webhook deliveries written in `statements` (staged with `endpoints`); otherwise they are created when published. */
  webhookDeliveries?: QueueableDelivery[];
}

/** The rows of events (and, with `endpoints`, of their webhook deliveries) for the caller's batch. */
export function stageEvents(db: Db, events: readonly OutboundEvent[], ttlSeconds: number, options: StageOptions = {}): StagedEvents {
  const { guard, endpoints, now = new Date() } = options;
  if (guard && endpoints) throw new Error("stageEvents: webhook deliveries cannot be conditional on a guard");
  const list = [...events];
  const statements = eventsStatements(db, list, ttlSeconds, { guard });
  if (!endpoints) return { events: list, statements };
  const rows = planWebhookDeliveries(endpoints, list, now);
  return {
    events: list,
    statements: [...statements, ...webhookDeliveryStatements(db, rows)],
    webhookDeliveries: rows.map((r) => ({ id: r.id, orgId: r.orgId, status: r.status, scheduledFor: r.scheduledFor ?? null })),
  };
}

/** What a delivery does besides appending the events. */
export interface DeliverOptions {
  /** Users whose `unread:count` badge changed: their hubs re-send it (see UserHub.refreshUnread). */
  refreshUnread?: RefreshUnread;
  /**
   * Deliveries the caller wrote in the same batch as the events (email, SMS):
   * queued after the hubs, before the events are marked published.
   */
  queue?: QueueableDelivery[];
  /**
   * The events' webhook deliveries, when they were written with the events
   * (see stageEvents): queued after `queue`. Without it they are created and
   * queued here.
   */
  webhookDeliveries?: QueueableDelivery[];
  /**
   * Marks the events published in the background, many requests per
   * statement (a request's publish, through the port). Without it they are
   * marked before this returns (the sweep, an idempotent retry).
   */
  marks?: PublishedMarks;
}

/**
 * Delivers events (already in D1) and marks them published (now, or with
 * `marks` in the background). If a hub fails,
 * the events stay unpublished for a retry or the sweep, and this throws 503
 * `REALTIME_UNAVAILABLE` with Retry-After.
 */
export async function deliverEvents(env: Env, db: Db, events: OutboundEvent[], options: DeliverOptions = {}): Promise<DeliveryReport[]> {
  // No events can still mean work: badges and queued deliveries (e.g. notifications with realtime turned off).
  let reports: DeliveryReport[];
  try {
    reports = await deliverToHubs(env, events, options.refreshUnread);
  } catch (err) {
    console.error("herald: realtime delivery failed; the events stay queued for retry", err);
    throw notYetDelivered(ErrorCode.REALTIME_UNAVAILABLE, "realtime delivery is not confirmed yet", events.map((e) => e.id));
  }
  try {
    await enqueueDeliveries(env, [...(options.queue ?? []), ...(options.webhookDeliveries ?? [])]);
  } catch (err) {
    console.error("herald: queuing deliveries failed; the events stay unpublished for retry", err);
    throw notYetDelivered(ErrorCode.SERVICE_UNAVAILABLE, "its deliveries are not queued yet", events.map((e) => e.id));
  }
  if (events.length === 0) return reports;
  // Webhook endpoints subscribed to these events get their deliveries queued
  // (idempotent per endpoint and event, so a re-delivery never doubles them).
  if (!options.webhookDeliveries) await enqueueWebhookDeliveries(env, db, events);
  if (options.marks) options.marks.add(events);
  else await markPublished(db, events);
  return reports;
}

/** Publishes staged events after the caller's commit (see deliverEvents). */
export function publishStaged(env: Env, db: Db, staged: StagedEvents, options: Omit<DeliverOptions, "webhookDeliveries"> = {}): Promise<DeliveryReport[]> {
  return deliverEvents(env, db, staged.events, { ...options, ...(staged.webhookDeliveries && { webhookDeliveries: staged.webhookDeliveries }) });
}

/** Marks events published: the sweep leaves them alone from now on. */
export async function markPublished(db: Db, events: OutboundEvent[]): Promise<void> {
  await markPublishedIds(db, events.map((e) => e.id));
}

/** Marks events published by id, in one statement (the ids travel as one JSON parameter). */
export async function markPublishedIds(db: Db, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(realtimeEvents)
    .set({ publishedAt: new Date() })
    .where(inArray(realtimeEvents.id, idList(ids)));
}
