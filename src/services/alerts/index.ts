/**
 * The alert service (docs/ALERTS.md): create, changes, queries and stats over
 * alerts, the lifecycle in `state`, visibility in `access`. Routes and hubs
 * import from here.
 */
export { alertNotFound, isPrivileged, loadVisible, visibleTo } from "./access";
export { assignAlert, bulkAction, changeStatus, convertAlert } from "./changes";
export { createAlert } from "./create";
export { alertEvent } from "./events";
export { toAlert, toHistoryEntry, type AlertDeps } from "./model";
export { getAlert, getAlertHistory, listAlerts } from "./queries";
export { ACKNOWLEDGING, canTransition, CONVERTIBLE_FROM, STATUS_TRANSITIONS } from "./state";
export { alertDeliveries, MAX_ALERT_DELIVERIES } from "./deliveries";
export { alertStats } from "./stats";
export { alertVolume, MAX_VOLUME_BUCKETS } from "./volume";
