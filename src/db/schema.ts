import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const ROLES = ["admin", "agent", "member", "service"] as const;
export const PRIORITIES = ["LOW", "MEDIUM", "HIGH", "CRITICAL"] as const;
export const ALERT_STATUSES = [
  "PENDING",
  "ACKNOWLEDGED",
  "IN_PROGRESS",
  "RESOLVED",
  "DISMISSED",
  "CONVERTED",
] as const;

const timestamp = (name: string) => integer(name, { mode: "timestamp_ms" });

/**
 * The recipient directory. Ids are unique per organization, so the key is
 * (org_id, id). Rows come from `PUT /users/:id` or lazily from token claims.
 */
export const users = sqliteTable(
  "users",
  {
    orgId: text("org_id").notNull(),
    id: text("id").notNull(),
    email: text("email"),
    name: text("name"),
    phone: text("phone"),
    role: text("role", { enum: ROLES }).notNull().default("member"),
    departments: text("departments", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    createdAt: timestamp("created_at").notNull(),
    updatedAt: timestamp("updated_at").notNull(),
    lastSeenAt: timestamp("last_seen_at"),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.id] }), index("users_org_role_idx").on(t.orgId, t.role)],
);

/** An alert produced by a backend about a subject (a lead, a host, a customer). */
export const alerts = sqliteTable(
  "alerts",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    alertType: text("alert_type").notNull(),
    priority: text("priority", { enum: PRIORITIES }).notNull(),
    status: text("status", { enum: ALERT_STATUSES }).notNull().default("PENDING"),
    confidence: real("confidence"),
    title: text("title").notNull(),
    message: text("message"),
    subjectId: text("subject_id"),
    subjectEmail: text("subject_email"),
    subjectName: text("subject_name"),
    data: text("data", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    assigneeId: text("assignee_id"),
    recipients: text("recipients", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    modelVersion: text("model_version"),
    signalCount: integer("signal_count"),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at").notNull(),
    updatedAt: timestamp("updated_at").notNull(),
    acknowledgedAt: timestamp("acknowledged_at"),
    assignedAt: timestamp("assigned_at"),
    resolvedAt: timestamp("resolved_at"),
    convertedAt: timestamp("converted_at"),
    conversionValue: real("conversion_value"),
    conversionType: text("conversion_type"),
    /**
     * Id of the history entry of the last change. A conditional update sets it
     * and the history insert in the same batch matches on it, so a change that
     * lost a race never leaves a history entry behind.
     */
    lastChangeId: text("last_change_id"),
  },
  (t) => [
    index("alerts_org_created_idx").on(t.orgId, t.createdAt, t.id),
    index("alerts_org_status_created_idx").on(t.orgId, t.status, t.createdAt),
    index("alerts_org_assignee_created_idx").on(t.orgId, t.assigneeId, t.createdAt),
  ],
);

/**
 * One row per (alert, recipient): the index behind "alerts that list me as
 * recipient". `alerts.recipients` keeps the ordered list for display; both are
 * written in the same batch when the alert is created.
 */
export const alertRecipients = sqliteTable(
  "alert_recipients",
  {
    alertId: text("alert_id").notNull(),
    orgId: text("org_id").notNull(),
    userId: text("user_id").notNull(),
    createdAt: timestamp("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.alertId, t.userId] }),
    index("alert_recipients_user_idx").on(t.orgId, t.userId, t.createdAt),
  ],
);

/** The audit trail of an alert: creation, transitions (with their note), assignment. */
export const alertHistory = sqliteTable(
  "alert_history",
  {
    id: text("id").primaryKey(),
    alertId: text("alert_id").notNull(),
    orgId: text("org_id").notNull(),
    actorId: text("actor_id").notNull(),
    action: text("action", { enum: ["created", "status", "assigned", "converted"] }).notNull(),
    fromStatus: text("from_status"),
    toStatus: text("to_status"),
    assigneeId: text("assignee_id"),
    note: text("note"),
    createdAt: timestamp("created_at").notNull(),
  },
  (t) => [index("alert_history_alert_idx").on(t.alertId, t.createdAt)],
);

/**
 * Stored first responses of idempotent creates. A retry with the same key and
 * body replays `responseBody`; the same key with another body is refused.
 */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    orgId: text("org_id").notNull(),
    scope: text("scope").notNull(),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    statusCode: integer("status_code").notNull(),
    responseBody: text("response_body").notNull(),
    createdAt: timestamp("created_at").notNull(),
    expiresAt: timestamp("expires_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.scope, t.key] }), index("idempotency_expires_idx").on(t.expiresAt)],
);

export type UserRow = typeof users.$inferSelect;
export type AlertRow = typeof alerts.$inferSelect;
export type AlertHistoryRow = typeof alertHistory.$inferSelect;
