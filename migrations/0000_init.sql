CREATE TABLE `alert_history` (
	`id` text PRIMARY KEY NOT NULL,
	`alert_id` text NOT NULL,
	`org_id` text NOT NULL,
	`actor_id` text NOT NULL,
	`action` text NOT NULL,
	`from_status` text,
	`to_status` text,
	`assignee_id` text,
	`note` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `alert_history_alert_idx` ON `alert_history` (`alert_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `alert_recipients` (
	`alert_id` text NOT NULL,
	`org_id` text NOT NULL,
	`user_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`alert_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `alert_recipients_user_idx` ON `alert_recipients` (`org_id`,`user_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`alert_type` text NOT NULL,
	`priority` text NOT NULL,
	`status` text DEFAULT 'PENDING' NOT NULL,
	`confidence` real,
	`title` text NOT NULL,
	`message` text,
	`subject_id` text,
	`subject_email` text,
	`subject_name` text,
	`data` text DEFAULT '{}' NOT NULL,
	`assignee_id` text,
	`recipients` text DEFAULT '[]' NOT NULL,
	`model_version` text,
	`signal_count` integer,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`acknowledged_at` integer,
	`assigned_at` integer,
	`resolved_at` integer,
	`converted_at` integer,
	`conversion_value` real,
	`conversion_type` text,
	`last_change_id` text
);
--> statement-breakpoint
CREATE INDEX `alerts_org_created_idx` ON `alerts` (`org_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `alerts_org_status_created_idx` ON `alerts` (`org_id`,`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `alerts_org_assignee_created_idx` ON `alerts` (`org_id`,`assignee_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`org_id` text NOT NULL,
	`scope` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`status_code` integer NOT NULL,
	`response_body` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`org_id`, `scope`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_expires_idx` ON `idempotency_keys` (`expires_at`);--> statement-breakpoint
CREATE TABLE `users` (
	`org_id` text NOT NULL,
	`id` text NOT NULL,
	`email` text,
	`name` text,
	`phone` text,
	`role` text DEFAULT 'member' NOT NULL,
	`departments` text DEFAULT '[]' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`last_seen_at` integer,
	PRIMARY KEY(`org_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `users_org_role_idx` ON `users` (`org_id`,`role`);