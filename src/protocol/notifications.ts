import { z } from "zod";
import { PrioritySchema } from "./enums";

/** A notification as the API returns it and as `notification:*` events carry it. */
export const NotificationSchema = z.object({
  id: z.string(),
  userId: z.string(),
  type: z.string(),
  title: z.string(),
  message: z.string().nullable(),
  actionUrl: z.string().nullable(),
  actionText: z.string().nullable(),
  priority: PrioritySchema,
  data: z.record(z.string(), z.unknown()),
  channels: z.array(z.string()),
  createdAt: z.string(),
  seenAt: z.string().nullable(),
  readAt: z.string().nullable(),
  archivedAt: z.string().nullable(),
});
export type Notification = z.infer<typeof NotificationSchema>;

/** `notification:new` data. */
export const NotificationNewDataSchema = z.object({ notification: NotificationSchema });
export type NotificationNewData = z.infer<typeof NotificationNewDataSchema>;

/** The data of a change to one notification (`notification:read`, `:unread`, `:archived`): its id and the notification after it. */
export const NotificationChangeDataSchema = z.object({ ids: z.array(z.string()), notification: NotificationSchema });
export type NotificationChangeData = z.infer<typeof NotificationChangeDataSchema>;

/** The data of a change to the whole inbox (`notification:read` after read-all, `notification:seen`). */
export const NotificationAllDataSchema = z.object({ all: z.literal(true), at: z.string() });
export type NotificationAllData = z.infer<typeof NotificationAllDataSchema>;

/** `notification:deleted` data. */
export const NotificationDeletedDataSchema = z.object({ ids: z.array(z.string()) });
export type NotificationDeletedData = z.infer<typeof NotificationDeletedDataSchema>;

/** `unread:count` data: the badge, over the user's non-archived notifications. */
export const UnreadCountDataSchema = z.object({ count: z.number(), unseen: z.number() });
export type UnreadCountData = z.infer<typeof UnreadCountDataSchema>;
