-- Fewer D1 rows written per alert (issue 14; docs/COST.md "Per-operation counts").
-- D1 bills every index entry an INSERT or UPDATE writes as a row, so each index
-- here is kept only where a query needs it (test/rows-written.test.ts measures
-- the rows, and checks the query plans that use these indexes).
--
-- realtime_events: the sweep (unpublished, oldest first) and an idempotent
-- retry (unpublished, by source) both read the unpublished events, which are
-- only the few in flight: one partial index on them serves both, and marking an
-- event published removes its entry instead of rewriting it. The (org_id,
-- source) index was not chosen by the planner for any query.
DROP INDEX `realtime_events_unpublished_idx`;--> statement-breakpoint
DROP INDEX `realtime_events_source_idx`;--> statement-breakpoint
CREATE INDEX `realtime_events_unpublished_idx` ON `realtime_events` (`created_at`) WHERE `published_at` IS NULL AND `failed_at` IS NULL;--> statement-breakpoint
-- realtime_event_targets: a target is a user stream or a channel, never both;
-- each index holds only the rows it can find.
DROP INDEX `realtime_targets_user_idx`;--> statement-breakpoint
DROP INDEX `realtime_targets_channel_idx`;--> statement-breakpoint
CREATE INDEX `realtime_targets_user_idx` ON `realtime_event_targets` (`org_id`,`user_id`,`pos`) WHERE `user_id` IS NOT NULL;--> statement-breakpoint
CREATE INDEX `realtime_targets_channel_idx` ON `realtime_event_targets` (`org_id`,`channel`,`pos`) WHERE `channel` IS NOT NULL;--> statement-breakpoint
-- notifications: one unique index by cause serves "one per user per cause"
-- and "an alert's notifications across users" (a range on (org_id, source));
-- a user's unread counts and lists read (org_id, user_id) through
-- notifications_user_created_idx, so the read_at index only cost writes.
DROP INDEX `notifications_source_unique`;--> statement-breakpoint
DROP INDEX `notifications_org_source_idx`;--> statement-breakpoint
DROP INDEX `notifications_user_unread_idx`;--> statement-breakpoint
CREATE UNIQUE INDEX `notifications_org_source_idx` ON `notifications` (`org_id`,`source`,`user_id`);
--> statement-breakpoint
-- deliveries: a delivery is a notification's (email, SMS) or a webhook's; each
-- index holds only the rows its queries (notification_id = ?, webhook_id = ?) find.
DROP INDEX `deliveries_notification_idx`;--> statement-breakpoint
DROP INDEX `deliveries_webhook_idx`;--> statement-breakpoint
CREATE INDEX `deliveries_notification_idx` ON `deliveries` (`notification_id`) WHERE `notification_id` IS NOT NULL;--> statement-breakpoint
CREATE INDEX `deliveries_webhook_idx` ON `deliveries` (`org_id`,`webhook_id`,`created_at`) WHERE `webhook_id` IS NOT NULL;--> statement-breakpoint
-- alerts: creating an alert no longer writes alert_history rows for its
-- creation and initial assignment (two rows with their indexes); the history
-- reads them from these columns (src/services/alerts/model.ts, creationEntries).
ALTER TABLE `alerts` ADD `created_assignee_id` text;--> statement-breakpoint
ALTER TABLE `alerts` ADD `created_note` text;
