import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client";
import { idList, insertJsonRows } from "../db/sql";
import { deliveries, webhooks, type DeliveryRow, type WebhookRow } from "../db/schema";
import { ErrorCode, notYetDelivered } from "../errors";
import { newId } from "../lib/ids";
import { Events, NotificationEvents } from "../protocol";
import { enqueueDeliveries } from "../delivery/enqueue";
import type { OutboundEvent } from "./events";

/**
 * Webhook fan-out, the one place that plans webhook deliveries: one
 * `deliveries` row per (matching endpoint, event). The outbox plans them with
 * the events when the caller read the endpoints in its read batch
 * (`stageEvents`), and otherwise after the hubs accepted the events and
 * before they are marked published (`enqueueWebhookDeliveries`), so a crash
 * in between re-runs it from the retry or the cron sweep; the unique dedupe
 * key "w:<webhook>:<event>" makes that re-run insert nothing.
 */

/**
 * Internal events a bare "*" does not include: presence flips with every
 * socket, stats:updated arrives every second per busy org, and the inbox
 * events (notification:*, read/seen/archived per click, one set per user) are
 * personal state of a user's bell rather than business events. Under "*" they
 * would flood a CRM with noise and burn queue operations; an endpoint that
 * wants them names them ("presence:*", "stats:updated", "notification:new").
 */
const prefixOf = (name: string) => `${name.split(":")[0]}:`;
const INTERNAL_PREFIXES = [prefixOf(Events.presenceOnline), prefixOf(NotificationEvents.new)];
const INTERNAL_TYPES: ReadonlySet<string> = new Set([Events.statsUpdated, NotificationEvents.unreadCount]);
const isInternal = (type: string) => INTERNAL_TYPES.has(type) || INTERNAL_PREFIXES.some((p) => type.startsWith(p));

/**
 * Whether an endpoint pattern selects an event type: "*" (every event except
 * the internal ones above), a prefix "alert:*" (alert:new,
 * alert:assigned, …), or an exact name.
 */
export function patternMatches(pattern: string, type: string): boolean {
  if (pattern === "*") return !isInternal(type);
  if (pattern.endsWith(":*")) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** The JSON body every webhook delivery POSTs (stored as the delivery's payload, signed as is). */
export interface WebhookPayload {
  [key: string]: unknown;
  id: string;
  type: string;
  /** ISO-8601 time of the event. */
  timestamp: string;
  organizationId: string;
  data: unknown;
}

/** The dedupe key of a webhook delivery: one per (endpoint, event), whatever re-runs happen. */
export const webhookDedupeKey = (webhookId: string, eventId: string) => `w:${webhookId}:${eventId}`;

/** A queued delivery row of one event to one endpoint. */
export function newWebhookDelivery(
  endpoint: Pick<WebhookRow, "id" | "orgId" | "url">,
  event: { id: string; type: string; ts: number; data: unknown },
  now: Date,
): typeof deliveries.$inferInsert {
  const payload: WebhookPayload = {
    id: event.id,
    type: event.type,
    timestamp: new Date(event.ts).toISOString(),
    organizationId: endpoint.orgId,
    data: event.data ?? null,
  };
  return {
    id: newId("dlv", now.getTime()),
    orgId: endpoint.orgId,
    dedupeKey: webhookDedupeKey(endpoint.id, event.id),
    notificationId: null,
    webhookId: endpoint.id,
    eventId: event.id,
    userId: null,
    channel: "webhook",
    address: endpoint.url,
    status: "queued",
    attempts: 0,
    provider: "webhook",
    providerMessageId: null,
    lastError: null,
    payload,
    scheduledFor: null,
    createdAt: now,
    updatedAt: now,
    sentAt: null,
  };
}

/**
 * Inserts webhook delivery rows (insert or ignore on the dedupe key) in one
 * D1 transaction, then queues every one of them that is still `queued`: the
 * new ones, and any an earlier run inserted but may not have managed to
 * queue. A duplicate queue message is harmless (the consumer never sends a
 * delivery twice once it is `sent`). Returns the queued rows.
 */
export async function insertAndEnqueueWebhookDeliveries(
  env: Env,
  db: Db,
  rows: (typeof deliveries.$inferInsert)[],
): Promise<Pick<DeliveryRow, "id" | "orgId" | "eventId" | "webhookId">[]> {
  if (rows.length === 0) return [];
  const inserts = webhookDeliveryStatements(db, rows);
  await db.batch(inserts as [(typeof inserts)[number], ...typeof inserts]);

  const pending = await db
    .select({ id: deliveries.id, orgId: deliveries.orgId, eventId: deliveries.eventId, webhookId: deliveries.webhookId })
    .from(deliveries)
    .where(and(inArray(deliveries.dedupeKey, idList(rows.map((r) => r.dedupeKey))), eq(deliveries.status, "queued")));
  await enqueueDeliveries(env, pending.map((d) => ({ ...d, status: "queued", scheduledFor: null })));
  return pending;
}

/** An enabled endpoint, as fan-out needs it. */
export type WebhookEndpoint = Pick<WebhookRow, "id" | "orgId" | "url" | "events">;

/** The enabled endpoints of an org, as one query that can join a `db.batch`. */
export function enabledEndpointsQuery(db: Db, orgId: string) {
  return db
    .select({ id: webhooks.id, orgId: webhooks.orgId, url: webhooks.url, events: webhooks.events })
    .from(webhooks)
    .where(and(eq(webhooks.orgId, orgId), eq(webhooks.enabled, true)));
}

/** One queued delivery per (endpoint whose patterns match, event) of the same org. */
export function planWebhookDeliveries(endpoints: WebhookEndpoint[], events: OutboundEvent[], now: Date): (typeof deliveries.$inferInsert)[] {
  const rows: (typeof deliveries.$inferInsert)[] = [];
  for (const ev of events) {
    for (const ep of endpoints) {
      if (ep.orgId === ev.orgId && ep.events.some((p) => patternMatches(p, ev.type))) rows.push(newWebhookDelivery(ep, ev, now));
    }
  }
  return rows;
}

/** Insert-or-ignore statements (on the dedupe key) for delivery rows, for the caller's batch (rows as JSON: one parameter per statement). */
export function webhookDeliveryStatements(db: Db, rows: (typeof deliveries.$inferInsert)[]) {
  return insertJsonRows(db, deliveries, rows, { onConflictDoNothing: { target: deliveries.dedupeKey } });
}

/**
 * Creates one delivery per (enabled endpoint whose patterns match, event) for
 * these events and queues them: the path of events whose deliveries were not
 * written with them (re-delivery by the sweep or an idempotent retry, events
 * of services that do not plan them). Reads the endpoints once (nothing is
 * cached across requests, so an endpoint change applies to the very next
 * event) and returns at once when there are none.
 *
 * A failure (D1 or the queue) leaves the events unpublished, so the
 * idempotent retry or the cron sweep runs this again; it surfaces as 503 with
 * Retry-After, like a hub that did not confirm.
 */
export async function enqueueWebhookDeliveries(env: Env, db: Db, events: OutboundEvent[]): Promise<void> {
  if (events.length === 0) return;
  try {
    const orgIds = [...new Set(events.map((e) => e.orgId))];
    const endpoints = (await Promise.all(orgIds.map((org) => enabledEndpointsQuery(db, org)))).flat();
    if (endpoints.length === 0) return;
    await insertAndEnqueueWebhookDeliveries(env, db, planWebhookDeliveries(endpoints, events, new Date()));
  } catch (err) {
    console.error("herald: queuing webhook deliveries failed; the events stay unpublished for retry", err);
    throw notYetDelivered(ErrorCode.SERVICE_UNAVAILABLE, "its webhook deliveries are not queued yet", events.map((e) => e.id));
  }
}
