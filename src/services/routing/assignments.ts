import { and, asc, eq } from "drizzle-orm";
import type { Db } from "../../db/client";
import { alertAssignments, type AlertAssignmentRow } from "../../db/schema";
import { newId } from "../../lib/ids";
import type { Assignment, AssignmentKind, RoutingStrategy } from "../../protocol";
import type { Claims } from "../../types";
import { loadVisible } from "../alerts/access";

/** Most assignments `GET /api/v1/alerts/{id}/assignments` lists (oldest first). */
export const MAX_LISTED_ASSIGNMENTS = 500;

/** What an assignment records; the builder fills the id, the level (0) and the time. */
export interface AssignmentInput {
  orgId: string;
  alertId: string;
  kind: AssignmentKind;
  /** The agent it went to; null for `queued` (and an escalation that found nobody). */
  agentId: string | null;
  previousAgentId?: string | null;
  /** The rule that decided, as it was then (its version); null for a manual assignment. */
  rule?: { id: string; name: string; version: number; strategy: RoutingStrategy } | null;
  reason: string;
  level?: number;
  /** Who made it: the creator of the alert, the person or service who reassigned, or `system:escalation`. */
  actorId: string;
  now?: Date;
  /** A fixed id (tests, an idempotent retry); default a new `asg_…` ULID. */
  id?: string;
}

/**
 * The `alert_assignments` row of an assignment (pure): put
 * `db.insert(alertAssignments).values(row)` (or {@link recordAssignment}) in
 * the same D1 batch as the change of the alert, and publish
 * `toAssignment(row)` with the event.
 */
export function assignmentRow(input: AssignmentInput): AlertAssignmentRow {
  const now = input.now ?? new Date();
  return {
    id: input.id ?? newId("asg", now.getTime()),
    orgId: input.orgId,
    alertId: input.alertId,
    kind: input.kind,
    agentId: input.agentId,
    previousAgentId: input.previousAgentId ?? null,
    ruleId: input.rule?.id ?? null,
    ruleName: input.rule?.name ?? null,
    ruleVersion: input.rule?.version ?? null,
    strategy: input.rule?.strategy ?? null,
    reason: input.reason,
    level: input.level ?? 0,
    actorId: input.actorId,
    createdAt: now,
  };
}

/** The insert statement of an assignment row, for the caller's D1 batch. */
export function recordAssignment(db: Db, row: AlertAssignmentRow) {
  return db.insert(alertAssignments).values(row);
}

/** The protocol shape of an assignment (REST and the `assignment` of alert events). */
export function toAssignment(row: AlertAssignmentRow): Assignment {
  return {
    id: row.id,
    alertId: row.alertId,
    kind: row.kind,
    agentId: row.agentId,
    previousAgentId: row.previousAgentId,
    ruleId: row.ruleId,
    ruleName: row.ruleName,
    ruleVersion: row.ruleVersion,
    strategy: row.strategy,
    reason: row.reason,
    level: row.level,
    actorId: row.actorId,
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * An alert's assignments, oldest first (at most {@link MAX_LISTED_ASSIGNMENTS};
 * `truncated` says when there are more), for whoever may see the alert
 * (`GET /alerts/{id}`'s rule: 404 ALERT_NOT_FOUND otherwise, another org's included).
 */
export async function listAssignments(db: Db, actor: Claims, alertId: string): Promise<{ items: Assignment[]; truncated: boolean }> {
  await loadVisible(db, actor, alertId);
  const rows = await db
    .select()
    .from(alertAssignments)
    .where(and(eq(alertAssignments.orgId, actor.org), eq(alertAssignments.alertId, alertId)))
    .orderBy(asc(alertAssignments.createdAt), asc(alertAssignments.id))
    .limit(MAX_LISTED_ASSIGNMENTS + 1);
  return { items: rows.slice(0, MAX_LISTED_ASSIGNMENTS).map(toAssignment), truncated: rows.length > MAX_LISTED_ASSIGNMENTS };
}
