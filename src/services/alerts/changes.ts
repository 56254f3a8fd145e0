import { and, eq, isNull, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { insertIfApplied } from "../../db/sql";
import { alertHistory, alerts, type AlertRow } from "../../db/schema";
import { AppError, ErrorCode, forbidden } from "../../errors";
import type { OutboundEvent } from "../../outbox/events";
import { Events } from "../../protocol";
import type { Alert, AlertStatus, BulkResult } from "../../schemas/alerts";
import type { Claims } from "../../types";
import { alertNotFound, isPrivileged, loadVisible, requireAssignableIn, visibleTo } from "./access";
import { alertEvent } from "./events";
import { historyRow, toAlert, type AlertDeps } from "./model";
import { notifyAssigned } from "./notices";
import { ACKNOWLEDGING, canTransition, CONVERTIBLE_FROM, STATUS_TRANSITIONS } from "./state";

/**
 * Changes of an alert (status, assignment, conversion, bulk): each one a
 * conditional update with its history entry and its event in one batch, so
 * a lost race leaves nothing behind.
 */

/** What some changes add to `applyChange`'s transaction and publish. */
export interface ChangeExtras {
  /** More rows to write only if the update applied (`applies` matches exactly then). */
  also?: (applies: SQL) => BatchItem<"sqlite">[];
  /** Runs after the commit, before the events are delivered. */
  beforePublish?: () => void;
}

/**
 * Writes an alert change only if the alert is still as it was read
 * (`expected`), with its history entry (and `extras.also`) in the same
 * transaction, then publishes `events`. Returns the new row, or undefined
 * when another writer got there first (nothing written, nothing published).
 * Every alert change goes through here: status, assignment, conversion,
 * reassignment, escalation.
 */
export async function applyChange(
  deps: Pick<AlertDeps, "db" | "realtime">,
  actor: Claims,
  current: AlertRow,
  expected: SQL,
  changes: Partial<AlertRow>,
  history: Parameters<typeof historyRow>[3],
  events: (after: Alert) => OutboundEvent[],
  now: Date,
  extras: ChangeExtras = {},
): Promise<AlertRow | undefined> {
  const { db, realtime } = deps;
  const entry = historyRow(current, actor, now, history);
  // The row as it will be if the update applies: the events carry it.
  const staged = realtime.stage(events(toAlert({ ...current, ...changes, updatedAt: now, lastChangeId: entry.id })), {
    guard: { alertId: current.id, changeId: entry.id },
  });
  // True only if the update below applied: only it sets last_change_id to this entry's id (same transaction).
  const applies = and(eq(alerts.id, current.id), eq(alerts.lastChangeId, entry.id))!;
  const [updated] = await db.batch([
    db
      .update(alerts)
      .set({ ...changes, updatedAt: now, lastChangeId: entry.id })
      .where(and(eq(alerts.id, current.id), eq(alerts.orgId, current.orgId), expected))
      .returning(),
    insertIfApplied(db, alertHistory, entry, alerts, applies),
    ...(extras.also?.(applies) ?? []),
    // Likewise the events (the outbox): no change, no event.
    ...staged.statements,
  ]);
  const row = updated[0];
  if (!row) return undefined;
  extras.beforePublish?.();
  await realtime.publish(staged);
  return row;
}

/** Moves a visible alert along the lifecycle (see state.ts). */
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
