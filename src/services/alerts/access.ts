import { and, eq, inArray, or, type SQL } from "drizzle-orm";
import type { Db } from "../../db/client";
import { alertRecipients, alerts, type AlertRow } from "../../db/schema";
import { AppError, ErrorCode, notFound } from "../../errors";
import { hasRole } from "../../lib/roles";
import type { Claims } from "../../types";
import { findUser } from "../users";

/** Who may see and be assigned an alert. */

/** Admins and services see and manage every alert of their org. */
export const isPrivileged = (actor: Claims) => hasRole(actor, "admin", "service");

/**
 * The visibility rule: admins and services see every alert of their org;
 * agents and members see alerts assigned to them or listing them as recipient.
 */
export function visibleTo(db: Db, actor: Claims): SQL | undefined {
  if (isPrivileged(actor)) return eq(alerts.orgId, actor.org);
  const mine = db
    .select({ id: alertRecipients.alertId })
    .from(alertRecipients)
    .where(and(eq(alertRecipients.orgId, actor.org), eq(alertRecipients.userId, actor.sub)));
  return and(eq(alerts.orgId, actor.org), or(eq(alerts.assigneeId, actor.sub), inArray(alerts.id, mine)));
}

/** 404 ALERT_NOT_FOUND (also for another org's id). */
export const alertNotFound = (id: string) => notFound(ErrorCode.ALERT_NOT_FOUND, `No alert ${id} in your organization`);

/** The alert row, if the actor may see it (404 otherwise). */
export async function loadVisible(db: Db, actor: Claims, id: string): Promise<AlertRow> {
  const row = await db.query.alerts.findFirst({ where: and(eq(alerts.id, id), visibleTo(db, actor)) });
  if (!row) throw alertNotFound(id);
  return row;
}

/** 422 UNKNOWN_ASSIGNEE unless `agentId` is a person in the org's directory. */
export async function requireAssignableIn(db: Db, orgId: string, agentId: string): Promise<void> {
  requireAssignable(await findUser(db, orgId, agentId), agentId);
}

/** 422 UNKNOWN_ASSIGNEE unless the directory row is a person (not a service). */
export function requireAssignable(user: { role: string } | undefined, agentId: string): void {
  if (!user || user.role === "service") {
    throw new AppError(422, ErrorCode.UNKNOWN_ASSIGNEE, `${agentId} is not a person in your organization's directory`, {
      agentId,
    });
  }
}
