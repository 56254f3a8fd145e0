DROP INDEX `realtime_events_unpublished_idx`;--> statement-breakpoint
ALTER TABLE `realtime_events` ADD `attempts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `realtime_events` ADD `failed_at` integer;--> statement-breakpoint
CREATE INDEX `realtime_events_unpublished_idx` ON `realtime_events` (`published_at`,`failed_at`,`created_at`);