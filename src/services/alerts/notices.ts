import type { Alert } from "../../schemas/alerts";
import type { Claims } from "../../types";
import { notifyUsers, type NotifyInput } from "../notifications";
import { renderTemplate } from "../notifications/templates";
import type { AlertDeps } from "./model";

/** The notifications alerts cause: `alert.new` and `alert.assigned`. */

function subjectLabel(alert: Alert): string {
  return alert.subject?.name ?? alert.subject?.email ?? alert.subject?.id ?? "an unnamed subject";
}

/** The `alert.new` notification (for the assignee and recipients, or the org's admins when it has neither). */
export function newAlertNotice(alert: Alert): NotifyInput {
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
export async function notifyAssigned(deps: AlertDeps, alert: Alert, actor: Claims, changeId: string): Promise<void> {
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
