-- An alert's notifications across its recipients (GET /api/v1/alerts/{id}/deliveries reads the
-- sources "alert:<id>:..." as a range on (org_id, source)), and re-queuing a cause's deliveries:
-- notifications_source_unique is (org_id, user_id, source), which serves neither without the user.
CREATE INDEX `notifications_org_source_idx` ON `notifications` (`org_id`,`source`);
