import { z } from "zod";

/**
 * The enums the API, the frames and the database share. The database schema
 * (src/db/schema.ts) takes its column enums from here, so a value added here
 * is a value the SDK knows.
 */

/** Which stream a socket (and an event) belongs to. */
export const StreamSchema = z.enum(["user", "org"]);
export type Stream = z.infer<typeof StreamSchema>;

/** A token's role. */
export const ROLES = ["admin", "agent", "member", "service"] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

/** An alert's (and a notification's) priority, lowest first. */
export const PRIORITIES = ["LOW", "MEDIUM", "HIGH", "CRITICAL"] as const;
export const PrioritySchema = z.enum(PRIORITIES);
export type Priority = z.infer<typeof PrioritySchema>;

/** An alert's status (docs/ALERTS.md has the transitions). */
export const ALERT_STATUSES = ["PENDING", "ACKNOWLEDGED", "IN_PROGRESS", "RESOLVED", "DISMISSED", "CONVERTED"] as const;
export const AlertStatusSchema = z.enum(ALERT_STATUSES);
export type AlertStatus = z.infer<typeof AlertStatusSchema>;

/** What an alert history entry records. */
export const ALERT_HISTORY_ACTIONS = ["created", "status", "assigned", "converted", "escalated"] as const;
export const AlertHistoryActionSchema = z.enum(ALERT_HISTORY_ACTIONS);
export type AlertHistoryAction = z.infer<typeof AlertHistoryActionSchema>;

/** The channels a notification can go out on (in_app is its record and always kept). */
export const NOTIFICATION_CHANNELS = ["in_app", "realtime", "email", "sms"] as const;
export const NotificationChannelSchema = z.enum(NOTIFICATION_CHANNELS);
export type NotificationChannel = z.infer<typeof NotificationChannelSchema>;
