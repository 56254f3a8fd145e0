import { and, eq, inArray, lt, or, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { deliveries, notifications, type DeliveryRow } from "../../db/schema";
import { idList } from "../../db/sql";
import { MAX_QUEUE_DELAY_SECONDS } from "../../delivery/backoff";
import { enqueueDeliveries } from "../../delivery/enqueue";
import { hasRole } from "../../lib/roles";
import type { Claims } from "../../types";
import { notificationNotFound, type NotificationDeps } from "./model";
import { NOT_FENCED } from "../../sharding/fence";

/**
 * The outbound deliveries of notifications (email, SMS): re-queuing what an
 * attempt left undone, the delivery log of a notification, and the cron that
 * re-queues deliveries whose queue message was lost.
 */

/** Queues the still-queued or deferred deliveries of some notifications again. */
export async function requeueDeliveriesOf(deps: NotificationDeps, orgId: string, notificationIds: string[]): Promise<void> {
  const rows = await deps.db
    .select()
    .from(deliveries)
    .where(and(eq(deliveries.orgId, orgId), inArray(deliveries.notificationId, idList(notificationIds)), inArray(deliveries.status, ["queued", "deferred"])));
  await enqueueDeliveries(deps.env, rows);
}

/**
 * Finishes the notifications of an internal cause (`source`) that a failed
 * attempt may have left undone: their queued email/SMS deliveries. (Their
 * realtime events share the cause's source and are finished with it.)
 */
export async function requeueDeliveriesOfSource(deps: NotificationDeps, orgId: string, source: string): Promise<void> {
  const ids = await deps.db
    .select({ id: notifications.id })
    .from(notifications)
    .where(and(eq(notifications.orgId, orgId), eq(notifications.source, source)));
  if (ids.length > 0) await requeueDeliveriesOf(deps, orgId, ids.map((r) => r.id));
}

/** The delivery rows of a notification: admins and services, or its recipient. */
export async function notificationDeliveries(db: Db, actor: Claims, id: string) {
  const row = await db.query.notifications.findFirst({ where: and(eq(notifications.id, id), eq(notifications.orgId, actor.org)) });
  const privileged = hasRole(actor, "admin", "service");
  // The recipient's view ends with the delete; admins and services keep the audit trail.
  if (!row || (!privileged && (row.userId !== actor.sub || row.deletedAt !== null))) throw notificationNotFound(id);
  const rows = await db.select().from(deliveries).where(eq(deliveries.notificationId, id)).orderBy(deliveries.createdAt, deliveries.channel);
  return rows.map(toDelivery);
}

/** API shape of a delivery row (the `Delivery` schema). */
export function toDelivery(d: DeliveryRow) {
  return {
    id: d.id,
    channel: d.channel,
    address: d.address,
    status: d.status,
    attempts: d.attempts,
    provider: d.provider,
    providerMessageId: d.providerMessageId,
    lastError: d.lastError,
    scheduledFor: d.scheduledFor?.toISOString() ?? null,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
    sentAt: d.sentAt?.toISOString() ?? null,
  };
}

/**
 * Cron: re-queues deliveries whose message was lost (e.g. the Worker died
 * between the commit and the enqueue): never attempted and idle for 15
 * minutes, or attempted but idle for longer than any queued retry can wait
 * (13 h > the 12 h delay cap), so a live retry chain is never doubled.
 */
export async function requeueStaleDeliveries(env: Env, db: Db, olderThanMs = 15 * 60_000, now = Date.now()): Promise<number> {
  const rows = await db
    .select()
    .from(deliveries)
    .where(
      and(
        inArray(deliveries.status, ["queued", "deferred"]),
        sql.raw(NOT_FENCED),
        or(
          and(eq(deliveries.attempts, 0), lt(deliveries.updatedAt, new Date(now - olderThanMs))),
          lt(deliveries.updatedAt, new Date(now - (MAX_QUEUE_DELAY_SECONDS + 3_600) * 1000)),
        ),
      ),
    )
    .limit(200);
  const due = rows.filter((d) => !d.scheduledFor || d.scheduledFor.getTime() <= now + 60_000);
  if (due.length === 0) return 0;
  await db
    .update(deliveries)
    .set({ updatedAt: new Date(now) })
    .where(inArray(deliveries.id, idList(due.map((d) => d.id))));
  await enqueueDeliveries(env, due, now);
  return due.length;
}
