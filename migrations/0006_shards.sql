-- Sharding by organization (README "Shards"; src/db/shards.ts, src/sharding/).
-- Every D1 database in D1_SHARDS gets this migration; the control tables
-- (org_shards, shard_sizes) are only read and written on the first one.
-- org_fence: organizations this database must not take writes for: 'fenced'
-- while a move takes its last copy (no insert, update or delete), 'retired'
-- once the org lives on another shard (no insert or update; the move deletes
-- what is left); 'incoming' on a move's target only keeps the cron's sweeps
-- and retention off the org's rows until the move switches (writes pass). The triggers at the end enforce it inside the database, so a
-- Worker or hub that still holds an old shard map cannot write where the org
-- no longer lives: the statement fails with HERALD_ORG_MOVING and the API
-- answers 503 ORG_MOVING (src/sharding/fence.ts).
CREATE TABLE `org_fence` (
	`org_id` text PRIMARY KEY NOT NULL,
	`mode` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `org_shards` (
	`org_id` text PRIMARY KEY NOT NULL,
	`shard` integer NOT NULL,
	`epoch` integer DEFAULT 0 NOT NULL,
	`move_to` integer,
	`move_state` text,
	`move_table` text,
	`move_cursor` text,
	`move_started_at` integer,
	`move_switched_at` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `shard_sizes` (
	`shard` integer PRIMARY KEY NOT NULL,
	`bytes` integer NOT NULL,
	`measured_at` integer NOT NULL
);
--> statement-breakpoint
-- An existing single-database deployment: its organizations stay on shard 0.
INSERT OR IGNORE INTO `org_shards` (`org_id`, `shard`, `updated_at`) SELECT DISTINCT `org_id`, 0, CAST(unixepoch('subsec') * 1000 AS integer) FROM `users`;
--> statement-breakpoint
INSERT OR IGNORE INTO `org_shards` (`org_id`, `shard`, `updated_at`) SELECT DISTINCT `org_id`, 0, CAST(unixepoch('subsec') * 1000 AS integer) FROM `alerts`;
--> statement-breakpoint
INSERT OR IGNORE INTO `org_shards` (`org_id`, `shard`, `updated_at`) SELECT DISTINCT `org_id`, 0, CAST(unixepoch('subsec') * 1000 AS integer) FROM `notifications`;
--> statement-breakpoint
INSERT OR IGNORE INTO `org_shards` (`org_id`, `shard`, `updated_at`) SELECT DISTINCT `org_id`, 0, CAST(unixepoch('subsec') * 1000 AS integer) FROM `webhooks`;
--> statement-breakpoint
INSERT OR IGNORE INTO `org_shards` (`org_id`, `shard`, `updated_at`) SELECT DISTINCT `org_id`, 0, CAST(unixepoch('subsec') * 1000 AS integer) FROM `routing_rules`;
--> statement-breakpoint
INSERT OR IGNORE INTO `org_shards` (`org_id`, `shard`, `updated_at`) SELECT DISTINCT `org_id`, 0, CAST(unixepoch('subsec') * 1000 AS integer) FROM `realtime_events`;
--> statement-breakpoint
CREATE TRIGGER `alert_assignments_fence_insert` BEFORE INSERT ON `alert_assignments` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `alert_assignments_fence_update` BEFORE UPDATE ON `alert_assignments` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `alert_assignments_fence_delete` BEFORE DELETE ON `alert_assignments` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `alert_history_fence_insert` BEFORE INSERT ON `alert_history` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `alert_history_fence_update` BEFORE UPDATE ON `alert_history` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `alert_history_fence_delete` BEFORE DELETE ON `alert_history` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `alert_recipients_fence_insert` BEFORE INSERT ON `alert_recipients` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `alert_recipients_fence_update` BEFORE UPDATE ON `alert_recipients` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `alert_recipients_fence_delete` BEFORE DELETE ON `alert_recipients` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `alerts_fence_insert` BEFORE INSERT ON `alerts` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `alerts_fence_update` BEFORE UPDATE ON `alerts` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `alerts_fence_delete` BEFORE DELETE ON `alerts` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `deliveries_fence_insert` BEFORE INSERT ON `deliveries` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `deliveries_fence_update` BEFORE UPDATE ON `deliveries` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `deliveries_fence_delete` BEFORE DELETE ON `deliveries` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `dev_outbox_fence_insert` BEFORE INSERT ON `dev_outbox` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `dev_outbox_fence_update` BEFORE UPDATE ON `dev_outbox` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `dev_outbox_fence_delete` BEFORE DELETE ON `dev_outbox` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `idempotency_keys_fence_insert` BEFORE INSERT ON `idempotency_keys` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `idempotency_keys_fence_update` BEFORE UPDATE ON `idempotency_keys` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `idempotency_keys_fence_delete` BEFORE DELETE ON `idempotency_keys` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `notifications_fence_insert` BEFORE INSERT ON `notifications` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `notifications_fence_update` BEFORE UPDATE ON `notifications` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `notifications_fence_delete` BEFORE DELETE ON `notifications` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `preferences_fence_insert` BEFORE INSERT ON `preferences` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `preferences_fence_update` BEFORE UPDATE ON `preferences` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `preferences_fence_delete` BEFORE DELETE ON `preferences` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `realtime_event_acks_fence_insert` BEFORE INSERT ON `realtime_event_acks` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `realtime_event_acks_fence_update` BEFORE UPDATE ON `realtime_event_acks` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `realtime_event_acks_fence_delete` BEFORE DELETE ON `realtime_event_acks` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `realtime_event_targets_fence_insert` BEFORE INSERT ON `realtime_event_targets` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `realtime_event_targets_fence_update` BEFORE UPDATE ON `realtime_event_targets` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `realtime_event_targets_fence_delete` BEFORE DELETE ON `realtime_event_targets` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `realtime_events_fence_insert` BEFORE INSERT ON `realtime_events` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `realtime_events_fence_update` BEFORE UPDATE ON `realtime_events` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `realtime_events_fence_delete` BEFORE DELETE ON `realtime_events` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `routing_rules_fence_insert` BEFORE INSERT ON `routing_rules` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `routing_rules_fence_update` BEFORE UPDATE ON `routing_rules` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `routing_rules_fence_delete` BEFORE DELETE ON `routing_rules` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `users_fence_insert` BEFORE INSERT ON `users` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `users_fence_update` BEFORE UPDATE ON `users` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `users_fence_delete` BEFORE DELETE ON `users` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `webhooks_fence_insert` BEFORE INSERT ON `webhooks` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `webhooks_fence_update` BEFORE UPDATE ON `webhooks` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `webhooks_fence_delete` BEFORE DELETE ON `webhooks` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `ws_tickets_fence_insert` BEFORE INSERT ON `ws_tickets` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = NEW.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `ws_tickets_fence_update` BEFORE UPDATE ON `ws_tickets` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode <> 'incoming') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
--> statement-breakpoint
CREATE TRIGGER `ws_tickets_fence_delete` BEFORE DELETE ON `ws_tickets` WHEN EXISTS (SELECT 1 FROM org_fence WHERE org_id = OLD.org_id AND mode = 'fenced') BEGIN SELECT RAISE(ABORT, 'HERALD_ORG_MOVING'); END;
