import { z } from "@hono/zod-openapi";
import {
  ALERT_STATUSES,
  AlertHistoryActionSchema,
  AlertSchema as ProtocolAlertSchema,
  AlertStatsSchema as ProtocolAlertStatsSchema,
  AlertStatusSchema,
  PRIORITIES,
  PrioritySchema,
} from "../protocol";
import { csvOf, IdString, IsoDateTime } from "./common";
import { DeliverySchema } from "./notifications";

export { AlertStatusSchema, PrioritySchema };

export const AlertType = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, "Use letters, digits and _ . : -")
  .openapi({ example: "LIKELY_TO_SELL" });

const uniqueIds = (max: number) =>
  z
    .array(IdString)
    .max(max)
    .refine((ids) => new Set(ids).size === ids.length, "Ids must be unique");

export const SubjectSchema = z
  .object({
    id: z.string().min(1).max(128).optional(),
    email: z.email().max(320).optional(),
    name: z.string().min(1).max(200).optional(),
  })
  .strict()
  .refine((s) => s.id !== undefined || s.email !== undefined || s.name !== undefined, "Give at least one of id, email, name")
  .openapi("Subject");

export const CreateAlertBody = z
  .object({
    alertType: AlertType,
    priority: PrioritySchema.default("MEDIUM"),
    confidence: z.number().min(0).max(1).optional(),
    title: z.string().trim().min(1).max(200),
    message: z.string().max(4000).optional(),
    subject: SubjectSchema.optional(),
    data: z.record(z.string(), z.unknown()).default({}).openapi({ description: "Free JSON object, at most MAX_ALERT_DATA_BYTES when serialized" }),
    assigneeId: IdString.optional(),
    recipients: uniqueIds(100).default([]),
    modelVersion: z.string().min(1).max(64).optional(),
    signalCount: z.number().int().min(0).max(1_000_000_000).optional(),
  })
  .strict()
  .openapi("CreateAlert");

export const ListAlertsQuery = z
  .object({
    status: csvOf([...ALERT_STATUSES]).optional(),
    priority: csvOf([...PRIORITIES]).optional(),
    type: AlertType.optional(),
    assigneeId: IdString.optional(),
    unassigned: z
      .enum(["true", "false"])
      .optional()
      .transform((v) => (v === undefined ? undefined : v === "true"))
      .openapi({ description: "true: only alerts without an assignee (the routing queue); false: only assigned ones" }),
    since: IsoDateTime.optional().openapi({ description: "Created at or after" }),
    until: IsoDateTime.optional().openapi({ description: "Created before" }),
    minConfidence: z.coerce.number().min(0).max(1).optional(),
    q: z.string().trim().min(1).max(200).optional().openapi({ description: "Text in the title or the subject's id, email or name" }),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().min(1).max(512).optional().openapi({ description: "nextCursor of the previous page" }),
  })
  .refine((q) => !q.since || !q.until || Date.parse(q.since) < Date.parse(q.until), {
    message: "since must be before until",
    path: ["until"],
  });

export const StatsQuery = z
  .object({
    since: IsoDateTime.optional(),
    until: IsoDateTime.optional(),
  })
  .refine((q) => !q.since || !q.until || Date.parse(q.since) < Date.parse(q.until), {
    message: "since must be before until",
    path: ["until"],
  });

export const AlertIdParams = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) });

export const StatusChangeBody = z
  .object({ status: AlertStatusSchema, note: z.string().max(2000).optional() })
  .strict()
  .openapi("StatusChange");

export const AssignBody = z.object({ agentId: IdString, note: z.string().max(2000).optional() }).strict().openapi("Assign");

export const ConvertBody = z
  .object({
    conversionValue: z.number().min(0).max(1e15),
    conversionType: z.string().trim().min(1).max(64),
    note: z.string().max(2000).optional(),
  })
  .strict()
  .openapi("Convert");

export const BulkBody = z
  .object({
    ids: uniqueIds(100).min(1),
    action: z.enum(["acknowledge", "dismiss", "assign"]),
    agentId: IdString.optional(),
  })
  .strict()
  .refine((b) => b.action !== "assign" || b.agentId !== undefined, { message: "agentId is required for assign", path: ["agentId"] })
  .openapi("BulkAction");

/** The alert as the API returns it: the protocol's shape (every alert:* event carries it). */
export const AlertSchema = ProtocolAlertSchema.openapi("Alert");

export const AlertPageSchema = z
  .object({ items: z.array(AlertSchema), nextCursor: z.string().nullable() })
  .openapi("AlertPage");

export const AlertHistorySchema = z
  .object({
    id: z.string(),
    action: AlertHistoryActionSchema,
    actorId: z.string(),
    fromStatus: AlertStatusSchema.nullable(),
    toStatus: AlertStatusSchema.nullable(),
    assigneeId: z.string().nullable(),
    note: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi("AlertHistoryEntry");

/** The protocol's shape (also the data of stats:updated). */
export const AlertStatsSchema = ProtocolAlertStatsSchema.openapi("AlertStats");

export const BulkResultSchema = z
  .object({
    results: z.array(
      z.object({
        id: z.string(),
        ok: z.boolean(),
        alert: AlertSchema.optional(),
        error: z.object({ code: z.string(), message: z.string() }).optional(),
      }),
    ),
    succeeded: z.number(),
    failed: z.number(),
  })
  .openapi("BulkResult");

/** The bucket sizes of `GET /api/v1/alerts/volume`. */
export const VOLUME_BUCKETS = ["hour", "day"] as const;

export const VolumeQuery = z
  .object({
    since: IsoDateTime.optional().openapi({ description: "Start of the window, rounded down to its bucket (default: until - 24 h by hour, - 30 days by day)" }),
    until: IsoDateTime.optional().openapi({ description: "End of the window, rounded up to a bucket boundary (default: now)" }),
    bucket: z.enum(VOLUME_BUCKETS).default("hour").openapi({ description: "UTC hours or UTC days" }),
  })
  .refine((q) => !q.since || !q.until || Date.parse(q.since) < Date.parse(q.until), {
    message: "since must be before until",
    path: ["until"],
  });

export const AlertVolumeSchema = z
  .object({
    bucket: z.enum(VOLUME_BUCKETS),
    since: z.string().openapi({ description: "Start of the first bucket" }),
    until: z.string().openapi({ description: "End of the last bucket (exclusive)" }),
    items: z.array(z.object({ start: z.string(), count: z.number().int() })),
  })
  .openapi("AlertVolume");

export const AlertDeliverySchema = DeliverySchema.extend({ notificationId: z.string(), userId: z.string() }).openapi("AlertDelivery");

export const AlertDeliveriesSchema = z
  .object({
    items: z.array(AlertDeliverySchema),
    truncated: z.boolean().openapi({ description: "True when the alert has more deliveries than the 500 listed (the oldest)" }),
  })
  .openapi("AlertDeliveries");

export type VolumeInput = z.infer<typeof VolumeQuery>;
export type AlertVolume = z.infer<typeof AlertVolumeSchema>;
export type AlertDelivery = z.infer<typeof AlertDeliverySchema>;
export type CreateAlertInput = z.infer<typeof CreateAlertBody>;
export type ListAlertsInput = z.infer<typeof ListAlertsQuery>;
export type { Alert, AlertStats, AlertStatus } from "../protocol";
export type BulkResult = z.infer<typeof BulkResultSchema>;
export type AlertHistoryEntry = z.infer<typeof AlertHistorySchema>;
