-- Alert routing (issue 13, docs/ROUTING.md): agent profiles on the directory,
-- the org's ordered, versioned rules, and every assignment with its rule and reason.
CREATE TABLE `alert_assignments` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`alert_id` text NOT NULL,
	`kind` text NOT NULL,
	`agent_id` text,
	`previous_agent_id` text,
	`rule_id` text,
	`rule_name` text,
	`rule_version` integer,
	`strategy` text,
	`reason` text NOT NULL,
	`level` integer DEFAULT 0 NOT NULL,
	`actor_id` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `alert_assignments_alert_idx` ON `alert_assignments` (`alert_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `alert_assignments_org_created_idx` ON `alert_assignments` (`org_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `routing_rules` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`position` integer NOT NULL,
	`version` integer NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`match` text DEFAULT '{}' NOT NULL,
	`strategy` text NOT NULL,
	`params` text DEFAULT '{}' NOT NULL,
	`escalation` text,
	`fallthrough` integer DEFAULT true NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `routing_rules_org_position_idx` ON `routing_rules` (`org_id`,`position`);--> statement-breakpoint
ALTER TABLE `users` ADD `territories` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `skills` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `capacity` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `availability` text DEFAULT 'available' NOT NULL;