import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { ALERT_HISTORY_ACTIONS, ALERT_STATUSES, ASSIGNMENT_KINDS, AVAILABILITIES, PRIORITIES, ROLES, ROUTING_STRATEGIES } from "../protocol";
import type { Priority } from "../protocol";

// The enums are the protocol's (the SDK's too); re-exported for the server code that reads them from here.
export { ALERT_HISTORY_ACTIONS, ALERT_STATUSES, ASSIGNMENT_KINDS, AVAILABILITIES, PRIORITIES, ROLES, ROUTING_STRATEGIES };

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
    // Agent profile (routing, docs/ROUTING.md): what an admin sets with PUT /users/:id.
    /** Region codes or postal prefixes the agent covers; a territory rule matches by prefix. */
    territories: text("territories", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    /** Alert types the agent handles (the `skills` strategy). */
    skills: text("skills", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    /** Most open alerts routing gives the agent; null: ROUTING_DEFAULT_CAPACITY. */
    capacity: integer("capacity"),
    availability: text("availability", { enum: AVAILABILITIES }).notNull().default("available"),
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
    /**
     * The assignee it was created with and why (the routing reason). The
     * history's first entries (`created`, then `assigned`) are read from the
     * alert row (see creationEntries) instead of being alert_history rows:
     * every row written costs. Alerts created before migration 0007 have
     * those rows, and null here.
     */
    createdAssigneeId: text("created_assignee_id"),
    createdNote: text("created_note"),
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
    action: text("action", { enum: ALERT_HISTORY_ACTIONS }).notNull(),
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

/**
 * Every realtime event, written in the same D1 transaction as the change that
 * caused it (a transactional outbox): the source of truth for re-delivery to
 * the hubs (`published_at` is null until every target hub accepted it) and for
 * the polling fallback. Expires after EVENT_TTL_SECONDS.
 */
export const realtimeEvents = sqliteTable(
  "realtime_events",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    type: text("type").notNull(),
    data: text("data", { mode: "json" }).$type<unknown>().notNull(),
    /** What caused it, e.g. "alert:alr_…", so an idempotent retry can finish publishing it. */
    source: text("source"),
    createdAt: timestamp("created_at").notNull(),
    expiresAt: timestamp("expires_at").notNull(),
    publishedAt: timestamp("published_at"),
    /** Deliveries the cron sweep started for it (see sweepUnpublished). */
    attempts: integer("attempts").notNull().default(0),
    /** When the sweep gave up on it after OUTBOX_MAX_ATTEMPTS; never picked again (still readable by polling). */
    failedAt: timestamp("failed_at"),
  },
  (t) => [
    // Only the events in flight: the sweep's and a retry's (by source) reads, oldest first.
    index("realtime_events_unpublished_idx").on(t.createdAt).where(sql`${t.publishedAt} IS NULL AND ${t.failedAt} IS NULL`),
  ],
);

/**
 * Where an event goes: one row per user stream (user_id) or org channel
 * (channel + scope). `pos` orders the polling fallback.
 */
export const realtimeEventTargets = sqliteTable(
  "realtime_event_targets",
  {
    pos: integer("pos").primaryKey({ autoIncrement: true }),
    eventId: text("event_id").notNull(),
    orgId: text("org_id").notNull(),
    userId: text("user_id"),
    channel: text("channel"),
    dept: text("dept"),
    queue: text("queue"),
  },
  (t) => [
    // A target is a user stream or a channel: each index holds only the rows it finds.
    index("realtime_targets_user_idx").on(t.orgId, t.userId, t.pos).where(sql`${t.userId} IS NOT NULL`),
    index("realtime_targets_channel_idx").on(t.orgId, t.channel, t.pos).where(sql`${t.channel} IS NOT NULL`),
    index("realtime_targets_event_idx").on(t.eventId),
  ],
);

/** Events a user acknowledged through the polling fallback; never returned to them again. */
export const realtimeEventAcks = sqliteTable(
  "realtime_event_acks",
  {
    orgId: text("org_id").notNull(),
    userId: text("user_id").notNull(),
    eventId: text("event_id").notNull(),
    ackedAt: timestamp("acked_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.userId, t.eventId] }), index("realtime_acks_acked_idx").on(t.ackedAt)],
);

/** Single-use WebSocket tickets (stored hashed): a browser connects without a token in the URL. */
export const wsTickets = sqliteTable(
  "ws_tickets",
  {
    hash: text("hash").primaryKey(),
    orgId: text("org_id").notNull(),
    userId: text("user_id").notNull(),
    role: text("role", { enum: ROLES }).notNull(),
    email: text("email"),
    name: text("name"),
    /** Expiry of the token the ticket was issued for: the socket is closed then. */
    tokenExpiresAt: timestamp("token_expires_at").notNull(),
    expiresAt: timestamp("expires_at").notNull(),
    usedAt: timestamp("used_at"),
  },
  (t) => [index("ws_tickets_expires_idx").on(t.expiresAt)],
);

export const OUTBOUND_CHANNELS = ["email", "sms", "webhook"] as const;
export const DELIVERY_STATUSES = ["queued", "sent", "failed", "skipped", "deferred"] as const;

/** In-app notifications: a user's inbox, synced across devices through the user stream. */
export const notifications = sqliteTable(
  "notifications",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    userId: text("user_id").notNull(),
    type: text("type").notNull(),
    title: text("title").notNull(),
    message: text("message"),
    actionUrl: text("action_url"),
    actionText: text("action_text"),
    priority: text("priority", { enum: PRIORITIES }).notNull(),
    data: text("data", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    /** Channels chosen for it after the priority matrix, the request override and preferences. */
    channels: text("channels", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    /** What caused it, e.g. "alert:alr_…" or "api:<idempotency key>". */
    source: text("source"),
    createdAt: timestamp("created_at").notNull(),
    seenAt: timestamp("seen_at"),
    readAt: timestamp("read_at"),
    archivedAt: timestamp("archived_at"),
    deletedAt: timestamp("deleted_at"),
  },
  (t) => [
    // A user's inbox, counts and badge (org_id, user_id).
    index("notifications_user_created_idx").on(t.orgId, t.userId, t.createdAt, t.id),
    // One notification per user per cause: re-running what caused it (a retry) never doubles it.
    // By cause across users too: an alert's notifications (GET /alerts/{id}/deliveries, a range on
    // the "alert:<id>:" prefix) and re-queuing a cause's deliveries.
    uniqueIndex("notifications_org_source_idx").on(t.orgId, t.source, t.userId),
  ],
);

/**
 * One row per outbound delivery (email, SMS, webhook) and its attempts.
 * `dedupeKey` is unique, so a delivery exists once whatever retries happen:
 * "n:<notification>:<channel>" or "w:<webhook>:<event>".
 */
export const deliveries = sqliteTable(
  "deliveries",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    dedupeKey: text("dedupe_key").notNull().unique(),
    notificationId: text("notification_id"),
    webhookId: text("webhook_id"),
    eventId: text("event_id"),
    userId: text("user_id"),
    channel: text("channel", { enum: OUTBOUND_CHANNELS }).notNull(),
    /** Email address, E.164 phone number or webhook URL; null when skipped for want of one. */
    address: text("address"),
    status: text("status", { enum: DELIVERY_STATUSES }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    provider: text("provider"),
    providerMessageId: text("provider_message_id"),
    lastError: text("last_error"),
    /** What to send, rendered when the delivery was created (subject/html/text, SMS body, webhook body). */
    payload: text("payload", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    /** Deferred deliveries (quiet hours) go out at this time. */
    scheduledFor: timestamp("scheduled_for"),
    createdAt: timestamp("created_at").notNull(),
    updatedAt: timestamp("updated_at").notNull(),
    sentAt: timestamp("sent_at"),
  },
  (t) => [
    // A delivery is a notification's or a webhook's: each index holds only the rows it finds.
    index("deliveries_notification_idx").on(t.notificationId).where(sql`${t.notificationId} IS NOT NULL`),
    index("deliveries_webhook_idx").on(t.orgId, t.webhookId, t.createdAt).where(sql`${t.webhookId} IS NOT NULL`),
  ],
);

/** Notification preferences of a user, or the org defaults (user_id = ''). */
export const preferences = sqliteTable(
  "preferences",
  {
    orgId: text("org_id").notNull(),
    userId: text("user_id").notNull(),
    settings: text("settings", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    updatedAt: timestamp("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.userId] })],
);

/** Webhook endpoints of an org (CRM integrations), signed per the Standard Webhooks spec. */
export const webhooks = sqliteTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    url: text("url").notNull(),
    description: text("description"),
    /** Event patterns such as "alert:*" or "alert:new". */
    events: text("events", { mode: "json" }).$type<string[]>().notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    /** "whsec_<base64>": shown once at creation, kept to sign deliveries. */
    secret: text("secret").notNull(),
    disabledReason: text("disabled_reason"),
    /** Deliveries in a row that failed after every retry; reset by a success. */
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    createdAt: timestamp("created_at").notNull(),
    updatedAt: timestamp("updated_at").notNull(),
  },
  (t) => [index("webhooks_org_idx").on(t.orgId)],
);

/** What the `log` providers "sent" (local development): GET /api/v1/dev/outbox. */
export const devOutbox = sqliteTable(
  "dev_outbox",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    deliveryId: text("delivery_id").notNull(),
    channel: text("channel", { enum: OUTBOUND_CHANNELS }).notNull(),
    to: text("to").notNull(),
    subject: text("subject"),
    text: text("text"),
    html: text("html"),
    headers: text("headers", { mode: "json" }).$type<Record<string, string>>().notNull().default(sql`'{}'`),
    createdAt: timestamp("created_at").notNull(),
  },
  (t) => [index("dev_outbox_org_idx").on(t.orgId, t.createdAt)],
);

export type NotificationRow = typeof notifications.$inferSelect;
export type DeliveryRow = typeof deliveries.$inferSelect;
export type WebhookRow = typeof webhooks.$inferSelect;

/** What a routing rule matches on (all given conditions must hold; none given: every alert). */
export interface RuleMatch {
  alertTypes?: string[];
  priorities?: Priority[];
  minConfidence?: number;
  /** The alert's territory (see `RuleParams.territoryField`) starts with one of these. */
  territories?: string[];
  /** Top-level `data` fields equal to the value, or to one of the values of an array. */
  data?: Record<string, string | number | boolean | (string | number | boolean)[]>;
}

/** What a strategy needs besides the candidates. */
export interface RuleParams {
  /** `specific_agent`: the agent. */
  agentId?: string;
  /** `pool`: the agents of the pool; any strategy: restricts the candidates to these. */
  agentIds?: string[];
  /** Where the alert's territory is read: a top-level `data` field. Default "territory". */
  territoryField?: string;
}

/** What happens when an alert of the rule is not acknowledged in time. */
export interface EscalationPolicy {
  /** Seconds to acknowledge, per priority; a priority without one never escalates. */
  slaSeconds: Partial<Record<Priority, number>>;
  /** Next agent by the rule's own strategy (excluding who had it), or the next of `poolAgentIds`. */
  to: "next_agent" | "pool";
  poolAgentIds?: string[];
  /** Escalations at most, then the chain ends (the alert stays with its last assignee). */
  maxLevels: number;
}

/** An org's routing rules, tried in `position` order on every alert created without an assignee. */
export const routingRules = sqliteTable(
  "routing_rules",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    name: text("name").notNull(),
    position: integer("position").notNull(),
    /** Starts at 1, +1 on every change; PUT must name the version it read (409 otherwise). */
    version: integer("version").notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    match: text("match", { mode: "json" }).$type<RuleMatch>().notNull().default(sql`'{}'`),
    strategy: text("strategy", { enum: ROUTING_STRATEGIES }).notNull(),
    params: text("params", { mode: "json" }).$type<RuleParams>().notNull().default(sql`'{}'`),
    escalation: text("escalation", { mode: "json" }).$type<EscalationPolicy>(),
    /** When no agent qualifies: try the next rule (true) or queue the alert unassigned (false). */
    fallthrough: integer("fallthrough", { mode: "boolean" }).notNull().default(true),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at").notNull(),
    updatedAt: timestamp("updated_at").notNull(),
  },
  (t) => [index("routing_rules_org_position_idx").on(t.orgId, t.position)],
);

/** Every assignment of an alert: by the rules, by a person, by an escalation; the leaderboard reads it. */
export const alertAssignments = sqliteTable(
  "alert_assignments",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    alertId: text("alert_id").notNull(),
    kind: text("kind", { enum: ASSIGNMENT_KINDS }).notNull(),
    agentId: text("agent_id"),
    previousAgentId: text("previous_agent_id"),
    ruleId: text("rule_id"),
    ruleName: text("rule_name"),
    ruleVersion: integer("rule_version"),
    strategy: text("strategy", { enum: ROUTING_STRATEGIES }),
    reason: text("reason").notNull(),
    level: integer("level").notNull().default(0),
    actorId: text("actor_id").notNull(),
    createdAt: timestamp("created_at").notNull(),
  },
  (t) => [
    index("alert_assignments_alert_idx").on(t.alertId, t.createdAt),
    index("alert_assignments_org_created_idx").on(t.orgId, t.createdAt),
  ],
);

export type RoutingRuleRow = typeof routingRules.$inferSelect;
export type AlertAssignmentRow = typeof alertAssignments.$inferSelect;

/**
 * Control data (first shard only; README "Shards"): which shard holds each
 * organization, and the state of a move in progress (src/sharding/move.ts).
 */
export const orgShards = sqliteTable("org_shards", {
  orgId: text("org_id").primaryKey(),
  shard: integer("shard").notNull(),
  /** Incremented at each completed move; polling cursors carry it (src/services/events.ts). */
  epoch: integer("epoch").notNull().default(0),
  moveTo: integer("move_to"),
  moveState: text("move_state"),
  moveTable: text("move_table"),
  moveCursor: text("move_cursor"),
  moveStartedAt: timestamp("move_started_at"),
  moveSwitchedAt: timestamp("move_switched_at"),
  updatedAt: timestamp("updated_at").notNull(),
});

/** Control data: each shard's size as last measured by the cron (D1's meta.size_after). */
export const shardSizes = sqliteTable("shard_sizes", {
  shard: integer("shard").primaryKey(),
  bytes: integer("bytes").notNull(),
  measuredAt: timestamp("measured_at").notNull(),
});

/**
 * On every shard: organizations this database must not take writes for
 * ('fenced' during a move's last copy, 'retired' once the org lives
 * elsewhere; 'incoming' on a move's target, which only keeps the cron off).
 * Triggers from migration 0006 enforce it (src/sharding/fence.ts).
 */
export const orgFence = sqliteTable("org_fence", {
  orgId: text("org_id").primaryKey(),
  mode: text("mode", { enum: ["fenced", "retired", "incoming"] }).notNull(),
  createdAt: timestamp("created_at").notNull(),
});
