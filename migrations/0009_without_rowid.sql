-- Alerts and notifications become WITHOUT ROWID tables: the row is stored in
-- its primary-key b-tree, so an insert no longer writes a rowid row plus a
-- separate primary-key index entry (D1 bills both): a reference alert create
-- writes 25 D1 rows instead of 27 (test/rows-written.test.ts). drizzle's
-- schema cannot say WITHOUT ROWID: a future migration that recreates either
-- table must keep it (test/shards.test.ts checks the stored schema).
-- The tables are rebuilt with their indexes and their shard fence triggers.
CREATE TABLE `__new_alerts` (
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
	`last_change_id` text,
	`created_assignee_id` text,
	`created_note` text
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_alerts` (`id`, `org_id`, `alert_type`, `priority`, `status`, `confidence`, `title`, `message`, `subject_id`, `subject_email`, `subject_name`, `data`, `assignee_id`, `recipients`, `model_version`, `signal_count`, `created_by`, `created_at`, `updated_at`, `acknowledged_at`, `assigned_at`, `resolved_at`, `converted_at`, `conversion_value`, `conversion_type`, `last_change_id`, `created_assignee_id`, `created_note`) SELECT `id`, `org_id`, `alert_type`, `priority`, `status`, `confidence`, `title`, `message`, `subject_id`, `subject_email`, `subject_name`, `data`, `assignee_id`, `recipients`, `model_version`, `signal_count`, `created_by`, `created_at`, `updated_at`, `acknowledged_at`, `assigned_at`, `resolved_at`, `converted_at`, `conversion_value`, `conversion_type`, `last_change_id`, `created_assignee_id`, `created_note` FROM `alerts`;
--> statement-breakpoint
DROP TABLE `alerts`;
--> statement-breakpoint
ALTER TABLE `__new_alerts` RENAME TO `alerts`;
--> statement-breakpoint
CREATE INDEX `alerts_org_assignee_created_idx` ON `alerts` (`org_id`,`assignee_id`,`created_at`);
--> statement-breakpoint
CREATE INDEX `alerts_org_created_idx` ON `alerts` (`org_id`,`created_at`,`id`);
--> statement-breakpoint
CREATE INDEX `alerts_org_status_created_idx` ON `alerts` (`org_id`,`status`,`created_at`);
--> statement-breakpoint
CREATE TRIGGER `alerts_fence_insert` BEFORE INSERT ON `alerts` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `alerts_fence_update` BEFORE UPDATE ON `alerts` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `alerts_fence_delete` BEFORE DELETE ON `alerts` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TABLE `__new_notifications` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`user_id` text NOT NULL,
	`type` text NOT NULL,
	`title` text NOT NULL,
	`message` text,
	`action_url` text,
	`action_text` text,
	`priority` text NOT NULL,
	`data` text DEFAULT '{}' NOT NULL,
	`channels` text DEFAULT '[]' NOT NULL,
	`source` text,
	`created_at` integer NOT NULL,
	`seen_at` integer,
	`read_at` integer,
	`archived_at` integer,
	`deleted_at` integer
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_notifications` (`id`, `org_id`, `user_id`, `type`, `title`, `message`, `action_url`, `action_text`, `priority`, `data`, `channels`, `source`, `created_at`, `seen_at`, `read_at`, `archived_at`, `deleted_at`) SELECT `id`, `org_id`, `user_id`, `type`, `title`, `message`, `action_url`, `action_text`, `priority`, `data`, `channels`, `source`, `created_at`, `seen_at`, `read_at`, `archived_at`, `deleted_at` FROM `notifications`;
--> statement-breakpoint
DROP TABLE `notifications`;
--> statement-breakpoint
ALTER TABLE `__new_notifications` RENAME TO `notifications`;
--> statement-breakpoint
CREATE UNIQUE INDEX `notifications_org_source_idx` ON `notifications` (`org_id`,`source`,`user_id`);
--> statement-breakpoint
CREATE INDEX `notifications_user_created_idx` ON `notifications` (`org_id`,`user_id`,`created_at`,`id`);
--> statement-breakpoint
CREATE TRIGGER `notifications_fence_insert` BEFORE INSERT ON `notifications` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `notifications_fence_update` BEFORE UPDATE ON `notifications` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `notifications_fence_delete` BEFORE DELETE ON `notifications` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
