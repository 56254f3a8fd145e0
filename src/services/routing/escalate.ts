import { and, eq, inArray } from "drizzle-orm";
import { alertAssignments, alerts, routingRules, users, type AlertRow, type RoutingRuleRow } from "../../db/schema";
import type { Deps } from "../../deps";
import { Events, type AlertEventData, type Priority } from "../../protocol";
import { decide, type AgentCandidate, type RoutingState } from "../../routing/decide";
import type { Alert } from "../../schemas/alerts";
import type { Claims } from "../../types";
import { insertIfApplied } from "../../db/sql";
import { applyChange } from "../alerts/changes";
import { alertEvent } from "../alerts/events";
import { toAlert } from "../alerts/model";
import { notifyUsers } from "../notifications";
import { renderTemplate } from "../notifications/templates";
import { assignmentRow, toAssignment } from "./assignments";

/** Who an escalation acts as: the hub itself (history, assignments, the event's actor). */
export const escalationActor = (orgId: string): Claims => ({ sub: "system:escalation", org: orgId, role: "service", name: "Escalation" });

/** The pending escalation an alarm found due (see src/realtime/escalations.ts). */
export interface DueEscalation {
  alertId: string;
  ruleId: string;
  /** The level of the assignment whose SLA passed. */
  level: number;
  assigneeId: string;
  priority: Priority;
}

/** What the hub gives an escalation: its routing state, and its table of pending escalations. */
export interface EscalationContext {
  /** The hub's routing state (loads with reservations, presence, rotation), seeded from D1 on first use. */
  state(): Promise<RoutingState>;
  /**
   * Holds the alert for the chosen agent in the hub's loads, in the same
   * turn as the choice (no agent past capacity, whatever runs concurrently),
   * and moves the rule's rotation; `release` gives it back when the update
   * loses to a concurrent change.
   */
  reserve(alertId: string, agentId: string, ruleId: string): void;
  release(alertId: string): void;
  /** Records the next level's escalation (replacing the current one). */
  schedule(alertId: string, next: { ruleId: string; level: number; dueAt: number; assigneeId: string; priority: Priority; since: number }): void;
  /** Drops the alert's escalation. */
  cancel(alertId: string): void;
}

/** What one due escalation came to. */
export type EscalationOutcome =
  | { kind: "escalated"; agentId: string; level: number; nextDueAt: number | null }
  | { kind: "ended"; reason: string }
  | { kind: "dropped"; reason: string };

/**
 * Runs one due escalation inside the org hub (docs/ROUTING.md, "Escalation"):
 * if the alert is still PENDING with the assignee the escalation knows, and
 * its rule still exists with an escalation policy, the next agent gets it
 * (conditional update: an acknowledge that came first wins), with a history
 * entry `escalated`, an assignment of kind `escalated` at level + 1,
 * `alert:escalated` and an `alert.escalated` notification; the next level is
 * scheduled at now + SLA. When the chain is over (maxLevels reached, or
 * nobody left) one `escalated` assignment without agent says why and
 * nothing more is scheduled.
 */
export async function runEscalation(d: Deps, orgId: string, due: DueEscalation, ctx: EscalationContext, now = new Date()): Promise<EscalationOutcome> {
  const { db } = d;
  const [alertRows, ruleRows, agentRows, history] = await db.batch([
    db.select().from(alerts).where(and(eq(alerts.id, due.alertId), eq(alerts.orgId, orgId))),
    db.select().from(routingRules).where(and(eq(routingRules.id, due.ruleId), eq(routingRules.orgId, orgId))),
    db
      .select({
        id: users.id,
        name: users.name,
        role: users.role,
        territories: users.territories,
        skills: users.skills,
        capacity: users.capacity,
        availability: users.availability,
      })
      .from(users)
      .where(and(eq(users.orgId, orgId), inArray(users.role, ["agent", "admin"]))),
    db.select({ agentId: alertAssignments.agentId }).from(alertAssignments).where(and(eq(alertAssignments.orgId, orgId), eq(alertAssignments.alertId, due.alertId))),
  ]);
  const alert = alertRows[0];
  const rule = ruleRows[0];
  const drop = (reason: string): EscalationOutcome => {
    ctx.cancel(due.alertId);
    return { kind: "dropped", reason };
  };
  if (!alert) return drop("the alert no longer exists");
  if (alert.status !== "PENDING") return drop(`the alert is ${alert.status}`);
  if (alert.assigneeId !== due.assigneeId) return drop("the alert was reassigned");
  if (!rule || !rule.escalation) return drop("the rule or its escalation policy was deleted");
  if (!rule.enabled) return drop("the rule is disabled");
  const policy = rule.escalation;
  const maxLevels = Math.min(policy.maxLevels, d.config.routing.maxEscalationLevels);
  if (due.level >= maxLevels) return end(d, orgId, alert, rule, due, ctx, `SLA passed at level ${due.level}; ${maxLevels} escalation(s) is the rule's limit`, now);

  const tried = new Set<string>([due.assigneeId]);
  for (const h of history) if (h.agentId) tried.add(h.agentId);
  const next = await chooseNext(d, alert, rule, agentRows, tried, ctx);
  if (!next) return end(d, orgId, alert, rule, due, ctx, `SLA passed at level ${due.level}; no agent left to escalate to`, now);
  ctx.reserve(alert.id, next.agentId, rule.id);

  const level = due.level + 1;
  const sla = policy.slaSeconds[alert.priority];
  const nextDueAt = sla === undefined ? null : now.getTime() + sla * 1000;
  const reason = `Not acknowledged within the SLA at level ${due.level}; ${next.reason}`;
  const applied = await apply(d, orgId, alert, rule, due, { agentId: next.agentId, level, reason }, now, () => {
    // Before the event reaches this hub's observe: the new assignee is the escalation's own.
    if (nextDueAt === null) ctx.cancel(due.alertId);
    else ctx.schedule(due.alertId, { ruleId: rule.id, level, dueAt: nextDueAt, assigneeId: next.agentId, priority: alert.priority, since: now.getTime() });
  });
  if (!applied) {
    ctx.release(alert.id);
    return drop("the alert changed meanwhile");
  }
  const previous = agentRows.find((a) => a.id === due.assigneeId);
  await notifyEscalated(d, toAlert(applied), {
    previousName: previous?.name ?? due.assigneeId,
    slaSeconds: policy.slaSeconds[alert.priority] ?? null,
    level,
    changeId: applied.lastChangeId ?? applied.updatedAt.toISOString(),
  });
  return { kind: "escalated", agentId: next.agentId, level, nextDueAt };
}

/** An SLA in words: "45 s", "10 min", "1 h 30 min". */
export function formatSla(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const parts = [h > 0 && `${h} h`, m > 0 && `${m} min`, s > 0 && `${s} s`].filter(Boolean);
  return parts.length > 0 ? parts.join(" ") : "0 s";
}

/**
 * `alert.escalated` for the new assignee: who did not acknowledge it within
 * which SLA. Rendered like every notification (in-app, email subject, text
 * and HTML, SMS), on the channels the alert's priority calls for, and
 * switched per type by preferences (`types["alert.escalated"]`).
 */
async function notifyEscalated(
  d: Deps,
  alert: Alert,
  info: { previousName: string; slaSeconds: number | null; level: number; changeId: string },
): Promise<void> {
  if (!alert.assigneeId) return;
  const content = renderTemplate("alert.escalated", {
    title: alert.title,
    previousName: info.previousName,
    sla: info.slaSeconds === null ? "the SLA" : formatSla(info.slaSeconds),
    priority: alert.priority,
    subjectName: alert.subject?.name ?? alert.subject?.email ?? alert.subject?.id ?? "an unnamed subject",
    level: info.level,
  });
  await notifyUsers(
    d.notifications,
    alert.organizationId,
    [alert.assigneeId],
    { ...content, priority: alert.priority, actionUrl: `/alerts/${alert.id}`, data: { alertId: alert.id } },
    `alert:${alert.id}:escalated:${info.changeId}`,
  );
}

/**
 * The agent an escalation goes to, or null when nobody qualifies: `pool`
 * takes the first of `poolAgentIds` not tried yet that is available and
 * under capacity; `next_agent` runs the rule's own decision again without
 * everyone who already had the alert.
 */
async function chooseNext(
  d: Deps,
  alert: AlertRow,
  rule: RoutingRuleRow,
  agents: AgentCandidate[],
  tried: ReadonlySet<string>,
  ctx: EscalationContext,
): Promise<{ agentId: string; reason: string } | null> {
  const policy = rule.escalation!;
  const state = await ctx.state();
  const capacity = (a: AgentCandidate) => a.capacity ?? d.config.routing.defaultCapacity;
  if (policy.to === "pool") {
    const byId = new Map(agents.map((a) => [a.id, a]));
    for (const id of policy.poolAgentIds ?? []) {
      const agent = byId.get(id);
      if (!agent || tried.has(id) || agent.availability !== "available") continue;
      const load = state.load(id);
      if (load < capacity(agent)) return { agentId: id, reason: `next of the escalation pool: ${agent.name ? `${agent.name} (${id})` : id}, ${load} of ${capacity(agent)} open` };
    }
    return null;
  }
  const decision = decide({
    alert: { id: alert.id, alertType: alert.alertType, priority: alert.priority, confidence: alert.confidence, data: alert.data },
    rules: [rule],
    agents,
    state,
    exclude: tried,
    defaultCapacity: d.config.routing.defaultCapacity,
    onlyRule: rule.id,
  });
  return decision.agentId === null ? null : { agentId: decision.agentId, reason: decision.reason };
}

/** The chain is over: one `escalated` record without agent says why; the alert stays with its assignee. */
async function end(
  d: Deps,
  orgId: string,
  alert: AlertRow,
  rule: RoutingRuleRow,
  due: DueEscalation,
  ctx: EscalationContext,
  reason: string,
  now: Date,
): Promise<EscalationOutcome> {
  const applied = await apply(d, orgId, alert, rule, due, { agentId: null, level: due.level, reason }, now, () => ctx.cancel(due.alertId));
  if (!applied) {
    ctx.cancel(due.alertId);
    return { kind: "dropped", reason: "the alert changed meanwhile" };
  }
  return { kind: "ended", reason };
}

/**
 * The escalation's change in one batch: the alert (still PENDING with the
 * expected assignee) goes to `to.agentId` (null: stays where it is), with
 * its history entry, its assignment record and `alert:escalated`, each
 * applying only if the update did. `beforePublish` runs after the commit,
 * before the event is delivered. Returns the new row, or undefined when the
 * alert changed first.
 */
async function apply(
  d: Deps,
  orgId: string,
  current: AlertRow,
  rule: RoutingRuleRow,
  due: DueEscalation,
  to: { agentId: string | null; level: number; reason: string },
  now: Date,
  beforePublish: () => void,
): Promise<AlertRow | undefined> {
  const actor = escalationActor(orgId);
  const record = assignmentRow({
    orgId,
    alertId: current.id,
    kind: "escalated",
    agentId: to.agentId,
    previousAgentId: current.assigneeId,
    rule: { id: rule.id, name: rule.name, version: rule.version, strategy: rule.strategy },
    reason: to.reason,
    level: to.level,
    actorId: actor.sub,
    now,
  });
  // Still pending and still with the assignee the escalation was scheduled for: an acknowledge that came first wins.
  const asScheduled = and(eq(alerts.status, "PENDING"), eq(alerts.assigneeId, due.assigneeId))!;
  return applyChange(
    d,
    actor,
    current,
    asScheduled,
    to.agentId ? { assigneeId: to.agentId, assignedAt: now } : {},
    { action: "escalated", assigneeId: to.agentId ?? current.assigneeId, note: to.reason },
    (after) => {
      const event = alertEvent(Events.alertEscalated, after, now, { actorId: actor.sub, previousAssigneeId: current.assigneeId, note: to.reason }, [current.assigneeId]);
      return [{ ...event, data: { ...(event.data as AlertEventData), assignment: toAssignment(record) } }];
    },
    now,
    { also: (applies) => [insertIfApplied(d.db, alertAssignments, record, alerts, applies)], beforePublish },
  );
}
