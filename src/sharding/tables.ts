/**
 * Every org-scoped D1 table (all of Herald's tables but the control tables),
 * with the key a move compares rows by. test/shards.test.ts checks this list
 * against the migrated schema: a table with an `org_id` column missing here,
 * or without its fence triggers, fails the suite, so no table escapes a move.
 */
export interface OrgTable {
  name: string;
  /** The primary key's columns, in order (rows are copied and compared in this order). */
  key: readonly string[];
  /**
   * Realtime event targets: `pos` is the shard's own polling order (an
   * AUTOINCREMENT), so copied rows get new positions on the target, appended
   * in the source's order; they are matched by `natural` instead.
   */
  appendOnly?: { natural: readonly string[] };
}

/** In copy order: realtime_events before their targets (a move drops targets whose event is gone). */
export const ORG_TABLES: readonly OrgTable[] = [
  { name: "users", key: ["org_id", "id"] },
  { name: "preferences", key: ["org_id", "user_id"] },
  { name: "webhooks", key: ["id"] },
  { name: "routing_rules", key: ["id"] },
  { name: "alerts", key: ["id"] },
  { name: "alert_recipients", key: ["alert_id", "user_id"] },
  { name: "alert_history", key: ["id"] },
  { name: "alert_assignments", key: ["id"] },
  { name: "notifications", key: ["id"] },
  { name: "deliveries", key: ["id"] },
  { name: "dev_outbox", key: ["id"] },
  { name: "idempotency_keys", key: ["org_id", "scope", "key"] },
  { name: "ws_tickets", key: ["hash"] },
  { name: "realtime_events", key: ["id"] },
  { name: "realtime_event_targets", key: ["pos"], appendOnly: { natural: ["event_id", "user_id", "channel"] } },
  { name: "realtime_event_acks", key: ["org_id", "user_id", "event_id"] },
];

/** Tables that hold no org's rows: the control data and the fence. */
export const CONTROL_TABLES: readonly string[] = ["org_shards", "shard_sizes", "org_fence"];
