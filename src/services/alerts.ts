import { and, asc, count, eq, gte, inArray, isNull, lt, or, sql, sum, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { chunk, rowsPerInsert } from "../db/limits";
import { alertHistory, alertRecipients, alerts, type AlertHistoryRow, type AlertRow } from "../db/schema";
import { AppError, ErrorCode, forbidden, notFound } from "../errors";
import { keysetPage } from "../db/pagination";
import { newId } from "../lib/ids";
import { assertDataSize } from "../lib/size-limit";
import type {
  Alert,
  AlertHistoryEntry,
  AlertStats,
  AlertStatus,
  BulkResult,
  CreateAlertInput,
  ListAlertsInput,
} from "../schemas/alerts";
import { renderTemplate } from "./notifications/templates";
import type { OutboundEvent } from "../outbox/events";
import type { RealtimePort } from "../outbox/port";
import { Channels, Events, type AlertChange, type AlertEventData } from "../protocol";
import type { Claims } from "../types";
import { ACKNOWLEDGING, canTransition, CONVERTIBLE_FROM, STATUS_TRANSITIONS } from "./alert-state";
import { runIdempotent, type IdempotencyRequest, type IdempotentResult } from "./idempotency";
import {
  finishNotifications,
  loadNotifyContext,
  notificationStatements,
  notifyUsers,
  planNotifications,
  requeueDeliveriesOfSource,
  type NotificationDeps,
  type NotifyInput,
} from "./notifications";
import { findUser } from "./users";

/**
 * The alert service: every read and mutation of alerts goes through here, so
 * the rules (who sees what, which transitions are legal, who may assign) live
 * in one place. Routes only validate input and shape responses; later issues
 * hook realtime publishing and notifications onto the mutations below.
 */

/** What the alert service works with: D1, realtime publishing, notifications, limits. */
export interface AlertDeps {
  db: Db;
  realtime: RealtimePort;
  notifications: NotificationDeps;
  limits: { maxAlertDataBytes: number };
}

function subjectLabel(alert: Alert): string {
  return alert.subject?.name ?? alert.subject?.email ?? alert.subject?.id ?? "an unnamed subject";
}

/** The `alert.new` notification (for the assignee and recipients, or the org's admins when it has neither). */
function newAlertNotice(alert: Alert): NotifyInput {
  const content = renderTemplate("alert.new", {
    priority: alert.priority,
    title: alert.title,
    subjectName: subjectLabel(alert),
    alertType: alert.alertType,
    confidence: alert.confidence ?? "n/a",
  });
  return { ...content, priority: alert.priority, actionUrl: `/alerts/${alert.id}`, data: { alertId: alert.id } };
}

/** `alert.assigned` for the new assignee. */
async function notifyAssigned(deps: AlertDeps, alert: Alert, actor: Claims, changeId: string): Promise<void> {
  if (!alert.assigneeId) return;
  const content = renderTemplate("alert.assigned", {
    title: alert.title,
    actorName: actor.name ?? actor.sub,
    priority: alert.priority,
    subjectName: subjectLabel(alert),
  });
  await notifyUsers(
    deps.notifications,
    alert.organizationId,
    [alert.assigneeId],
    { ...content, priority: alert.priority, actionUrl: `/alerts/${alert.id}`, data: { alertId: alert.id } },
    `alert:${alert.id}:assigned:${changeId}`,
  );
}

/**
 * An alert event for the user streams of the assignee and recipients (plus
 * `alsoNotify`, e.g. a previous assignee) and for the org `alerts` channel.
 */
function alertEvent(type: string, alert: Alert, now: Date, change?: AlertChange, alsoNotify: (string | null)[] = []): OutboundEvent {
  const users = new Set<string>();
  for (const id of [alert.assigneeId, ...alert.recipients, ...alsoNotify]) if (id) users.add(id);
  const data: AlertEventData = { alert, ...(change && { change }) };
  return {
    id: newId("evt", now.getTime()),
    orgId: alert.organizationId,
    type,
    data,
    ts: now.getTime(),
    userIds: [...users],
    channel: { name: Channels.alerts, scope: {} },
    source: `alert:${alert.id}`,
  };
}

const isPrivileged = (actor: Claims) => actor.role === "admin" || actor.role === "service";

/** Recipient rows per multi-row insert: floor(100 bound parameters / 4 columns). */
const RECIPIENT_ROWS_PER_INSERT = rowsPerInsert(alertRecipients);

/** API shape of an alert row. */
export function toAlert(row: AlertRow): Alert {
  const hasSubject = row.subjectId !== null || row.subjectEmail !== null || row.subjectName !== null;
  return {
    id: row.id,
    organizationId: row.orgId,
    alertType: row.alertType,
    priority: row.priority,
    status: row.status,
    confidence: row.confidence,
    title: row.title,
    message: row.message,
    subject: hasSubject ? { id: row.subjectId, email: row.subjectEmail, name: row.subjectName } : null,
    data: row.data,
    assigneeId: row.assigneeId,
    recipients: row.recipients,
    modelVersion: row.modelVersion,
    signalCount: row.signalCount,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    acknowledgedAt: row.acknowledgedAt?.toISOString() ?? null,
    assignedAt: row.assignedAt?.toISOString() ?? null,
    resolvedAt: row.resolvedAt?.toISOString() ?? null,
    convertedAt: row.convertedAt?.toISOString() ?? null,
    conversionValue: row.conversionValue,
    conversionType: row.conversionType,
  };
}

function toHistoryEntry(row: AlertHistoryRow): AlertHistoryEntry {
  return {
    id: row.id,
    action: row.action,
    actorId: row.actorId,
    fromStatus: row.fromStatus as AlertStatus | null,
    toStatus: row.toStatus as AlertStatus | null,
    assigneeId: row.assigneeId,
    note: row.note,
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * The visibility rule: admins and services see every alert of their org;
 * agents and members see alerts assigned to them or listing them as recipient.
 */
function visibleTo(db: Db, actor: Claims): SQL | undefined {
  if (isPrivileged(actor)) return eq(alerts.orgId, actor.org);
  const mine = db
    .select({ id: alertRecipients.alertId })
    .from(alertRecipients)
    .where(and(eq(alertRecipients.orgId, actor.org), eq(alertRecipients.userId, actor.sub)));
  return and(eq(alerts.orgId, actor.org), or(eq(alerts.assigneeId, actor.sub), inArray(alerts.id, mine)));
}

const alertNotFound = (id: string) => notFound(ErrorCode.ALERT_NOT_FOUND, `No alert ${id} in your organization`);

async function loadVisible(db: Db, actor: Claims, id: string): Promise<AlertRow> {
  const row = await db.query.alerts.findFirst({ where: and(eq(alerts.id, id), visibleTo(db, actor)) });
  if (!row) throw alertNotFound(id);
  return row;
}

async function requireAssignableIn(db: Db, orgId: string, agentId: string): Promise<void> {
  requireAssignable(await findUser(db, orgId, agentId), agentId);
}

/** 422 UNKNOWN_ASSIGNEE unless the directory row is a person (not a service). */
function requireAssignable(user: { role: string } | undefined, agentId: string): void {
  if (!user || user.role === "service") {
    throw new AppError(422, ErrorCode.UNKNOWN_ASSIGNEE, `${agentId} is not a person in your organization's directory`, {
      agentId,
    });
  }
}

function historyRow(
  alert: { id: string; orgId: string },
  actor: Claims,
  now: Date,
  entry: Pick<AlertHistoryRow, "action"> & Partial<Pick<AlertHistoryRow, "fromStatus" | "toStatus" | "assigneeId" | "note">>,
) {
  return {
    id: newId("ahe", now.getTime()),
    alertId: alert.id,
    orgId: alert.orgId,
    actorId: actor.sub,
    fromStatus: null,
    toStatus: null,
    assigneeId: null,
    note: null,
    ...entry,
    createdAt: now,
  };
}

/**
 * Creates an alert (admins and services). With an idempotency key, a retry
 * replays the first response instead of creating a second alert.
 */
export async function createAlert(
  deps: AlertDeps,
  actor: Claims,
  input: CreateAlertInput,
  idempotency?: Omit<IdempotencyRequest, "orgId" | "scope">,
  now = new Date(),
): Promise<IdempotentResult<Alert>> {
  const { db, realtime, limits } = deps;
  if (!isPrivileged(actor)) throw forbidden("Only admins and services create alerts");
  assertDataSize(input.data, limits.maxAlertDataBytes);
  // One D1 round trip reads everything the create decides on: the
  // assignee's and recipients' directory rows (or the admins') and
  // preferences, and the org's webhook endpoints.
  const people = [...new Set([input.assigneeId, ...input.recipients].filter((id): id is string => Boolean(id)))];
  const context = await loadNotifyContext(db, actor.org, people.length > 0 ? people : "admins", undefined, deps.notifications.config.maxAdminNotifications);
  if (input.assigneeId) requireAssignable(context.people.get(input.assigneeId), input.assigneeId);

  const request = idempotency && { ...idempotency, orgId: actor.org, scope: "POST /api/v1/alerts" };
  let after: (() => Promise<unknown>) | undefined;
  const result = await runIdempotent<Alert>(
    db,
    request,
    () => {
      const id = newId("alr", now.getTime());
      const created = historyRow({ id, orgId: actor.org }, actor, now, { action: "created", toStatus: "PENDING" });
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
        assigneeId: input.assigneeId ?? null,
        recipients: input.recipients,
        modelVersion: input.modelVersion ?? null,
        signalCount: input.signalCount ?? null,
        createdBy: actor.sub,
        createdAt: now,
        updatedAt: now,
        acknowledgedAt: null,
        assignedAt: input.assigneeId ? now : null,
        resolvedAt: null,
        convertedAt: null,
        conversionValue: null,
        conversionType: null,
        lastChangeId: created.id,
      };
      const statements: BatchItem<"sqlite">[] = [db.insert(alerts).values(row)];
      for (const part of chunk(input.recipients, RECIPIENT_ROWS_PER_INSERT)) {
        statements.push(db.insert(alertRecipients).values(part.map((userId) => ({ alertId: row.id, orgId: actor.org, userId, createdAt: now }))));
      }
      statements.push(db.insert(alertHistory).values(created));
      if (row.assigneeId) {
        statements.push(db.insert(alertHistory).values(historyRow(row, actor, now, { action: "assigned", assigneeId: row.assigneeId })));
      }
      const alert = toAlert(row);
      const event = alertEvent(Events.alertNew, alert, now);
      // The notifications it causes are written in the same batch; their
      // events share the alert's source, so a retry finishes them together.
      const plan = planNotifications(deps.notifications, context, newAlertNotice(alert), `alert:${id}:new`, now, `alert:${id}`);
      const notices = notificationStatements(deps.notifications, context, plan, [event], now);
      statements.push(...notices.statements);
      after = () => finishNotifications(deps.notifications, plan, notices.staged);
      return { statements, body: alert };
    },
    now,
  );
  // After the commit: every event to the hubs in one round, then the queued
  // deliveries. A replay finishes what the first attempt may have left undone.
  if (result.replayed) {
    await realtime.finishPending(actor.org, `alert:${result.body.id}`);
    await requeueDeliveriesOfSource(deps.notifications, actor.org, `alert:${result.body.id}:new`);
  } else await after?.();
  return result;
}

/** One alert, if the actor may see it (404 otherwise, also for other orgs' ids). */
export async function getAlert(db: Db, actor: Claims, id: string): Promise<Alert> {
  return toAlert(await loadVisible(db, actor, id));
}

/** The audit trail of a visible alert, oldest first. */
export async function getAlertHistory(db: Db, actor: Claims, id: string): Promise<AlertHistoryEntry[]> {
  await loadVisible(db, actor, id);
  const rows = await db.query.alertHistory.findMany({
    where: and(eq(alertHistory.alertId, id), eq(alertHistory.orgId, actor.org)),
    // rowid: insertion order, for entries written in the same millisecond.
    orderBy: [asc(alertHistory.createdAt), asc(sql`rowid`)],
  });
  return rows.map(toHistoryEntry);
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (ch) => `\\${ch}`);

/** Lists visible alerts, newest first, filtered, one page at a time. */
export async function listAlerts(
  db: Db,
  actor: Claims,
  query: ListAlertsInput,
): Promise<{ items: Alert[]; nextCursor: string | null }> {
  const conditions: (SQL | undefined)[] = [visibleTo(db, actor)];
  if (query.status) conditions.push(inArray(alerts.status, query.status));
  if (query.priority) conditions.push(inArray(alerts.priority, query.priority));
  if (query.type) conditions.push(eq(alerts.alertType, query.type));
  if (query.assigneeId) conditions.push(eq(alerts.assigneeId, query.assigneeId));
  if (query.since) conditions.push(gte(alerts.createdAt, new Date(query.since)));
  if (query.until) conditions.push(lt(alerts.createdAt, new Date(query.until)));
  if (query.minConfidence !== undefined) conditions.push(gte(alerts.confidence, query.minConfidence));
  if (query.q) {
    const pattern = `%${escapeLike(query.q)}%`;
    const match = (column: SQLiteColumn) => sql`${column} LIKE ${pattern} ESCAPE '\\'`;
    conditions.push(or(match(alerts.title), match(alerts.subjectName), match(alerts.subjectEmail), match(alerts.subjectId)));
  }
  return keysetPage(
    alerts,
    query,
    (after, orderBy, limit) =>
      db
        .select()
        .from(alerts)
        .where(and(...conditions, after))
        .orderBy(...orderBy)
        .limit(limit),
    toAlert,
  );
}

/**
 * Writes an alert change only if the alert is still as it was read
 * (`expected`), with its history entry in the same transaction. Returns the
 * new row, or undefined when another writer got there first.
 */
async function applyChange(
  deps: AlertDeps,
  actor: Claims,
  current: AlertRow,
  expected: SQL,
  changes: Partial<AlertRow>,
  history: Parameters<typeof historyRow>[3],
  events: (after: Alert) => OutboundEvent[],
  now: Date,
): Promise<AlertRow | undefined> {
  const { db, realtime } = deps;
  const entry = historyRow(current, actor, now, history);
  // The row as it will be if the update applies: the events carry it.
  const staged = realtime.stage(events(toAlert({ ...current, ...changes, updatedAt: now, lastChangeId: entry.id })), {
    guard: { alertId: current.id, changeId: entry.id },
  });
  const [updated] = await db.batch([
    db
      .update(alerts)
      .set({ ...changes, updatedAt: now, lastChangeId: entry.id })
      .where(and(eq(alerts.id, current.id), eq(alerts.orgId, current.orgId), expected))
      .returning(),
    // Inserted only if the update above applied: only it sets last_change_id
    // to this entry's id (same transaction, so all or nothing).
    db.insert(alertHistory).select(
      db
        .select({
          id: sql<string>`${entry.id}`.as("id"),
          alertId: alerts.id,
          orgId: alerts.orgId,
          actorId: sql<string>`${entry.actorId}`.as("actor_id"),
          action: sql<AlertHistoryRow["action"]>`${entry.action}`.as("action"),
          fromStatus: sql<string | null>`${entry.fromStatus}`.as("from_status"),
          toStatus: sql<string | null>`${entry.toStatus}`.as("to_status"),
          assigneeId: sql<string | null>`${entry.assigneeId}`.as("assignee_id"),
          note: sql<string | null>`${entry.note}`.as("note"),
          createdAt: alerts.updatedAt,
        })
        .from(alerts)
        .where(and(eq(alerts.id, current.id), eq(alerts.lastChangeId, entry.id))),
    ),
    // Likewise the events (the outbox): no change, no event.
    ...staged.statements,
  ]);
  const row = updated[0];
  if (row) await realtime.publish(staged);
  return row;
}

/** Moves a visible alert along the lifecycle (see alert-state.ts). */
export async function changeStatus(
  deps: AlertDeps,
  actor: Claims,
  id: string,
  input: { status: AlertStatus; note?: string },
  now = new Date(),
): Promise<Alert> {
  const current = await loadVisible(deps.db, actor, id);
  const to = input.status;
  if (to === "CONVERTED") {
    throw new AppError(409, ErrorCode.INVALID_TRANSITION, "Use POST /api/v1/alerts/:id/convert to record a conversion", {
      from: current.status,
      to,
    });
  }
  if (!canTransition(current.status, to)) {
    throw new AppError(409, ErrorCode.INVALID_TRANSITION, `An alert cannot go from ${current.status} to ${to}`, {
      from: current.status,
      to,
      allowed: STATUS_TRANSITIONS[current.status],
    });
  }
  const changes: Partial<AlertRow> = { status: to };
  if (ACKNOWLEDGING.includes(to) && !current.acknowledgedAt) changes.acknowledgedAt = now;
  if (to === "RESOLVED") changes.resolvedAt = now;
  if (current.status === "RESOLVED") changes.resolvedAt = null;
  const updated = await applyChange(
    deps,
    actor,
    current,
    eq(alerts.status, current.status),
    changes,
    { action: "status", fromStatus: current.status, toStatus: to, note: input.note ?? null },
    (after) => [alertEvent(Events.alertUpdated, after, now, { actorId: actor.sub, fromStatus: current.status, toStatus: to, note: input.note ?? null })],
    now,
  );
  if (!updated) throw concurrentChange(id);
  return toAlert(updated);
}

const concurrentChange = (id: string) =>
  new AppError(409, ErrorCode.CONFLICT, `Alert ${id} was changed by someone else meanwhile; read it and retry`);

/**
 * Assigns an alert. Admins and services assign anyone in the directory (not
 * services); an agent may only take an unassigned alert for themselves.
 */
export async function assignAlert(
  deps: AlertDeps,
  actor: Claims,
  id: string,
  input: { agentId: string; note?: string },
  now = new Date(),
): Promise<Alert> {
  const { db } = deps;
  let current: AlertRow;
  let expected: SQL;
  if (isPrivileged(actor)) {
    current = await loadVisible(db, actor, id);
    expected = current.assigneeId === null ? isNull(alerts.assigneeId) : eq(alerts.assigneeId, current.assigneeId);
  } else if (actor.role === "agent") {
    if (input.agentId !== actor.sub) throw forbidden("Agents may only assign alerts to themselves");
    const row = await db.query.alerts.findFirst({ where: and(eq(alerts.id, id), eq(alerts.orgId, actor.org)) });
    if (!row) throw alertNotFound(id);
    if (row.assigneeId !== null && row.assigneeId !== actor.sub) {
      const visible = await db.query.alerts.findFirst({ where: and(eq(alerts.id, id), visibleTo(db, actor)) });
      if (!visible) throw alertNotFound(id);
      throw new AppError(409, ErrorCode.ALREADY_ASSIGNED, `Alert ${id} is already assigned to ${row.assigneeId}`);
    }
    current = row;
    expected = isNull(alerts.assigneeId);
  } else {
    throw forbidden("Only admins, services and agents assign alerts");
  }
  if (current.assigneeId === input.agentId) return toAlert(current);
  if (current.status === "CONVERTED") {
    throw new AppError(409, ErrorCode.INVALID_TRANSITION, "A converted alert can no longer be assigned", { from: current.status });
  }
  await requireAssignableIn(db, actor.org, input.agentId);
  const previous = current.assigneeId;
  const updated = await applyChange(
    deps,
    actor,
    current,
    expected,
    { assigneeId: input.agentId, assignedAt: now },
    { action: "assigned", assigneeId: input.agentId, note: input.note ?? null },
    (after) => [alertEvent(Events.alertAssigned, after, now, { actorId: actor.sub, previousAssigneeId: previous, note: input.note ?? null }, [previous])],
    now,
  );
  if (!updated) {
    if (!isPrivileged(actor)) throw new AppError(409, ErrorCode.ALREADY_ASSIGNED, `Alert ${id} was just taken by someone else`);
    throw concurrentChange(id);
  }
  const alert = toAlert(updated);
  await notifyAssigned(deps, alert, actor, updated.lastChangeId ?? alert.updatedAt);
  return alert;
}

/** Records a conversion: status CONVERTED with its value and type. */
export async function convertAlert(
  deps: AlertDeps,
  actor: Claims,
  id: string,
  input: { conversionValue: number; conversionType: string; note?: string },
  now = new Date(),
): Promise<Alert> {
  const current = await loadVisible(deps.db, actor, id);
  if (!CONVERTIBLE_FROM.includes(current.status)) {
    throw new AppError(409, ErrorCode.INVALID_TRANSITION, `An alert cannot go from ${current.status} to CONVERTED`, {
      from: current.status,
      to: "CONVERTED",
      allowed: CONVERTIBLE_FROM,
    });
  }
  const updated = await applyChange(
    deps,
    actor,
    current,
    eq(alerts.status, current.status),
    {
      status: "CONVERTED",
      convertedAt: now,
      conversionValue: input.conversionValue,
      conversionType: input.conversionType,
      acknowledgedAt: current.acknowledgedAt ?? now,
    },
    { action: "converted", fromStatus: current.status, toStatus: "CONVERTED", note: input.note ?? null },
    (after) => [
      alertEvent(Events.alertConverted, after, now, { actorId: actor.sub, fromStatus: current.status, toStatus: "CONVERTED", note: input.note ?? null }),
    ],
    now,
  );
  if (!updated) throw concurrentChange(id);
  return toAlert(updated);
}

/** Applies one action to many alerts; each id succeeds or fails on its own. */
export async function bulkAction(
  deps: AlertDeps,
  actor: Claims,
  input: { ids: string[]; action: "acknowledge" | "dismiss" | "assign"; agentId?: string },
  now = new Date(),
): Promise<BulkResult> {
  const results: BulkResult["results"] = [];
  for (const id of input.ids) {
    try {
      const alert =
        input.action === "assign"
          ? await assignAlert(deps, actor, id, { agentId: input.agentId! }, now)
          : await changeStatus(deps, actor, id, { status: input.action === "acknowledge" ? "ACKNOWLEDGED" : "DISMISSED" }, now);
      results.push({ id, ok: true, alert });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      results.push({ id, ok: false, error: { code: err.code, message: err.message } });
    }
  }
  const succeeded = results.filter((r) => r.ok).length;
  return { results, succeeded, failed: results.length - succeeded };
}

/** Counts and rates over the alerts the actor can see, created within the window. */
export async function alertStats(db: Db, actor: Claims, window: { since?: string; until?: string }): Promise<AlertStats> {
  const where = and(
    visibleTo(db, actor),
    window.since ? gte(alerts.createdAt, new Date(window.since)) : undefined,
    window.until ? lt(alerts.createdAt, new Date(window.until)) : undefined,
  );
  // One scan of the window, grouped by (type, priority, status), folded here:
  // D1 bills rows read, and four aggregate queries read the window four times.
  const groups = await db
    .select({
      type: alerts.alertType,
      priority: alerts.priority,
      status: alerts.status,
      n: count(),
      acknowledged: count(alerts.acknowledgedAt),
      ackMsSum: sum(sql`${alerts.acknowledgedAt} - ${alerts.createdAt}`),
      valueSum: sum(alerts.conversionValue),
    })
    .from(alerts)
    .where(where)
    .groupBy(alerts.alertType, alerts.priority, alerts.status);
  const byType: Record<string, number> = {};
  const byPriority: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  let total = 0;
  let acknowledged = 0;
  let ackMsSum = 0;
  let conversionValueTotal = 0;
  for (const g of groups) {
    total += g.n;
    byType[g.type] = (byType[g.type] ?? 0) + g.n;
    byPriority[g.priority] = (byPriority[g.priority] ?? 0) + g.n;
    byStatus[g.status] = (byStatus[g.status] ?? 0) + g.n;
    acknowledged += g.acknowledged;
    ackMsSum += Number(g.ackMsSum ?? 0);
    conversionValueTotal += Number(g.valueSum ?? 0);
  }
  const converted = byStatus.CONVERTED ?? 0;
  return {
    window: { since: window.since ?? null, until: window.until ?? null },
    total,
    byType,
    byPriority,
    byStatus,
    converted,
    conversionRate: total === 0 ? 0 : converted / total,
    conversionValueTotal,
    acknowledged,
    avgTimeToAcknowledgeMs: acknowledged === 0 ? null : Math.round(ackMsSum / acknowledged),
  };
}
