import { and, asc, eq, gte, isNull, lt } from "drizzle-orm";
import type { Db } from "../../db/client";
import { deliveries, notifications } from "../../db/schema";
import type { AlertDelivery } from "../../schemas/alerts";
import type { Claims } from "../../types";
import { toDelivery } from "../notifications";
import { isPrivileged, loadVisible } from "./access";

/**
 * Most deliveries `GET /alerts/{id}/deliveries` lists. An alert nobody is
 * assigned to notifies up to MAX_ADMIN_NOTIFICATIONS admins (1,000 by
 * default), each on several channels; past this the answer says `truncated`.
 */
export const MAX_ALERT_DELIVERIES = 500;

/**
 * The notification sources an alert causes are `alert:<id>:new` and
 * `alert:<id>:assigned:<change>` (create.ts, notices.ts): every one starts with
 * `alert:<id>:` and sorts before `alert:<id>;` (';' follows ':'), a range the
 * (org_id, source) index serves.
 */
const sourceRange = (alertId: string) => [`alert:${alertId}:`, `alert:${alertId};`] as const;

/**
 * The outbound deliveries (email, SMS) of the notifications an alert caused,
 * oldest first, at most {@link MAX_ALERT_DELIVERIES}. The alert must be
 * visible to the actor (404 `ALERT_NOT_FOUND` otherwise, also for another
 * org's id). Admins and services see every recipient's deliveries; agents and
 * members only those of their own notifications, and not of one they deleted
 * (as `GET /notifications/{id}/deliveries`).
 */
export async function alertDeliveries(db: Db, actor: Claims, alertId: string): Promise<{ items: AlertDelivery[]; truncated: boolean }> {
  await loadVisible(db, actor, alertId);
  const [from, to] = sourceRange(alertId);
  const rows = await db
    .select({ delivery: deliveries, notificationId: notifications.id, userId: notifications.userId })
    .from(notifications)
    .innerJoin(deliveries, and(eq(deliveries.notificationId, notifications.id), eq(deliveries.orgId, notifications.orgId)))
    .where(
      and(
        eq(notifications.orgId, actor.org),
        gte(notifications.source, from),
        lt(notifications.source, to),
        isPrivileged(actor) ? undefined : and(eq(notifications.userId, actor.sub), isNull(notifications.deletedAt)),
      ),
    )
    .orderBy(asc(deliveries.createdAt), asc(deliveries.id))
    .limit(MAX_ALERT_DELIVERIES + 1);
  return {
    items: rows.slice(0, MAX_ALERT_DELIVERIES).map((r) => ({ ...toDelivery(r.delivery), notificationId: r.notificationId, userId: r.userId })),
    truncated: rows.length > MAX_ALERT_DELIVERIES,
  };
}
