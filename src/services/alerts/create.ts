import type { BatchItem } from "drizzle-orm/batch";
import { chunk, rowsPerInsert } from "../../db/limits";
import { alertHistory, alertRecipients, alerts, type AlertRow } from "../../db/schema";
import { forbidden } from "../../errors";
import { newId } from "../../lib/ids";
import { assertDataSize } from "../../lib/size-limit";
import { Events } from "../../protocol";
import type { Alert, CreateAlertInput } from "../../schemas/alerts";
import type { Claims } from "../../types";
import { runIdempotent, type IdempotencyRequest, type IdempotentResult } from "../idempotency";
import { finishNotifications, loadNotifyContext, notificationStatements, planNotifications, requeueDeliveriesOfSource } from "../notifications";
import { isPrivileged, requireAssignable } from "./access";
import { alertEvent } from "./events";
import { historyRow, toAlert, type AlertDeps } from "./model";
import { newAlertNotice } from "./notices";

/** Recipient rows per multi-row insert: floor(100 bound parameters / 4 columns). */
const RECIPIENT_ROWS_PER_INSERT = rowsPerInsert(alertRecipients);

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
