import type { Alert, AlertStats, AlertStatus, Notification, Priority } from "../../../src/protocol/index";
import { queryString, type Http } from "./http";

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
