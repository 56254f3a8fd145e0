import type { BatchItem } from "drizzle-orm/batch";
import { chunk, rowsPerInsert } from "../../db/limits";
import { alertRecipients, alerts, type AlertRow } from "../../db/schema";
import { forbidden } from "../../errors";
import { newId } from "../../lib/ids";
import { assertDataSize } from "../../lib/size-limit";
import { Events, type AlertEventData } from "../../protocol";
import type { Alert, CreateAlertInput } from "../../schemas/alerts";
import type { Claims } from "../../types";
import { runIdempotent, type IdempotencyRequest, type IdempotentResult } from "../idempotency";
import { finishNotifications, loadNotifyContext, notificationStatements, planNotifications, requeueDeliveriesOfSource } from "../notifications";
import { recordAssignment, toAssignment } from "../routing/assignments";
import type { RoutedDecision } from "../routing/port";
import { loadRoutingInputs, routedAssignment, toRoutable } from "../routing/route";
import { isPrivileged, requireAssignable } from "./access";
import { alertEvent } from "./events";
import { toAlert, type AlertDeps } from "./model";
import { newAlertNotice } from "./notices";

/** Recipient rows per multi-row insert: floor(100 bound parameters / 4 columns). */
const RECIPIENT_ROWS_PER_INSERT = rowsPerInsert(alertRecipients);

/**
 * Creates an alert (admins and services). Without an assignee, an org with
 * enabled routing rules has the org hub route it: created assigned (a
 * `routed` assignment, `alert:assigned`), or queued unassigned (a `queued`
 * assignment; nobody is notified but its recipients); an org without rules
 * notifies its admins as before. With an idempotency key, a retry replays
 * the first response instead of creating (or routing) a second alert.
 */
export async function createAlert(
  deps: AlertDeps,
  actor: Claims,
  input: CreateAlertInput,
  idempotency?: Omit<IdempotencyRequest, "orgId" | "scope">,
  now = new Date(),
): Promise<IdempotentResult<Alert> & { routingMs?: number; timings: CreateTimings }> {
  const { db, realtime, limits } = deps;
  if (!isPrivileged(actor)) throw forbidden("Only admins and services create alerts");
  assertDataSize(input.data, limits.maxAlertDataBytes);
  const request = idempotency && { ...idempotency, orgId: actor.org, scope: "POST /api/v1/alerts" };
  const id = newId("alr", now.getTime());

  // The reads the create decides on, in parallel: the org's routing rules
  // and agents (only without an assignee), and in one round trip the
  // assignee's and recipients' directory rows (or the admins') with their
  // preferences and the org's webhook endpoints. An org without rules needs
  // nothing more; otherwise the rules decide (docs/ROUTING.md): the org hub
  // picks the agent and reserves this very id for them. A request whose
  // idempotency key is stored already will replay: nothing is routed.
  const given = [...new Set([input.assigneeId, ...input.recipients].filter((p): p is string => Boolean(p)))];
  const maxAdmins = deps.notifications.config.maxAdminNotifications;
  const routingStarted = performance.now();
  const [routing, early] = await Promise.all([
    input.assigneeId ? undefined : loadRoutingInputs(db, actor.org, request && { scope: request.scope, key: request.key }, now),
    loadNotifyContext(db, actor.org, given.length > 0 ? given : "admins", undefined, maxAdmins),
  ]);
  if (input.assigneeId) requireAssignable(early.people.get(input.assigneeId), input.assigneeId);
  let decision: RoutedDecision | undefined;
  if (routing && routing.rules.length > 0 && !routing.replay) {
    try {
      decision = await deps.routing.route(actor.org, { alert: toRoutable(id, input), rules: routing.rules, agents: routing.agents, reserve: true, assignedAt: now.getTime() });
    } catch (err) {
      // An alert is never lost to routing: the hub unreachable, it waits in the queue.
      console.error(`herald: routing alert ${id} of org ${actor.org} failed; queued:`, err);
      decision = { agentId: null, rule: null, reason: "Routing was unavailable (the org hub could not be reached); queued.", escalation: null };
    }
  }
  // The routing decision's time (rules and agents read, the hub's choice), for Server-Timing.
  const routingMs = decision ? performance.now() - routingStarted : undefined;
  const reserved = decision?.agentId ? decision : undefined;
  const assigneeId = input.assigneeId ?? decision?.agentId ?? null;
  let context = early;
  // Routed: the assignee's rows and preferences too. Queued: its recipients
  // only (never the admins, one by one, in an org with rules).
  if (decision?.agentId) context = await loadNotifyContext(db, actor.org, [decision.agentId, ...given], undefined, maxAdmins);
  else if (decision && given.length === 0) context = { ...early, userIds: [], people: new Map(), prefs: new Map() };

  const readDone = performance.now();
  let after: (() => Promise<unknown>) | undefined;
  let result: IdempotentResult<Alert>;
  try {
    result = await runIdempotent<Alert>(
      db,
      request,
      () => {
        // The creation's history entries are read from the row itself (creationEntries); its id is only the change token.
        const changeId = newId("ahe", now.getTime());
        const row: AlertRow = {
          id,
          orgId: actor.org,
          alertType: input.alertType,
          priority: input.priority,
          status: "PENDING",
          confidence: input.confidence ?? null,
          title: input.title,
          message: input.message ?? null,
          subjectId: input.subject?.id ?? null,
          subjectEmail: input.subject?.email ?? null,
          subjectName: input.subject?.name ?? null,
          data: input.data,
          assigneeId,
          recipients: input.recipients,
          modelVersion: input.modelVersion ?? null,
          signalCount: input.signalCount ?? null,
          createdBy: actor.sub,
          createdAt: now,
          updatedAt: now,
          acknowledgedAt: null,
          assignedAt: assigneeId ? now : null,
          resolvedAt: null,
          convertedAt: null,
          conversionValue: null,
          conversionType: null,
          lastChangeId: changeId,
          createdAssigneeId: assigneeId,
          createdNote: assigneeId ? (decision?.reason ?? null) : null,
        };
        const statements: BatchItem<"sqlite">[] = [db.insert(alerts).values(row)];
        for (const part of chunk(input.recipients, RECIPIENT_ROWS_PER_INSERT)) {
          statements.push(db.insert(alertRecipients).values(part.map((userId) => ({ alertId: row.id, orgId: actor.org, userId, createdAt: now }))));
        }
        const alert = toAlert(row);
        const events = [alertEvent(Events.alertNew, alert, now)];
        if (decision) {
          // The rules' outcome: `routed` (also published as alert:assigned) or `queued`, with the reason.
          const record = routedAssignment(actor.org, id, decision, actor, now);
          statements.push(recordAssignment(db, record));
          const assignment = toAssignment(record);
          events[0] = { ...events[0]!, data: { ...(events[0]!.data as AlertEventData), assignment } };
          if (row.assigneeId) {
            const assigned = alertEvent(Events.alertAssigned, alert, now, { actorId: actor.sub, previousAssigneeId: null, note: decision.reason });
            events.push({ ...assigned, data: { ...(assigned.data as AlertEventData), assignment } });
          }
        }
        // The notifications it causes are written in the same batch; their
        // events share the alert's source, so a retry finishes them together.
        const plan = planNotifications(deps.notifications, context, newAlertNotice(alert), `alert:${id}:new`, now, `alert:${id}`);
        const notices = notificationStatements(deps.notifications, context, plan, events, now);
        statements.push(...notices.statements);
        after = () => finishNotifications(deps.notifications, plan, notices.staged);
        return { statements, body: alert };
      },
      now,
    );
  } catch (err) {
    if (reserved) await deps.routing.release(actor.org, id, reserved.reservation).catch(() => undefined);
    throw err;
  }
  const committed = performance.now();
  // A concurrent twin with the same key won: its alert stands, this id never existed.
  if (result.replayed && reserved) await deps.routing.release(actor.org, id, reserved.reservation);
  // After the commit: every event to the hubs in one round, then the queued
  // deliveries. A replay finishes what the first attempt may have left undone.
  if (result.replayed) {
    await realtime.finishPending(actor.org, `alert:${result.body.id}`);
    await requeueDeliveriesOfSource(deps.notifications, actor.org, `alert:${result.body.id}:new`);
  } else await after?.();
  const timings: CreateTimings = { read: readDone - routingStarted, commit: committed - readDone, publish: performance.now() - committed };
  return routingMs === undefined ? { ...result, timings } : { ...result, routingMs, timings };
}

/**
 * Where a create's time went (ms), for its Server-Timing header: `read` the
 * reads it decides on (directory rows, preferences, webhook endpoints, and
 * routing when the rules decide), `commit` the one D1 batch that writes the
 * alert with its notifications and events, `publish` the hubs (every socket
 * has the event when they answer), queued deliveries and the published mark.
 * Workers' clock advances only across I/O, so these are I/O spans.
 */
export interface CreateTimings {
  read: number;
  commit: number;
  publish: number;
}
