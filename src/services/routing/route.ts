import { and, asc, eq, exists, gt, inArray, isNull, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import {
  alertAssignments,
  alerts,
  idempotencyKeys,
  routingRules,
  users,
  type AlertAssignmentRow,
  type AlertRow,
  type RoutingRuleRow,
  type UserRow,
} from "../../db/schema";
import { AppError, ErrorCode, forbidden } from "../../errors";
import { Events, type AlertEventData } from "../../protocol";
import type { AgentCandidate, RoutableAlert, RoutingDecision } from "../../routing/decide";
import type { Alert, BulkResult, CreateAlertInput } from "../../schemas/alerts";
import type { Claims } from "../../types";
import { isPrivileged, loadVisible, requireAssignable } from "../alerts/access";
import { insertIfApplied } from "../../db/sql";
import { applyChange } from "../alerts/changes";
import { alertEvent } from "../alerts/events";
import { toAlert, type AlertDeps } from "../alerts/model";
import { notifyAssigned } from "../alerts/notices";
import { assignmentRow, toAssignment } from "./assignments";
import { OPEN_STATUSES } from "./open-alerts";
import type { Reservation } from "../../realtime/router";

/**
 * The Worker's side of routing (docs/ROUTING.md): reading an org's rules and
 * agents from D1, asking the org hub to decide (and reserve), and the
 * routing actions of the API: preview, reassign, bulk assign.
 */

/** An org's routing inputs as D1 has them. */
export interface RoutingInputs {
  /** Enabled rules, in position order. */
  rules: RoutingRuleRow[];
  agents: AgentCandidate[];
  /** The agents' directory rows, by id. */
  people: Map<string, UserRow>;
  /** An idempotency key given with the request is already stored: the create will replay, so nothing is routed. */
  replay: boolean;
}

/** A directory row as a routing candidate. */
export const toCandidate = (u: UserRow): AgentCandidate => ({
  id: u.id,
  name: u.name,
  role: u.role,
  territories: u.territories,
  skills: u.skills,
  capacity: u.capacity,
  availability: u.availability,
});

/**
 * Reads, in one D1 round trip, the org's enabled rules, its agents (admins
 * and agents of the directory; none are read when the org has no enabled
 * rule, so a create in an org without routing does not read its directory)
 * and, for an idempotent create, whether its key is already stored.
 */
export async function loadRoutingInputs(db: Db, orgId: string, idempotency?: { scope: string; key: string }, now = new Date()): Promise<RoutingInputs> {
  const [rules, agentRows, keys] = await db.batch([
    db
      .select()
      .from(routingRules)
      .where(and(eq(routingRules.orgId, orgId), eq(routingRules.enabled, true)))
      .orderBy(asc(routingRules.position), asc(routingRules.id)),
    db
      .select()
      .from(users)
      .where(
        and(
          eq(users.orgId, orgId),
          inArray(users.role, ["agent", "admin"]),
          exists(db.select({ one: sql`1` }).from(routingRules).where(and(eq(routingRules.orgId, orgId), eq(routingRules.enabled, true)))),
        ),
      )
      .orderBy(asc(users.id)),
    db
      .select({ key: idempotencyKeys.key })
      .from(idempotencyKeys)
      .where(
        idempotency === undefined
          ? sql`0`
          : and(
              eq(idempotencyKeys.orgId, orgId),
              eq(idempotencyKeys.scope, idempotency.scope),
              eq(idempotencyKeys.key, idempotency.key),
              gt(idempotencyKeys.expiresAt, now),
            ),
      ),
  ]);
  return { rules, agents: agentRows.map(toCandidate), people: new Map(agentRows.map((u) => [u.id, u])), replay: keys.length > 0 };
}

/** What routing reads of an alert (or of the body of a create). */
export function toRoutable(id: string, a: Pick<CreateAlertInput, "alertType" | "priority" | "data"> & { confidence?: number | null }): RoutableAlert {
  return { id, alertType: a.alertType, priority: a.priority, confidence: a.confidence ?? null, data: a.data };
}

/** The assignment a create records when routing ran: `routed` to the agent, or `queued` with the reason. */
export function routedAssignment(orgId: string, alertId: string, decision: RoutingDecision, actor: Claims, now: Date): AlertAssignmentRow {
  return assignmentRow({
    orgId,
    alertId,
    kind: decision.agentId ? "routed" : "queued",
    agentId: decision.agentId,
    rule: decision.rule,
    reason: decision.reason,
    actorId: actor.sub,
    now,
  });
}

/** The profile `POST /api/v1/routing/preview` shows of the chosen agent. */
export interface PreviewAgent {
  id: string;
  name: string | null;
  email: string | null;
  role: UserRow["role"];
  territories: string[];
  skills: string[];
  capacity: number | null;
  availability: UserRow["availability"];
}

/** The answer of `POST /api/v1/routing/preview`. */
export interface RoutingPreview {
  agentId: string | null;
  agent: PreviewAgent | null;
  rule: RoutingDecision["rule"];
  reason: string;
  escalation: RoutingDecision["escalation"];
}

const NO_RULES = "No enabled routing rule: the alert would go to nobody by rules (the org's admins are notified, as without routing).";

/**
 * Which agent an alert with this body would get and why, by the very same
 * decision as a create (in the org hub, with its loads and presence), without
 * reserving or writing anything.
 */
export async function previewRoute(deps: AlertDeps, actor: Claims, input: CreateAlertInput): Promise<RoutingPreview> {
  if (!isPrivileged(actor)) throw forbidden("Only admins and services preview routing");
  const inputs = await loadRoutingInputs(deps.db, actor.org);
  if (inputs.rules.length === 0) return { agentId: null, agent: null, rule: null, reason: NO_RULES, escalation: null };
  const decision = await deps.routing.route(actor.org, { alert: toRoutable("preview", input), rules: inputs.rules, agents: inputs.agents, reserve: false });
  const u = decision.agentId ? inputs.people.get(decision.agentId) : undefined;
  const agent: PreviewAgent | null = u
    ? { id: u.id, name: u.name, email: u.email, role: u.role, territories: u.territories, skills: u.skills, capacity: u.capacity, availability: u.availability }
    : null;
  return { agentId: decision.agentId, agent, rule: decision.rule, reason: decision.reason, escalation: decision.escalation };
}

/** Statuses an alert can no longer be (re)assigned in. */
const isClosed = (status: AlertRow["status"]) => !OPEN_STATUSES.includes(status);

/** The body of reassign: a named agent, or the rules again. */
export type ReassignInput = ({ agentId: string; route?: undefined } | { route: true; agentId?: undefined }) & { note?: string };

/**
 * Reassigns an alert (admins and services): to a named person, or by the
 * org's rules again excluding the current assignee (`route: true`). A
 * conditional update (someone else's change first: 409 CONFLICT) with its
 * history entry, an assignment record (`manual`, or `routed` with the rule)
 * and `alert:assigned` carrying it; the new assignee is notified. A closed
 * alert (resolved, dismissed, converted) is 409 INVALID_TRANSITION; rules
 * that find nobody (or no enabled rule) are 409 CONFLICT with the reason.
 */
export async function reassignAlert(deps: AlertDeps, actor: Claims, id: string, input: ReassignInput, now = new Date()): Promise<Alert> {
  if (!isPrivileged(actor)) throw forbidden("Only admins and services reassign alerts");
  const { db } = deps;
  const current = await loadVisible(db, actor, id);
  if (isClosed(current.status)) {
    throw new AppError(409, ErrorCode.INVALID_TRANSITION, `Alert ${id} is ${current.status}: a closed alert is not reassigned`, { from: current.status });
  }
  let agentId: string;
  let record: AlertAssignmentRow;
  let reservation: Reservation | undefined;
  if (input.route) {
    const inputs = await loadRoutingInputs(db, actor.org);
    if (inputs.rules.length === 0) throw new AppError(409, ErrorCode.CONFLICT, "The organization has no enabled routing rule to route by");
    const decision = await deps.routing.route(actor.org, {
      alert: toRoutable(current.id, current),
      rules: inputs.rules,
      agents: inputs.agents,
      reserve: true,
      exclude: current.assigneeId ? [current.assigneeId] : [],
      assignedAt: now.getTime(),
    });
    if (!decision.agentId) throw new AppError(409, ErrorCode.CONFLICT, `No agent qualifies: ${decision.reason}`, { reason: decision.reason });
    agentId = decision.agentId;
    reservation = decision.reservation;
    const note = input.note ? ` Note: ${input.note}` : "";
    record = assignmentRow({
      orgId: actor.org,
      alertId: id,
      kind: "routed",
      agentId,
      previousAgentId: current.assigneeId,
      rule: decision.rule,
      reason: `${decision.reason}${note}`,
      actorId: actor.sub,
      now,
    });
  } else {
    agentId = input.agentId;
    if (agentId === current.assigneeId) return toAlert(current);
    const [person] = await db.select({ role: users.role }).from(users).where(and(eq(users.orgId, actor.org), eq(users.id, agentId)));
    requireAssignable(person, agentId);
    record = assignmentRow({
      orgId: actor.org,
      alertId: id,
      kind: "manual",
      agentId,
      previousAgentId: current.assigneeId,
      reason: input.note ?? `Reassigned by ${actor.name ?? actor.sub}`,
      actorId: actor.sub,
      now,
    });
  }
  // The hub's reservation for the new agent goes back at once when the write does not happen (not after ROUTING_RESERVATION_SECONDS).
  const giveBack = async () => {
    if (!reservation) return;
    await deps.routing.release(actor.org, id, reservation).catch((err: unknown) => console.error(`herald: releasing the reservation of alert ${id}:`, err));
  };
  let updated: AlertRow | undefined;
  try {
    updated = await applyAssignment(deps, actor, current, record, input.note ?? (input.route ? record.reason : null), now);
  } catch (err) {
    await giveBack();
    throw err;
  }
  if (!updated) {
    await giveBack();
    throw new AppError(409, ErrorCode.CONFLICT, `Alert ${id} was changed by someone else meanwhile; read it and retry`);
  }
  const alert = toAlert(updated);
  await notifyAssigned(deps, alert, actor, updated.lastChangeId ?? alert.updatedAt);
  return alert;
}

/**
 * The assignment in one batch: the alert goes to `record.agentId` only if
 * its assignee and status are still as read; the history entry, the
 * assignment record and `alert:assigned` (with `assignment`) apply only if
 * the update did. Returns the new row, or undefined when another change won.
 */
async function applyAssignment(
  deps: AlertDeps,
  actor: Claims,
  current: AlertRow,
  record: AlertAssignmentRow,
  note: string | null,
  now: Date,
): Promise<AlertRow | undefined> {
  const asRead = and(
    eq(alerts.status, current.status),
    current.assigneeId === null ? isNull(alerts.assigneeId) : eq(alerts.assigneeId, current.assigneeId),
  )!;
  return applyChange(
    deps,
    actor,
    current,
    asRead,
    { assigneeId: record.agentId, assignedAt: now },
    { action: "assigned", assigneeId: record.agentId, note },
    (after) => {
      const event = alertEvent(Events.alertAssigned, after, now, { actorId: actor.sub, previousAssigneeId: current.assigneeId, note }, [current.assigneeId]);
      return [{ ...event, data: { ...(event.data as AlertEventData), assignment: toAssignment(record) } }];
    },
    now,
    { also: (applies) => [insertIfApplied(deps.db, alertAssignments, record, alerts, applies)] },
  );
}

/** Assigns up to 100 alerts, to an agent or by the rules; each id succeeds or fails on its own. */
export async function bulkAssign(
  deps: AlertDeps,
  actor: Claims,
  input: { ids: string[]; agentId?: string; route?: boolean; note?: string },
  now = new Date(),
): Promise<BulkResult> {
  if (!isPrivileged(actor)) throw forbidden("Only admins and services assign in bulk");
  const target: ReassignInput = input.route ? { route: true, note: input.note } : { agentId: input.agentId!, note: input.note };
  const results: BulkResult["results"] = [];
  for (const id of input.ids) {
    try {
      results.push({ id, ok: true, alert: await reassignAlert(deps, actor, id, target, now) });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      results.push({ id, ok: false, error: { code: err.code, message: err.message } });
    }
  }
  const succeeded = results.filter((r) => r.ok).length;
  return { results, succeeded, failed: results.length - succeeded };
}
