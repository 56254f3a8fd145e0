// The retention model: what one organization keeps in D1 (and has put in the
// R2 archive) `day` days after launch, from daily inflows and bytes per row.
// Used by bench/growth.mjs (with the bytes it measured) and by
// bench/cost-model.mjs (storage lines). Pure arithmetic, no I/O.

/** D1's maximum database size (Cloudflare's limit: 10 GB; 10⁹ bytes here, the stricter reading). */
export const D1_MAX_BYTES = 10e9;

/**
 * @typedef {object} OrgFlow What one org does per day and what it costs per row.
 * @property {number} users
 * @property {number} alertsPerDay
 * @property {number} openShare        alerts never closed (never deleted)
 * @property {number} unreadShare      notifications never read nor archived (never deleted)
 * @property {number} notificationsPerAlert
 * @property {number} deliveriesPerAlert
 * @property {{alert: number, notification: number, delivery: number, eventsPerAlert: number, idempotencyPerAlert: number, otherPerAlert: number, directoryPerUser: number}} bytes
 *   D1 bytes (table + index pages) per row of each kind; events, idempotency keys and other per alert created
 * @property {{alert: number, notification: number}} archiveBytes  R2 bytes per archived row (gzip NDJSON)
 * @property {number} archiveRowsPerObject rows per R2 object (one org, one batch)
 * @property {{alertDays: number, notificationDays: number, deliveryDays: number, eventDays: number, idempotencyDays: number}} retention
 */

/**
 * What one org holds `day` days after launch with retention on. A closed
 * alert is taken as closed the day it was created (it leaves ALERT_RETENTION_DAYS
 * after its last change: a later close only delays that), a notification is
 * due NOTIFICATION_RETENTION_DAYS after its creation once read, a delivery
 * DELIVERY_RETENTION_DAYS after it was sent; events and idempotency keys live
 * one TTL. Returns {d1: {bytes by kind, total}, rows: {alerts, notifications,
 * deliveries}, r2: {bytes, objects, rows}}.
 */
export function orgAt(f, day) {
  const r = f.retention;
  const A = f.alertsPerDay;
  const kept = (days) => Math.min(day, days);
  const gone = (days) => Math.max(0, day - days);
  const alerts = A * (f.openShare * day + (1 - f.openShare) * kept(r.alertDays));
  const N = A * f.notificationsPerAlert;
  const notifications = N * (f.unreadShare * day + (1 - f.unreadShare) * kept(r.notificationDays));
  const deliveries = A * f.deliveriesPerAlert * kept(r.deliveryDays);
  const d1 = {
    alerts: alerts * f.bytes.alert,
    notifications: notifications * f.bytes.notification,
    deliveries: deliveries * f.bytes.delivery,
    events: A * kept(r.eventDays) * f.bytes.eventsPerAlert,
    idempotency: A * kept(r.idempotencyDays) * f.bytes.idempotencyPerAlert,
    other: A * day * f.bytes.otherPerAlert,
    directory: f.users * f.bytes.directoryPerUser,
  };
  d1.total = Object.values(d1).reduce((a, b) => a + b, 0);
  const archivedAlerts = A * (1 - f.openShare) * gone(r.alertDays);
  const archivedNotifications = N * (1 - f.unreadShare) * gone(r.notificationDays);
  return {
    d1,
    rows: { alerts, notifications, deliveries },
    r2: {
      rows: archivedAlerts + archivedNotifications,
      bytes: archivedAlerts * f.archiveBytes.alert + archivedNotifications * f.archiveBytes.notification,
      objects: (archivedAlerts + archivedNotifications) / f.archiveRowsPerObject,
    },
  };
}

/**
 * Orgs per shard when `orgs` equal orgs are placed one by one on the
 * least-full shard: as even as whole orgs allow (an org never spans shards).
 */
export function orgsPerShard(orgs, shards) {
  return Array.from({ length: shards }, (_, i) => Math.floor(orgs / shards) + (i < orgs % shards ? 1 : 0));
}

/**
 * Month-by-month D1 bytes per shard (30-day months) for `orgs` orgs of flow
 * `f` on `shards` shards, plus the month-`months` breakdown per shard, the
 * month each shard passes D1_MAX_BYTES (null: not within `months`), and R2.
 */
export function projectShards(f, { orgs, shards, months = 12 }) {
  const placement = orgsPerShard(orgs, shards);
  const rows = [];
  for (let m = 1; m <= months; m++) {
    const org = orgAt(f, 30 * m);
    rows.push({ month: m, shards: placement.map((n) => n * org.d1.total), r2Bytes: orgs * org.r2.bytes, r2Objects: orgs * org.r2.objects });
  }
  const last = orgAt(f, 30 * months);
  return {
    placement,
    rows,
    final: placement.map((n) => Object.fromEntries(Object.entries(last.d1).map(([k, v]) => [k, n * v]))),
    finalRows: placement.map((n) => Object.fromEntries(Object.entries(last.rows).map(([k, v]) => [k, n * v]))),
    fullAtMonth: placement.map((_, i) => rows.find((r) => r.shards[i] >= D1_MAX_BYTES)?.month ?? null),
    everyShardUnder: rows.every((r) => r.shards.every((b) => b < D1_MAX_BYTES)),
  };
}

/**
 * The fewest shards (at most one org each) that keep every shard under
 * D1_MAX_BYTES through `months`, or null when one org alone outgrows a database.
 */
export function shardsNeeded(f, { orgs, months = 12 }) {
  for (let s = 1; s <= orgs; s++) if (projectShards(f, { orgs, shards: s, months }).everyShardUnder) return s;
  return null;
}

/**
 * The longest ALERT_RETENTION_DAYS (whole days, ≤ `maxDays`) that keeps every
 * one of `shards` shards under D1_MAX_BYTES through `months`, or null if even one day does not.
 */
export function alertDaysThatFit(f, { orgs, shards, months = 12, maxDays = 36_500 }) {
  const fits = (d) => projectShards({ ...f, retention: { ...f.retention, alertDays: d } }, { orgs, shards, months }).everyShardUnder;
  if (!fits(1)) return null;
  let lo = 1;
  let hi = maxDays;
  if (fits(hi)) return hi;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}
