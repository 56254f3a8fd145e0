#!/usr/bin/env node
// The cost model of docs/COST.md as a calculator: monthly Cloudflare cost of
// a Herald workload, with and without WebSocket hibernation.
//
//   node bench/cost-model.mjs                         # the reference workload
//   node bench/cost-model.mjs --usersPerOrg=200 --alertsPerUserDay=20 --month=12
//   node bench/cost-model.mjs --json
//
// Every parameter below can be overridden as --name=value. Prices are the
// published Workers Paid prices (USD) as of 2026-11; see docs/COST.md.
import { parseArgs } from "node:util";
import { orgAt } from "./lib/growth-project.mjs";

export const PRICES = {
  workersBase: 5, // $/month, Workers Paid subscription
  workersRequestsIncluded: 10e6,
  workersPerMRequests: 0.3,
  workersCpuMsIncluded: 30e6,
  workersPerMCpuMs: 0.02,
  doRequestsIncluded: 1e6,
  doPerMRequests: 0.15,
  doGbSIncluded: 400_000,
  doPerMGbS: 12.5,
  doObjectGb: 0.128, // duration is billed at 128 MB per active object
  doWsIncomingRatio: 20, // 20 incoming WebSocket messages = 1 request
  sqlRowsReadIncluded: 25e9, // DO SQLite storage and D1 alike
  sqlPerMRowsRead: 0.001,
  sqlRowsWrittenIncluded: 50e6,
  sqlPerMRowsWritten: 1.0,
  doStorageGbIncluded: 5,
  doPerGbMonth: 0.2,
  d1StorageGbIncluded: 5,
  d1PerGbMonth: 0.75,
  queuesOpsIncluded: 1e6,
  queuesPerMOps: 0.4,
  // R2 Standard (the retention archive), as of 2026-11: check before relying on it.
  r2StorageGbIncluded: 10,
  r2PerGbMonth: 0.015,
  r2ClassAIncluded: 1e6, // PUT, LIST…
  r2PerMClassA: 4.5,
  r2ClassBIncluded: 10e6, // GET, HEAD…
  r2PerMClassB: 0.36,
};

export const DEFAULTS = {
  orgs: 10,
  usersPerOrg: 1000,
  hoursOnline: 8,
  devices: 1.5,
  alertsPerUserDay: 50,
  emailShare: 0.1,
  days: 30,
  /** Sockets opened per device per online day (start of day + reconnects: network changes, deploys). */
  connectsPerDeviceDay: 4,
  /** Client heartbeat interval; answered by auto-response (see heartbeatsBilled). */
  heartbeatSeconds: 30,
  heartbeatsBilled: 0,
  /** Frames a user sends per day (mark:read, subscribe…), billed at 20:1. */
  framesPerUserDay: 10,
  /** Other REST calls per user per day (inbox, lists), Worker requests only. */
  restPerUserDay: 20,
  /** Herald's own per-operation counts, from the code (docs/COST.md, "Per-operation counts"). */
  doRequestsPerAlert: 2,
  doRequestsPerConnect: 3,
  doActiveMsPerRequest: 5,
  doRowsWrittenPerAlert: 25,
  doRowsWrittenPerConnect: 16,
  d1RowsWrittenPerAlert: 31, // create 25 + 10% of an email 6 + the purge of its outbox rows 5 (test/rows-written.test.ts)
  d1RowsReadPerAlert: 520,
  d1RowsWrittenPerConnect: 16, // presence:online and :offline, 6 each, and their purge (test/rows-written.test.ts)
  cpuMsPerAlert: 5,
  cpuMsPerConnect: 2,
  cpuMsPerRest: 2,
  /** stats:updated: at most one per second per org while alerts flow (STATS_COALESCE_MS). */
  statsTicksPerOrgSecond: 1,
  /**
   * Rows the stats query reads per tick: "window" = one scan of the org's
   * alerts of the last 24 h (as the code is); "all" = 4 scans of every alert
   * the org ever had (the code before issue 5); a number = fixed (incremental counters).
   */
  statsRowsPerTick: "window",
  /** Month since launch (alerts accumulate until their retention: storage grows every month). */
  month: 1,
  /**
   * D1 storage with retention (docs/COST.md, "Growth and 12-month projection"):
   * bytes per row measured by `npm run growth` (table + index pages), the
   * shares it assumes, and the retention windows of wrangler.toml.
   */
  d1BytesPerAlert: 1108, // the alert row, its history, assignments, recipients
  d1BytesPerNotification: 591,
  d1BytesPerDelivery: 4293,
  d1EventBytesPerAlert: 6001, // realtime events and targets, kept EVENT_TTL_SECONDS
  d1IdempotencyBytesPerAlert: 1448, // kept IDEMPOTENCY_TTL_SECONDS
  d1BytesPerUser: 410, // the directory (users table)
  notificationsPerAlert: 1,
  openAlertShare: 0.1, // never closed: never deleted
  unreadShare: 0.1, // never read nor archived: never deleted
  alertRetentionDays: 30,
  notificationRetentionDays: 30,
  deliveryRetentionDays: 30,
  /** R2 archive: gzip NDJSON bytes per archived row, rows per object (one put + one head each). */
  r2BytesPerArchivedAlert: 119,
  r2BytesPerArchivedNotification: 64,
  archiveRowsPerObject: 100,
  /** History rows per alert left after its lifecycle (measured): deleted with the alert, one row written each. */
  historyRowsPerAlert: 1.56,
  /** Bytes per event in a hub's log, kept REPLAY_RETENTION_SECONDS (24 h). */
  doBytesPerEvent: 1500,
};

/** Monthly cost lines for a workload `p` (DEFAULTS overridden), both with and without hibernation. */
export function costModel(over = {}) {
  const p = { ...DEFAULTS, ...over };
  const P = PRICES;
  const users = p.orgs * p.usersPerOrg;
  const alerts = users * p.alertsPerUserDay * p.days;
  const connects = users * p.devices * p.connectsPerDeviceDay * p.days;
  const socketSeconds = users * p.devices * p.hoursOnline * 3600 * p.days;
  const emails = alerts * p.emailShare;
  const heartbeats = socketSeconds / p.heartbeatSeconds;
  const frames = users * p.framesPerUserDay * p.days;
  const statsTicks = p.orgs * p.statsTicksPerOrgSecond * p.hoursOnline * 3600 * p.days;
  const orgAlertsAvg = p.usersPerOrg * p.alertsPerUserDay * p.days * (p.month - 0.5);
  const orgAlertsDay = p.usersPerOrg * p.alertsPerUserDay;
  const rowsPerTick = p.statsRowsPerTick === "all" ? 4 * orgAlertsAvg : p.statsRowsPerTick === "window" ? orgAlertsDay : Number(p.statsRowsPerTick);
  const statsRows = statsTicks * rowsPerTick;
  const over0 = (x, inc) => Math.max(0, x - inc);

  // Workers
  const workerRequests = alerts + connects + users * p.restPerUserDay * p.days + Math.ceil(emails / 10) + 43_200;
  const workerCpuMs = alerts * p.cpuMsPerAlert + connects * p.cpuMsPerConnect + users * p.restPerUserDay * p.days * p.cpuMsPerRest;
  const workers =
    P.workersBase +
    (over0(workerRequests, P.workersRequestsIncluded) / 1e6) * P.workersPerMRequests +
    (over0(workerCpuMs, P.workersCpuMsIncluded) / 1e6) * P.workersPerMCpuMs;

  // Durable Objects: requests
  const doRequests =
    alerts * p.doRequestsPerAlert +
    connects * p.doRequestsPerConnect +
    statsTicks +
    frames / P.doWsIncomingRatio +
    (p.heartbeatsBilled ? heartbeats / P.doWsIncomingRatio : 0);
  const doReq = (over0(doRequests, P.doRequestsIncluded) / 1e6) * P.doPerMRequests;
  // Duration: hibernation bills only active handling; without it every hub with a socket is pinned.
  const gbsHib = (doRequests * p.doActiveMsPerRequest) / 1000 * P.doObjectGb;
  const orgSocketSeconds = p.orgs * p.hoursOnline * 3600 * p.days; // an org hub with admins online
  const userHubSeconds = users * p.hoursOnline * 3600 * p.days; // a user hub while any device is online
  const gbsNoHib = (userHubSeconds + orgSocketSeconds) * P.doObjectGb + gbsHib;
  const doDurHib = (over0(gbsHib, P.doGbSIncluded) / 1e6) * P.doPerMGbS;
  const doDurNoHib = (over0(gbsNoHib, P.doGbSIncluded) / 1e6) * P.doPerMGbS;
  // SQLite in the hubs
  const doRowsWritten = alerts * p.doRowsWrittenPerAlert + connects * p.doRowsWrittenPerConnect + statsTicks * 9;
  const doStorageGb = (users * p.alertsPerUserDay * 2 + p.orgs * p.usersPerOrg * p.alertsPerUserDay) * p.doBytesPerEvent / 1e9 + (users + p.orgs) * 12e3 / 1e9;
  const doSql = (over0(doRowsWritten, P.sqlRowsWrittenIncluded) / 1e6) * P.sqlPerMRowsWritten + over0(doStorageGb, P.doStorageGbIncluded) * P.doPerGbMonth;

  // D1
  const d1RowsWritten = alerts * p.d1RowsWrittenPerAlert + connects * p.d1RowsWrittenPerConnect;
  const d1RowsRead = alerts * p.d1RowsReadPerAlert + statsRows;
  // Storage at the end of month `month`, every org alike, retention on.
  const flow = {
    users: p.usersPerOrg,
    alertsPerDay: p.usersPerOrg * p.alertsPerUserDay,
    openShare: p.openAlertShare,
    unreadShare: p.unreadShare,
    notificationsPerAlert: p.notificationsPerAlert,
    deliveriesPerAlert: p.emailShare,
    bytes: {
      alert: p.d1BytesPerAlert,
      notification: p.d1BytesPerNotification,
      delivery: p.d1BytesPerDelivery,
      eventsPerAlert: p.d1EventBytesPerAlert,
      idempotencyPerAlert: p.d1IdempotencyBytesPerAlert,
      otherPerAlert: 0,
      directoryPerUser: p.d1BytesPerUser,
    },
    archiveBytes: { alert: p.r2BytesPerArchivedAlert, notification: p.r2BytesPerArchivedNotification },
    archiveRowsPerObject: p.archiveRowsPerObject,
    retention: { alertDays: p.alertRetentionDays, notificationDays: p.notificationRetentionDays, deliveryDays: p.deliveryRetentionDays, eventDays: 1, idempotencyDays: 1 },
  };
  const org = orgAt(flow, p.days * p.month);
  const orgBefore = orgAt(flow, p.days * (p.month - 1));
  const d1StorageGb = (p.orgs * org.d1.total) / 1e9;
  // Rows retention deletes this month (inflow minus what stayed), one row written per deleted row as D1
  // counts a DELETE (test/rows-written.test.ts); the outbox's own purge is in d1RowsWrittenPerAlert already.
  const monthAlerts = flow.alertsPerDay * p.days;
  const deleted = (k, inflow) => Math.max(0, inflow - (org.rows[k] - orgBefore.rows[k]));
  const d1RetentionRows =
    p.orgs *
    (deleted("alerts", monthAlerts) * (1 + p.historyRowsPerAlert) +
      deleted("notifications", monthAlerts * p.notificationsPerAlert) +
      deleted("deliveries", monthAlerts * p.emailShare));
  const d1RetentionWritten = (d1RetentionRows / 1e6) * P.sqlPerMRowsWritten;
  const d1Written = (over0(d1RowsWritten, P.sqlRowsWrittenIncluded) / 1e6) * P.sqlPerMRowsWritten;
  const d1ReadStats = (over0(d1RowsRead, P.sqlRowsReadIncluded) / 1e6) * P.sqlPerMRowsRead;
  const d1Store = over0(d1StorageGb, P.d1StorageGbIncluded) * P.d1PerGbMonth;

  // R2: the archive's storage; one put (class A) and one head (class B) per object written this month.
  const r2Gb = (p.orgs * org.r2.bytes) / 1e9;
  const r2Objects = p.orgs * (org.r2.objects - orgBefore.r2.objects);
  const r2 =
    over0(r2Gb, P.r2StorageGbIncluded) * P.r2PerGbMonth +
    (over0(r2Objects, P.r2ClassAIncluded) / 1e6) * P.r2PerMClassA +
    (over0(r2Objects, P.r2ClassBIncluded) / 1e6) * P.r2PerMClassB;

  // Queues: write + read + delete per message (≤ 64 KB)
  const queueOps = emails * 3;
  const queues = (over0(queueOps, P.queuesOpsIncluded) / 1e6) * P.queuesPerMOps;

  const lines = [
    { line: "Workers (subscription, requests, CPU)", usage: `${M(workerRequests)} requests, ${M(workerCpuMs)} CPU-ms`, hib: workers, noHib: workers },
    { line: "Durable Objects requests", usage: `${M(doRequests)} requests`, hib: doReq, noHib: doReq },
    { line: "Durable Objects duration", usage: `${M(gbsHib)} GB-s hibernating / ${M(gbsNoHib)} GB-s pinned`, hib: doDurHib, noHib: doDurNoHib },
    { line: "Durable Objects SQLite (rows written, storage)", usage: `${M(doRowsWritten)} rows written, ${doStorageGb.toFixed(1)} GB`, hib: doSql, noHib: doSql },
    { line: "D1 rows written", usage: `${M(d1RowsWritten)} rows`, hib: d1Written, noHib: d1Written },
    { line: "D1 rows read (of which stats:updated)", usage: `${M(d1RowsRead)} rows (${M(statsRows)})`, hib: d1ReadStats, noHib: d1ReadStats },
    { line: "D1 storage (retention on)", usage: `${d1StorageGb.toFixed(1)} GB`, hib: d1Store, noHib: d1Store },
    { line: "D1 rows written by retention deletes", usage: `${M(d1RetentionRows)} rows`, hib: d1RetentionWritten, noHib: d1RetentionWritten },
    { line: "R2 archive (storage, puts, heads)", usage: `${r2Gb.toFixed(1)} GB, ${M(r2Objects)} objects written`, hib: r2, noHib: r2 },
    { line: "Queues", usage: `${M(queueOps)} operations`, hib: queues, noHib: queues },
  ];
  const total = (k) => lines.reduce((n, l) => n + l[k], 0);
  return {
    params: p,
    volumes: { users, alerts, connects, socketHours: socketSeconds / 3600, emails, heartbeats, statsTicks },
    lines,
    totalHibernation: total("hib"),
    totalNoHibernation: total("noHib"),
  };
}

function M(x) {
  if (x >= 1e12) return `${(x / 1e12).toFixed(1)} T`;
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)} B`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(1)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k`;
  return String(Math.round(x));
}

const usd = (x) => `$${x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(2)}`;

export function renderCost(r) {
  const out = [];
  const v = r.volumes;
  out.push(
    `Workload: ${M(v.users)} users, ${M(v.alerts)} alerts/month, ${M(v.socketHours)} socket-hours, ${M(v.connects)} connections, ${M(v.emails)} emails; month ${r.params.month} since launch.`,
  );
  out.push("");
  out.push("| line | monthly usage | with hibernation | without hibernation |");
  out.push("|---|---|---:|---:|");
  for (const l of r.lines) out.push(`| ${l.line} | ${l.usage} | ${usd(l.hib)} | ${usd(l.noHib)} |`);
  out.push(`| **total (Cloudflare)** | | **${usd(r.totalHibernation)}** | **${usd(r.totalNoHibernation)}** |`);
  return out.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { json: { type: "boolean", default: false } }, strict: false });
  const over = {};
  for (const arg of process.argv.slice(2)) {
    const m = /^--([A-Za-z0-9]+)=(.*)$/.exec(arg);
    if (!m) continue;
    if (!(m[1] in DEFAULTS)) {
      console.error(`unknown parameter ${m[1]}; known: ${Object.keys(DEFAULTS).join(", ")}`);
      process.exit(2);
    }
    over[m[1]] = m[2] === "all" ? "all" : Number(m[2]);
  }
  const r = costModel(over);
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else console.log(renderCost(r));
}
