import { z } from "@hono/zod-openapi";
import { NotificationChannelSchema, NotificationSchema as ProtocolNotificationSchema, PrioritySchema } from "../protocol";
import { IdString } from "./common";

const NotificationType = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z][a-z0-9_.:-]*$/, "Notification types are lowercase, e.g. alert.new")
  .openapi({ example: "deal.won" });

const HttpUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .or(z.string().regex(/^\/[^/\\][^\s]*$|^\/$/, "Use an absolute http(s) URL or a path starting with /").max(2048));

/** `POST /api/v1/notifications`: either title (+ message) or a template with its variables. */
export const CreateNotificationsBody = z
  .object({
    userIds: z
      .array(IdString)
      .min(1)
      .max(100)
      .refine((ids) => new Set(ids).size === ids.length, "Ids must be unique"),
    type: NotificationType.optional(),
    title: z.string().trim().min(1).max(200).optional(),
    message: z.string().max(2000).optional(),
    template: z.string().min(1).max(64).optional(),
    variables: z.record(z.string(), z.union([z.string().max(500), z.number(), z.boolean()])).optional(),
    actionUrl: HttpUrl.optional(),
    actionText: z.string().min(1).max(60).optional(),
    priority: PrioritySchema.default("MEDIUM"),
    data: z.record(z.string(), z.unknown()).optional(),
    channels: z
      .array(NotificationChannelSchema)
      .min(1)
      .refine((c) => new Set(c).size === c.length, "Channels must be unique")
      .optional()
      .openapi({ description: "Replaces the priority matrix (in_app is always kept); preferences still apply" }),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.template === undefined) {
      if (b.title === undefined) ctx.addIssue({ code: "custom", path: ["title"], message: "Give a title, or a template" });
      if (b.type === undefined) ctx.addIssue({ code: "custom", path: ["type"], message: "Give a type, or a template" });
    } else {
      if (b.title !== undefined || b.message !== undefined) ctx.addIssue({ code: "custom", path: ["template"], message: "Give a template or title/message, not both" });
      if (b.variables === undefined) ctx.addIssue({ code: "custom", path: ["variables"], message: "A template needs its variables" });
    }
  })
  .openapi("CreateNotifications");

/** The notification as the API returns it: the protocol's shape (notification:* events carry it). */
export const NotificationSchema = ProtocolNotificationSchema.openapi("Notification");

export const ListNotificationsQuery = z.object({
  status: z.enum(["unread", "read", "all"]).default("all"),
  archived: z.enum(["true", "false"]).default("false").transform((v) => v === "true"),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional(),
});

export const NotificationIdParams = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) });

export const DeliverySchema = z
  .object({
    id: z.string(),
    channel: z.enum(["email", "sms", "webhook"]),
    address: z.string().nullable(),
    status: z.enum(["queued", "sent", "failed", "skipped", "deferred"]),
    attempts: z.number(),
    provider: z.string().nullable(),
    providerMessageId: z.string().nullable(),
    lastError: z.string().nullable(),
    scheduledFor: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    sentAt: z.string().nullable(),
  })
  .openapi("Delivery");

export type CreateNotificationsBodyInput = z.infer<typeof CreateNotificationsBody>;
