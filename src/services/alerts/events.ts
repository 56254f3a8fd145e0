import { newId } from "../../lib/ids";
import type { OutboundEvent } from "../../outbox/events";
import { Channels, type AlertChange, type AlertEventData } from "../../protocol";
import type { Alert } from "../../schemas/alerts";

/**
 * An alert event for the user streams of the assignee and recipients (plus
 * `alsoNotify`, e.g. a previous assignee) and for the org `alerts` channel.
 */
export function alertEvent(type: string, alert: Alert, now: Date, change?: AlertChange, alsoNotify: (string | null)[] = []): OutboundEvent {
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
