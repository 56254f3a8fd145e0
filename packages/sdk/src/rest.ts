import type {
  Alert,
  AlertHistoryAction,
  AlertStats,
  AlertStatus,
  Assignment,
  Availability,
  ConnectionInfo,
  Notification,
  PresenceInfo,
  Priority,
  RealtimeStats,
  Role,
} from "../../../src/protocol/index";
import { queryString, type Http } from "./http";

export type { Assignment };

/** A page of a list; pass `nextCursor` as `cursor` for the next one (null at the end). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Filters of `GET /api/v1/alerts`. */
export interface AlertFilters {
  status?: AlertStatus | AlertStatus[];
  priority?: Priority | Priority[];
  type?: string;
  assigneeId?: string;
  /** Created at or after (ISO 8601). */
  since?: string;
  /** Created before (ISO 8601). */
  until?: string;
  minConfidence?: number;
  /** Text in the title or the subject's id, email or name. */
  q?: string;
  limit?: number;
  cursor?: string;
}

/** Filters of `GET /api/v1/notifications`. */
export interface NotificationFilters {
  status?: "unread" | "read" | "all";
  archived?: boolean;
  limit?: number;
  cursor?: string;
}

/** `GET /api/v1/notifications/counts`. */
export interface NotificationCounts {
  unread: number;
  unseen: number;
  total: number;
}

/** Channel switches of notification preferences. */
export type ChannelSwitches = Partial<Record<"realtime" | "email" | "sms", boolean>>;

/** A user's (or the org's) notification preferences, as `PUT /api/v1/me/preferences` takes them. */
export interface Preferences {
  channels?: ChannelSwitches;
  types?: Record<string, ChannelSwitches>;
  quietHours?: { start: string; end: string; timeZone: string } | null;
}

/** `GET /api/v1/me/preferences`: the user's own, the org defaults and what applies (channels, types, quiet hours). */
export interface MyPreferences {
  preferences: Preferences;
  orgDefaults: Preferences;
  effective: Record<string, unknown>;
}

/** One entry of an alert's audit trail (`GET /api/v1/alerts/{id}/history`), oldest first. */
export interface AlertHistoryEntry {
  id: string;
  action: AlertHistoryAction;
  actorId: string;
  fromStatus: AlertStatus | null;
  toStatus: AlertStatus | null;
  assigneeId: string | null;
  note: string | null;
  createdAt: string;
}

/** The bulk actions of `POST /api/v1/alerts/bulk`. */
export type BulkAction = { action: "acknowledge" | "dismiss"; ids: string[] } | { action: "assign"; ids: string[]; agentId: string };

/** `POST /api/v1/alerts/bulk`: one result per id, in the order sent. */
export interface BulkResult {
  results: { id: string; ok: boolean; alert?: Alert; error?: { code: string; message: string } }[];
  succeeded: number;
  failed: number;
}

/** An outbound delivery (email, SMS, webhook) of a notification, with its attempts. */
export interface Delivery {
  id: string;
  channel: "email" | "sms" | "webhook";
  address: string | null;
  status: "queued" | "sent" | "failed" | "skipped" | "deferred";
  attempts: number;
  provider: string | null;
  providerMessageId: string | null;
  lastError: string | null;
  scheduledFor: string | null;
  createdAt: string;
  updatedAt: string;
  sentAt: string | null;
}

/** A delivery of one of an alert's notifications (`GET /api/v1/alerts/{id}/deliveries`): whose and which. */
export interface AlertDelivery extends Delivery {
  notificationId: string;
  userId: string;
}

/** `GET /api/v1/alerts/volume`: alerts created per bucket, oldest first, empty buckets included. */
export interface AlertVolume {
  bucket: "hour" | "day";
  since: string;
  until: string;
  items: { start: string; count: number }[];
}

/** A directory entry (`GET /api/v1/users`). */
export interface User {
  id: string;
  organizationId: string;
  email: string | null;
  name: string | null;
  phone: string | null;
  role: Role;
  departments: string[];
  /** Agent profile (routing): region codes or postal prefixes. */
  territories: string[];
  /** Agent profile (routing): the alert types the agent handles. */
  skills: string[];
  /** Agent profile (routing): most open alerts routing gives them; null: the deployment's default. */
  capacity: number | null;
  /** `available` agents only are routed to. */
  availability: Availability;
  createdAt: string;
  updatedAt: string;
  lastSeenAt: string | null;
}

/** Filters of `GET /api/v1/users` (admin, service). */
export interface UserFilters {
  /** Text in the id, name or email. */
  q?: string;
  role?: Role | Role[];
  limit?: number;
  cursor?: string;
}

const csv = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(",") : v);
const id = encodeURIComponent;

/** Typed wrappers of the REST API's alert, notification and preference routes. */
export function restApi(http: Http) {
  return {
    alerts: {
      /** `GET /api/v1/alerts`: newest first, filtered. */
      list: (filters: AlertFilters = {}) =>
        http.request<Page<Alert>>("GET", `/api/v1/alerts${queryString({ ...filters, status: csv(filters.status), priority: csv(filters.priority) })}`),
      /** `GET /api/v1/alerts/{id}`. */
      get: (alertId: string) => http.request<Alert>("GET", `/api/v1/alerts/${id(alertId)}`),
      /** `GET /api/v1/alerts/stats`. */
      stats: (window: { since?: string; until?: string } = {}) => http.request<AlertStats>("GET", `/api/v1/alerts/stats${queryString(window)}`),
      /** `PATCH /api/v1/alerts/{id}/status`. */
      updateStatus: (alertId: string, status: AlertStatus, note?: string) =>
        http.request<Alert>("PATCH", `/api/v1/alerts/${id(alertId)}/status`, { status, ...(note !== undefined && { note }) }),
      /** `POST /api/v1/alerts/{id}/assign`. */
      assign: (alertId: string, agentId: string, note?: string) =>
        http.request<Alert>("POST", `/api/v1/alerts/${id(alertId)}/assign`, { agentId, ...(note !== undefined && { note }) }),
      /** `POST /api/v1/alerts/{id}/convert`. */
      convert: (alertId: string, body: { conversionValue: number; conversionType: string; note?: string }) =>
        http.request<Alert>("POST", `/api/v1/alerts/${id(alertId)}/convert`, body),
      /** `POST /api/v1/alerts/bulk`: up to 100 ids, a result per id. */
      bulk: (body: BulkAction) => http.request<BulkResult>("POST", "/api/v1/alerts/bulk", body),
      /** `GET /api/v1/alerts/{id}/history`: the audit trail, oldest first. */
      history: (alertId: string) => http.request<{ items: AlertHistoryEntry[] }>("GET", `/api/v1/alerts/${id(alertId)}/history`),
      /**
       * `GET /api/v1/alerts/{id}/deliveries`: the outbound deliveries of the alert's notifications (yours only, unless admin
       * or service), oldest first; at most 500, `truncated` when there are more.
       */
      deliveries: (alertId: string) =>
        http.request<{ items: AlertDelivery[]; truncated: boolean }>("GET", `/api/v1/alerts/${id(alertId)}/deliveries`),
      /**
       * `GET /api/v1/alerts/{id}/assignments`: how the alert reached each assignee (routed, queued, manual, escalated) with
       * rule and reason, oldest first; at most 500, `truncated` when there are more.
       */
      assignments: (alertId: string) =>
        http.request<{ items: Assignment[]; truncated: boolean }>("GET", `/api/v1/alerts/${id(alertId)}/assignments`),
      /** `GET /api/v1/alerts/volume`: alerts created per hour or day over a window (default: the last 24 hours by hour). */
      volume: (window: { since?: string; until?: string; bucket?: "hour" | "day" } = {}) =>
        http.request<AlertVolume>("GET", `/api/v1/alerts/volume${queryString(window)}`),
    },
    users: {
      /** `GET /api/v1/users`: the org's directory (admin, service), by name. */
      list: (filters: UserFilters = {}) => http.request<Page<User>>("GET", `/api/v1/users${queryString({ ...filters, role: csv(filters.role) })}`),
      /** `GET /api/v1/users/{id}`. */
      get: (userId: string) => http.request<User>("GET", `/api/v1/users/${id(userId)}`),
    },
    realtime: {
      /** `GET /api/v1/realtime/presence`: every user seen in the org (admin, service). */
      presence: () => http.request<{ items: PresenceInfo[] }>("GET", "/api/v1/realtime/presence"),
      /** `GET /api/v1/realtime/connections`: every open connection (admin). */
      connections: () => http.request<{ items: ConnectionInfo[]; truncated: boolean }>("GET", "/api/v1/realtime/connections"),
      /** `GET /api/v1/realtime/stats`: connections, channels, message counts (admin). */
      stats: () => http.request<RealtimeStats>("GET", "/api/v1/realtime/stats"),
    },
    notifications: {
      /** `GET /api/v1/notifications`: newest first. */
      list: (filters: NotificationFilters = {}) => http.request<Page<Notification>>("GET", `/api/v1/notifications${queryString({ ...filters })}`),
      /** `GET /api/v1/notifications/counts`. */
      counts: () => http.request<NotificationCounts>("GET", "/api/v1/notifications/counts"),
      /** `POST /api/v1/notifications/{id}/read`. */
      read: (notificationId: string) => http.request<Notification>("POST", `/api/v1/notifications/${id(notificationId)}/read`),
      /** `POST /api/v1/notifications/{id}/unread`. */
      unread: (notificationId: string) => http.request<Notification>("POST", `/api/v1/notifications/${id(notificationId)}/unread`),
      /** `POST /api/v1/notifications/{id}/archive`. */
      archive: (notificationId: string) => http.request<Notification>("POST", `/api/v1/notifications/${id(notificationId)}/archive`),
      /** `POST /api/v1/notifications/read-all`. */
      readAll: () => http.request<{ updated: number }>("POST", "/api/v1/notifications/read-all"),
      /** `GET /api/v1/notifications/{id}/deliveries`. */
      deliveries: (notificationId: string) => http.request<{ items: Delivery[] }>("GET", `/api/v1/notifications/${id(notificationId)}/deliveries`),
      /** `POST /api/v1/notifications/seen-all` (the bell was opened). */
      seenAll: () => http.request<{ updated: number }>("POST", "/api/v1/notifications/seen-all"),
    },
    preferences: {
      /** `GET /api/v1/me/preferences`. */
      get: () => http.request<MyPreferences>("GET", "/api/v1/me/preferences"),
      /** `PUT /api/v1/me/preferences`: replaces the user's own preferences. */
      put: (prefs: Preferences) => http.request<MyPreferences>("PUT", "/api/v1/me/preferences", prefs),
    },
  };
}

/** The REST helpers' type. */
export type RestApi = ReturnType<typeof restApi>;
