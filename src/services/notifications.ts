// Work in progress this session: the notification service (in-app inbox, routing, deliveries).
import type { PRIORITIES } from "../db/schema";

/** A notification to create, as producers and internal services describe it. */
export interface NotifyInput {
  type: string;
  title: string;
  message?: string;
  priority?: (typeof PRIORITIES)[number];
  data?: Record<string, unknown>;
  actionUrl?: string;
  actionText?: string;
  channels?: ("in_app" | "realtime" | "email" | "sms" | "webhook")[];
}

/**
 * Notifies every admin of an organization in the directory (in-app, plus
 * whatever their priority and preferences route to). Returns the created ids.
 */
export async function notifyOrgAdmins(_env: Env, _orgId: string, _input: NotifyInput): Promise<string[]> {
  throw new Error("notifyOrgAdmins: not implemented yet");
}
