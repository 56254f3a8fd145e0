import { z } from "zod";
import { AlertStatusSchema, PrioritySchema } from "./enums";
import { AssignmentSchema } from "./routing";

/** An alert as the API returns it and as every `alert:*` event carries it. */
export const AlertSchema = z.object({
  id: z.string(),
  organizationId: z.string(),
  alertType: z.string(),
  priority: PrioritySchema,
  status: AlertStatusSchema,
  confidence: z.number().nullable(),
  title: z.string(),
  message: z.string().nullable(),
  subject: z.object({ id: z.string().nullable(), email: z.string().nullable(), name: z.string().nullable() }).nullable(),
  data: z.record(z.string(), z.unknown()),
  assigneeId: z.string().nullable(),
  recipients: z.array(z.string()),
  modelVersion: z.string().nullable(),
  signalCount: z.number().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  acknowledgedAt: z.string().nullable(),
  assignedAt: z.string().nullable(),
  resolvedAt: z.string().nullable(),
  convertedAt: z.string().nullable(),
  conversionValue: z.number().nullable(),
  conversionType: z.string().nullable(),
});
export type Alert = z.infer<typeof AlertSchema>;

/** What changed, sent with alert:updated / alert:assigned / alert:converted. */
export const AlertChangeSchema = z.object({
  actorId: z.string(),
  fromStatus: AlertStatusSchema.optional(),
  toStatus: AlertStatusSchema.optional(),
  previousAssigneeId: z.string().nullable().optional(),
  note: z.string().nullable().optional(),
});
export type AlertChange = z.infer<typeof AlertChangeSchema>;

/**
 * The data of every alert event: the alert as the API returns it, the change
 * (none for alert:new), and on `alert:assigned` / `alert:escalated` the
 * assignment record (which rule, why; docs/ROUTING.md).
 */
export const AlertEventDataSchema = z.object({ alert: AlertSchema, change: AlertChangeSchema.optional(), assignment: AssignmentSchema.optional() });
export type AlertEventData = z.infer<typeof AlertEventDataSchema>;

/** Alert statistics: the body of `GET /api/v1/alerts/stats` and the data of `stats:updated`. */
export const AlertStatsSchema = z.object({
  window: z.object({ since: z.string().nullable(), until: z.string().nullable() }),
  total: z.number(),
  byType: z.record(z.string(), z.number()),
  byPriority: z.record(z.string(), z.number()),
  byStatus: z.record(z.string(), z.number()),
  converted: z.number(),
  conversionRate: z.number().meta({ description: "converted / total, 0 when total is 0" }),
  conversionValueTotal: z.number(),
  acknowledged: z.number().meta({ description: "Alerts that have an acknowledgedAt" }),
  avgTimeToAcknowledgeMs: z.number().nullable(),
});
export type AlertStats = z.infer<typeof AlertStatsSchema>;
