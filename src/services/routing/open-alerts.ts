import { and, asc, eq, gt, inArray, isNotNull } from "drizzle-orm";
import type { Db } from "../../db/client";
import { alerts } from "../../db/schema";
import type { AlertStatus } from "../../protocol";

/** Statuses whose alerts count toward their assignee's open load (docs/ROUTING.md). */
export const OPEN_STATUSES: readonly AlertStatus[] = ["PENDING", "ACKNOWLEDGED", "IN_PROGRESS"];

/**
 * One page of an org's open assigned alerts, by id after `after`: what the
 * org hub seeds its open loads from on first use (a bounded statement per page).
 */
export async function openAssignedPage(db: Db, orgId: string, after: string, limit: number): Promise<{ id: string; assigneeId: string; updatedAt: number }[]> {
  const rows = await db
    .select({ id: alerts.id, assigneeId: alerts.assigneeId, updatedAt: alerts.updatedAt })
    .from(alerts)
    .where(and(eq(alerts.orgId, orgId), inArray(alerts.status, [...OPEN_STATUSES]), isNotNull(alerts.assigneeId), gt(alerts.id, after)))
    .orderBy(asc(alerts.id))
    .limit(limit);
  return rows.map((r) => ({ id: r.id, assigneeId: r.assigneeId!, updatedAt: r.updatedAt.getTime() }));
}
