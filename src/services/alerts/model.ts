import type { Db } from "../../db/client";
import type { AlertHistoryRow, AlertRow } from "../../db/schema";
import { newId } from "../../lib/ids";
import type { RealtimePort } from "../../outbox/port";
import type { Alert, AlertHistoryEntry, AlertStatus } from "../../schemas/alerts";
import type { Claims } from "../../types";
import type { RoutingPort } from "../routing/port";
import type { NotificationDeps } from "../notifications";

/**
 * The alert service: every read and mutation of alerts goes through
 * src/services/alerts/, so the rules (who sees what, which transitions are
 * legal, who may assign) live in one place. Routes only validate input and
 * shape responses. This file holds what its parts share: the dependencies
 * and the rows' API shapes.
 */

/** What the alert service works with: D1, realtime publishing, the org hub's routing, notifications, limits. */
export interface AlertDeps {
  db: Db;
  realtime: RealtimePort;
  routing: RoutingPort;
  notifications: NotificationDeps;
  limits: { maxAlertDataBytes: number };
}

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

/** API shape of a history row. */
export function toHistoryEntry(row: AlertHistoryRow): AlertHistoryEntry {
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
 * The first entries of an alert's history, read from the alert row (since
 * migration 0007 creating an alert writes no alert_history row): `created`,
 * then `assigned` when it was created with an assignee. Their ids are the
 * alert's with the suffixes `.created` and `.assigned`.
 */
export function creationEntries(alert: AlertRow): AlertHistoryEntry[] {
  const created: AlertHistoryEntry = {
    id: `${alert.id}.created`,
    action: "created",
    actorId: alert.createdBy,
    fromStatus: null,
    toStatus: "PENDING",
    assigneeId: null,
    note: null,
    createdAt: alert.createdAt.toISOString(),
  };
  if (alert.createdAssigneeId === null) return [created];
  return [created, { ...created, id: `${alert.id}.assigned`, action: "assigned", toStatus: null, assigneeId: alert.createdAssigneeId, note: alert.createdNote }];
}

/** A history row of `alert` by `actor` at `now`. */
export function historyRow(
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
