import type { Config } from "../../config";
import type { Db } from "../../db/client";
import type { NotificationRow } from "../../db/schema";
import { ErrorCode, notFound } from "../../errors";
import { orgDeps } from "../../deps";
import type { RealtimePort } from "../../outbox/port";
import type { Notification, NotificationChannel, Priority } from "../../protocol";

/**
 * The notification service's shared pieces: what producers send
 * (`NotifyInput`), the API shape of a row (`toNotification`), and the
 * service's dependencies.
 */

/** A notification to create, as producers and internal services describe it. */
export interface NotifyInput {
  type: string;
  title: string;
  message?: string;
  priority?: Priority;
  data?: Record<string, unknown>;
  actionUrl?: string;
  actionText?: string;
  channels?: NotificationChannel[];
}

/** What the notification service works with: the env (queues, hubs), D1, the configuration, realtime publishing. */
export interface NotificationDeps {
  env: Env;
  db: Db;
  config: Config;
  realtime: RealtimePort;
}

/** The service's dependencies for `orgId` over a Worker or Durable Object env: those orgDeps built (src/deps.ts). */
export async function notificationDeps(env: Env, orgId: string): Promise<NotificationDeps> {
  return (await orgDeps(env, orgId)).notifications;
}

/** API shape of a notification row. */
export function toNotification(row: NotificationRow): Notification {
  return {
    id: row.id,
    userId: row.userId,
    type: row.type,
    title: row.title,
    message: row.message,
    actionUrl: row.actionUrl,
    actionText: row.actionText,
    priority: row.priority,
    data: row.data,
    channels: row.channels,
    createdAt: row.createdAt.toISOString(),
    seenAt: row.seenAt?.toISOString() ?? null,
    readAt: row.readAt?.toISOString() ?? null,
    archivedAt: row.archivedAt?.toISOString() ?? null,
  };
}

/** 404 NOTIFICATION_NOT_FOUND: the caller's view of another user's (or a missing) notification. */
export const notificationNotFound = (id: string) => notFound(ErrorCode.NOTIFICATION_NOT_FOUND, `No notification ${id} for you`);
