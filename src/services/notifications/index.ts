/**
 * The notification service (docs/NOTIFICATIONS.md): planning and creating
 * notifications, the inbox, their outbound deliveries, channel rules,
 * preferences and in-app templates. Routes, hubs and other services import
 * from here.
 */
export { PRIORITY_MATRIX, quietUntil, route, type NotificationChannel, type Route } from "./channel-rules";
export { notificationDeliveries, requeueDeliveriesOf, requeueDeliveriesOfSource, requeueStaleDeliveries, toDelivery } from "./deliveries";
export { changeNotification, listNotifications, markAll, notificationCounts, unreadCounts } from "./inbox";
export { notificationDeps, notificationNotFound, toNotification, type NotificationDeps, type NotifyInput } from "./model";
export { createNotifications, notifyOrgAdmins, notifyUsers, requireProducer, type CreateNotificationsInput } from "./notify";
export {
  finishNotifications,
  loadNotifyContext,
  notificationStatements,
  planNotifications,
  type NotificationPlan,
  type NotifyContext,
} from "./plan";
export {
  allows,
  effective,
  effectiveFor,
  effectiveFrom,
  getMyPreferences,
  getOrgPreferences,
  PREFERENCE_CHANNELS,
  PreferencesSchema,
  preferenceRowsQuery,
  putMyPreferences,
  putOrgPreferences,
  QuietHoursSchema,
  turnOffEmailType,
  type EffectivePreferences,
  type PreferenceChannel,
  type Preferences,
  type QuietHours,
} from "./preferences";
export { renderTemplate, TEMPLATES, type NotificationTemplate, type TemplateKey } from "./templates";
