CREATE TABLE `realtime_event_acks` (
	`org_id` text NOT NULL,
	`user_id` text NOT NULL,
	`event_id` text NOT NULL,
	`acked_at` integer NOT NULL,
	PRIMARY KEY(`org_id`, `user_id`, `event_id`)
);
--> statement-breakpoint
CREATE INDEX `realtime_acks_acked_idx` ON `realtime_event_acks` (`acked_at`);--> statement-breakpoint
CREATE TABLE `realtime_event_targets` (
	`pos` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`event_id` text NOT NULL,
	`org_id` text NOT NULL,
	`user_id` text,
	`channel` text,
	`dept` text,
	`queue` text
);
--> statement-breakpoint
CREATE INDEX `realtime_targets_user_idx` ON `realtime_event_targets` (`org_id`,`user_id`,`pos`);--> statement-breakpoint
CREATE INDEX `realtime_targets_channel_idx` ON `realtime_event_targets` (`org_id`,`channel`,`pos`);--> statement-breakpoint
CREATE INDEX `realtime_targets_event_idx` ON `realtime_event_targets` (`event_id`);--> statement-breakpoint
CREATE TABLE `realtime_events` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`type` text NOT NULL,
	`data` text NOT NULL,
	`source` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`published_at` integer
);
--> statement-breakpoint
CREATE INDEX `realtime_events_unpublished_idx` ON `realtime_events` (`published_at`,`created_at`);--> statement-breakpoint
CREATE INDEX `realtime_events_expires_idx` ON `realtime_events` (`expires_at`);--> statement-breakpoint
CREATE INDEX `realtime_events_source_idx` ON `realtime_events` (`org_id`,`source`);--> statement-breakpoint
CREATE TABLE `ws_tickets` (
	`hash` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`email` text,
	`name` text,
	`token_expires_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer
);
--> statement-breakpoint
CREATE INDEX `ws_tickets_expires_idx` ON `ws_tickets` (`expires_at`);