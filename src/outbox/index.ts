/**
 * The outbox layer: the Worker side of publishing. Event rows (`events`),
 * dispatch to the hubs (`hubs`), staging and publishing (`publish`), webhook
 * fan-out (`webhooks`), retries and the cron sweep (`sweep`), and the port
 * services depend on (`port`). Durable Object classes live in src/realtime/.
 */
export { eventStatements, eventsStatements, recordPublished, type EventGuard, type OutboundEvent } from "./events";
export { deliverToHubs, orgHub, userHub, userHubName, type DeliveryReport, type RefreshUnread } from "./hubs";
export { deliverEvents, markPublished, publishStaged, stageEvents, type DeliverOptions, type StageOptions, type StagedEvents } from "./publish";
export { realtimePort, type RealtimePort } from "./port";
export { publishPendingFor, purgeExpiredRealtime, sweepUnpublished, type SweepReport } from "./sweep";
export {
  enabledEndpointsQuery,
  enqueueWebhookDeliveries,
  insertAndEnqueueWebhookDeliveries,
  newWebhookDelivery,
  patternMatches,
  planWebhookDeliveries,
  webhookDedupeKey,
  webhookDeliveryStatements,
  type WebhookEndpoint,
  type WebhookPayload,
} from "./webhooks";
