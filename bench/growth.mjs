#!/usr/bin/env node
// Proof of growth (docs/COST.md, "Growth and 12-month projection"): runs the
// reference workload at a reduced scale against the Worker on local D1,
// measures what each alert, notification and delivery leaves in the D1
// SQLite files, and projects every shard's size month by month for a year
// with retention on.
//
//   npm run growth                          # scale 1/100, half a simulated day (2,500 alerts)
//   npm run growth -- --days=1 --markdown   # 5,000 alerts; the tables as markdown (docs/COST.md)
//   npm run -s growth -- --json > growth.json   # every number
//   npm run growth -- --from=growth.json --shards=10 --alert-retention-days=60   # re-project, no run
//
// The Worker runs as `npm run bench` runs it: bundled by `wrangler deploy
// --dry-run`, served by workerd through bare Miniflare (bench/targets/
// miniflare-server.mjs), configured from wrangler.toml, every D1 database it
// binds migrated, local state in a temporary directory deleted at the end.
// Loopback only; every phase has a deadline; nothing is left running.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Tokens } from "./lib/clients.mjs";
import { archiveEstimate, byKind, findD1Files, snapshotAll, sumSnapshots } from "./lib/growth-measure.mjs";
import { D1_MAX_BYTES, alertDaysThatFit, projectShards, shardsNeeded } from "./lib/growth-project.mjs";
import { pool } from "./lib/pool.mjs";
import { sampleTree, sleep } from "./lib/proc.mjs";
import { bundleWorker, readWranglerConfig, startTarget, stopAllSync } from "./lib/targets.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const OPTIONS = {
  scale: { type: "string", default: "0.01" },
  days: { type: "string", default: "0.5" },
  orgs: { type: "string", default: "10" },
  "users-per-org": { type: "string", default: "1000" },
  "alerts-per-user-day": { type: "string", default: "50" },
  "email-share": { type: "string", default: "0.1" },
  "open-share": { type: "string", default: "0.1" },
  "unread-share": { type: "string", default: "0.1" },
  shards: { type: "string" },
  months: { type: "string" },
  "alert-retention-days": { type: "string" },
  "notification-retention-days": { type: "string" },
  "delivery-retention-days": { type: "string" },
  concurrency: { type: "string", default: "16" },
  "timeout-s": { type: "string", default: "900" },
  "state-dir": { type: "string" },
  from: { type: "string" },
  markdown: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
};
let flags;
try {
  ({ values: flags } = parseArgs({ options: OPTIONS }));
} catch (err) {
  console.error(`${err.message} (npm run growth -- --help)`);
  process.exit(2);
}

if (flags.help) {
  console.log(`npm run growth -- [flags]
  --scale=<f>                 users per org = users-per-org × f (default 0.01: 10 orgs × 10 users)
  --days=<n>                  simulated days of alerts, run back to back; fractions allowed
                              (default 0.5: 2,500 alerts at the default scale)
  --orgs=<n>                  organizations (default 10, as the reference workload)
  --users-per-org=<n>         reference users per org (default 1000)
  --alerts-per-user-day=<n>   default 50
  --email-share=<f>           alerts sent HIGH (in-app, realtime, email) (default 0.1)
  --open-share=<f>            alerts never closed (default 0.1)
  --unread-share=<f>          notifications never read (default 0.1)
  --shards=<n>                D1 databases in the projection (default: wrangler.toml's D1_SHARDS,
                              else every D1 database it binds)
  --months=<n>                projection horizon (default 12)
  --alert-retention-days, --notification-retention-days, --delivery-retention-days
                              override wrangler.toml's retention in the projection
  --concurrency=<n>           REST calls in flight (default 16)
  --timeout-s=<s>             the whole run's deadline (default 900)
  --state-dir=<dir>           where the temporary local state goes (default the OS temp dir)
  --from=<file>               no run: the projection again from an earlier run's --json output,
                              with --shards, --months and the retention flags above
  --markdown | --json         output format (default: text tables)`);
  process.exit(0);
}

function num(name, { int = false, min = 0, max = Infinity } = {}) {
  const v = Number(flags[name]);
  if (!Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) {
    console.error(`--${name} must be ${int ? "an integer" : "a number"} in [${min}, ${max}] (got ${flags[name]})`);
    process.exit(2);
  }
  return v;
}

const opts = {
  scale: num("scale", { min: 1e-6, max: 1 }),
  days: num("days", { min: 0.01, max: 30 }),
  orgs: num("orgs", { int: true, min: 1, max: 1000 }),
  usersPerOrg: num("users-per-org", { int: true, min: 1 }),
  alertsPerUserDay: num("alerts-per-user-day", { min: 0.01 }),
  emailShare: num("email-share", { max: 1 }),
  openShare: num("open-share", { max: 1 }),
  unreadShare: num("unread-share", { max: 1 }),
  months: flags.months === undefined ? 12 : num("months", { int: true, min: 1, max: 120 }),
  concurrency: num("concurrency", { int: true, min: 1, max: 256 }),
  timeoutMs: num("timeout-s", { min: 30 }) * 1000,
};
const log = (msg) => process.stderr.write(`[growth ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const startedAt = performance.now();
const deadline = startedAt + opts.timeoutMs;
const left = () => Math.max(0, deadline - performance.now());

/** A deterministic stream of numbers in [0, 1) (mulberry32), so two runs do the same things. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * What happens to an alert after its create, drawn with the configured open
 * share: open ones stay PENDING or ACKNOWLEDGED; closed ones are resolved
 * after an acknowledgement (≈61 % of closed), dismissed (≈33 %) or
 * converted after an acknowledgement (≈6 %).
 */
function lifecycleOf(u, openShare) {
  if (u < openShare / 2) return [];
  if (u < openShare) return ["ACKNOWLEDGED"];
  const c = (u - openShare) / (1 - openShare);
  if (c < 0.61) return ["ACKNOWLEDGED", "RESOLVED"];
  if (c < 0.94) return ["DISMISSED"];
  return ["ACKNOWLEDGED", "CONVERT"];
}

/** The ~530 B alert bench/lib/scenarios.mjs sends, HIGH when it is to be emailed. */
function alertBody(seq, assigneeId, high) {
  return {
    alertType: "LIKELY_TO_SELL",
    priority: high ? "HIGH" : "MEDIUM",
    confidence: 0.87,
    title: `Lead ${seq} is likely to sell`,
    message: "Scored 0.87 by the propensity model: three strong signals in the last 24 hours.",
    subject: { id: `lead-${seq}`, email: `lead-${seq}@example.com`, name: `Lead Number ${seq}` },
    assigneeId,
    data: {
      seq,
      score: 0.87,
      model: "propensity-v7",
      signals: ["visited_pricing_page", "opened_last_three_emails", "requested_callback"],
      property: { city: "Springfield", listPrice: 425000, bedrooms: 3 },
    },
  };
}

class Api {
  constructor(base) {
    this.base = base;
    this.calls = 0;
    this.failures = new Map();
  }
  async call(method, url, token, body, headers = {}) {
    this.calls++;
    const res = await fetch(`${this.base}${url}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body !== undefined && { "Content-Type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    if (!res.ok) {
      const key = `${method} ${url.replace(/\/(alr|ntf|usr)_[^/?]+/g, "/:id").replace(/\?.*$/, "")} → ${res.status}`;
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
      throw new Error(`${key}: ${text.slice(0, 200)}`);
    }
    return text ? JSON.parse(text) : null;
  }
}

/** Runs `fn` over `items` with bounded concurrency until the run's deadline; returns how many failed. */
async function each(items, fn) {
  const { results, started } = await pool(items.length, opts.concurrency, (i) => fn(items[i], i), left());
  const failed = results.filter((r) => r && !r.ok).length;
  return { failed, notStarted: items.length - started, firstError: results.find((r) => r && !r.ok)?.error?.message };
}

async function main() {
  const config = readWranglerConfig(ROOT);
  const bindings = config.d1_databases.map((d) => d.binding);
  if (bindings.length === 0) throw new Error("wrangler.toml binds no D1 database");
  const vars = config.vars;
  // The shards are the bindings D1_SHARDS lists (README "Shards"); without it, every bound database.
  const shardList = String(vars.D1_SHARDS ?? "").split(",").map((b) => b.trim()).filter(Boolean);
  const shards = flags.shards === undefined ? shardList.length || bindings.length : num("shards", { int: true, min: 1, max: 1000 });
  const retention = {
    alertDays: Number(flags["alert-retention-days"] ?? vars.ALERT_RETENTION_DAYS ?? 365),
    notificationDays: Number(flags["notification-retention-days"] ?? vars.NOTIFICATION_RETENTION_DAYS ?? 90),
    deliveryDays: Number(flags["delivery-retention-days"] ?? vars.DELIVERY_RETENTION_DAYS ?? 30),
    eventDays: Number(vars.EVENT_TTL_SECONDS ?? 86_400) / 86_400,
    idempotencyDays: Number(vars.IDEMPOTENCY_TTL_SECONDS ?? 86_400) / 86_400,
  };
  for (const [k, v] of Object.entries(retention)) if (!Number.isFinite(v) || v <= 0) throw new Error(`retention ${k} is not a positive number: ${v}`);
  const usersPerOrg = Math.max(1, Math.round(opts.usersPerOrg * opts.scale));
  const alertsPerOrg = Math.round(usersPerOrg * opts.alertsPerUserDay * opts.days);
  log(`D1 databases bound in wrangler.toml: ${bindings.join(", ")}; projecting on ${shards} shard(s)`);
  log(`workload: ${opts.orgs} orgs × ${usersPerOrg} users, ${alertsPerOrg} alerts per org (${opts.days} day(s) at ${opts.alertsPerUserDay}/user/day)`);

  const work = fs.mkdtempSync(path.join(flags["state-dir"] ?? os.tmpdir(), "herald-growth-"));
  const logDir = path.join(work, "logs");
  fs.mkdirSync(logDir);
  let keepLogs = false;
  const cleanup = () => {
    stopAllSync();
    if (keepLogs) {
      const dest = fs.mkdtempSync(path.join(os.tmpdir(), "herald-growth-logs-"));
      fs.cpSync(logDir, dest, { recursive: true });
      process.stderr.write(`target logs kept in ${dest}\n`);
    }
    fs.rmSync(work, { recursive: true, force: true });
  };
  process.on("exit", cleanup);
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

  const timings = {};
  const serverCpu = {};
  let target = null;
  // Wall time of every phase; the Worker's CPU (workerd and its Node host) too while it runs throughout.
  const phase = async (name, fn) => {
    const t0 = performance.now();
    const root = target?.rootPid;
    const c0 = root ? sampleTree(root).cpuS : null;
    try {
      return await fn();
    } finally {
      timings[name] = Math.round(performance.now() - t0) / 1000;
      if (root && target?.rootPid === root && !name.startsWith("snapshot")) serverCpu[name] = Math.round((sampleTree(root).cpuS - c0) * 10) / 10;
    }
  };

  try {
    const bundleDir = path.join(work, "bundle");
    await phase("bundle", () => {
      log("bundling the Worker (wrangler deploy --dry-run)");
      bundleWorker(ROOT, bundleDir, path.join(logDir, "bundle.log"));
    });
    const secret = crypto.randomBytes(32).toString("hex");
    const env = { root: ROOT, work, secret, bundleDir, config, logDir };
    target = await phase("start", () => startTarget("miniflare", env));
    const persistDir = path.join(work, fs.readdirSync(work).find((n) => n.startsWith("mf-state-")));
    const port = Number(new URL(target.baseUrl).port);
    const files = findD1Files(persistDir);
    log(`Worker at ${target.baseUrl}; ${files.length} D1 database file(s) migrated`);
    if (files.length !== bindings.length) log(`note: ${bindings.length} bindings but ${files.length} database files`);
    // Stops the Worker, reads every D1 file, starts it again on the same port and state.
    const snapshot = async (label, restart = true) => {
      await target.stop();
      const snaps = snapshotAll(persistDir);
      log(`snapshot "${label}": ${snaps.length} database(s), ${(snaps.reduce((n, s) => n + s.pages * s.pageSize, 0) / 1e6).toFixed(2)} MB`);
      if (restart) target = await startTarget("miniflare", { ...env, reuse: { port, persistDir } });
      return snaps;
    };

    const tokens = new Tokens(secret);
    const api = new Api(target.baseUrl);
    const orgIds = Array.from({ length: opts.orgs }, (_, i) => `org-${String(i + 1).padStart(3, "0")}`);
    const userIds = Array.from({ length: usersPerOrg }, (_, j) => `agent-${String(j + 1).padStart(4, "0")}`);
    const svc = Object.fromEntries(await Promise.all(orgIds.map(async (o) => [o, await tokens.get("growth-backend", o, "service")])));
    const agentToken = (org, user) => tokens.get(user, org, "agent");

    // 1. The directory: every user an agent with an email address (for the emailed share).
    const dirUsers = orgIds.flatMap((org) => userIds.map((user) => ({ org, user })));
    const dir = await phase("directory", () =>
      each(dirUsers, ({ org, user }) => api.call("PUT", `/api/v1/users/${user}`, svc[org], { role: "agent", name: `Agent ${user}`, email: `${user}@${org}.example.com` })),
    );
    if (dir.failed || dir.notStarted) throw new Error(`directory: ${dir.failed} failed, ${dir.notStarted} not started (${dir.firstError})`);
    const s0 = await phase("snapshot-0", () => snapshot("directory"));

    // 2. Alerts: orgs interleaved, assignees round-robin, every create with an Idempotency-Key.
    const emailEvery = (k) => Math.floor((k + 1) * opts.emailShare) > Math.floor(k * opts.emailShare);
    const plan = [];
    for (let k = 0; k < alertsPerOrg; k++) {
      for (const org of orgIds) plan.push({ org, k, assignee: userIds[k % usersPerOrg], high: emailEvery(k) });
    }
    log(`creating ${plan.length} alerts (${plan.filter((p) => p.high).length} HIGH: emailed), ${opts.concurrency} in flight`);
    const created = [];
    api.base = target.baseUrl;
    const cr = await phase("create", () =>
      each(plan, async (p) => {
        const a = await api.call("POST", "/api/v1/alerts", svc[p.org], alertBody(p.k, p.assignee, p.high), { "Idempotency-Key": `growth-${p.org}-${p.k}` });
        created.push({ ...p, id: a.id });
      }),
    );
    log(`created ${created.length} of ${plan.length} (${cr.failed} failed${cr.notStarted ? `, ${cr.notStarted} not started: deadline` : ""}) in ${timings.create} s`);
    if (created.length === 0) throw new Error(`no alert was created (${cr.firstError})`);

    // Deliveries: wait until the queue consumer has sent the last emailed alert's email in every org.
    await phase("deliveries", async () => {
      const lastHigh = orgIds.map((org) => created.filter((c) => c.org === org && c.high).at(-1)).filter(Boolean);
      const until = performance.now() + Math.min(120_000, left());
      for (const c of lastHigh) {
        while (performance.now() < until) {
          const r = await api.call("GET", `/api/v1/alerts/${c.id}/deliveries`, svc[c.org]);
          const list = r.items ?? r.deliveries ?? [];
          if (list.length > 0 && list.every((d) => d.status !== "queued")) break;
          await sleep(500);
        }
      }
    });
    const s1 = await phase("snapshot-1", () => snapshot("alerts created"));
    api.base = target.baseUrl;

    // 3. The lifecycle: each assignee acknowledges, resolves, dismisses or converts its alerts.
    const draw = rng(14);
    const steps = created.flatMap((c) => lifecycleOf(draw(), opts.openShare).map((s, i) => ({ c, s, i })));
    const byAlert = new Map();
    for (const st of steps) (byAlert.get(st.c.id) ?? byAlert.set(st.c.id, []).get(st.c.id)).push(st);
    log(`lifecycle: ${steps.length} status changes over ${byAlert.size} alerts`);
    const lc = await phase("lifecycle", () =>
      each([...byAlert.values()], async (list) => {
        for (const { c, s } of list) {
          const t = await agentToken(c.org, c.assignee);
          if (s === "CONVERT") await api.call("POST", `/api/v1/alerts/${c.id}/convert`, t, { conversionValue: 425000, conversionType: "listing" });
          else await api.call("PATCH", `/api/v1/alerts/${c.id}/status`, t, { status: s });
        }
      }),
    );
    log(`lifecycle done in ${timings.lifecycle} s (${lc.failed} alerts failed${lc.firstError ? `: ${lc.firstError}` : ""})`);

    // 4. Inboxes: every user lists its unread notifications and reads all but the unread share.
    const readDraw = rng(41);
    let toRead = [];
    const ls = await phase("inbox-list", () =>
      each(dirUsers, async ({ org, user }) => {
        const t = await agentToken(org, user);
        let cursor = null;
        for (let page = 0; page < 1000; page++) {
          const r = await api.call("GET", `/api/v1/notifications?status=unread&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, t);
          for (const n of r.items) toRead.push({ org, user, id: n.id });
          cursor = r.nextCursor;
          if (!cursor) break;
        }
      }),
    );
    if (ls.failed) log(`inbox listing: ${ls.failed} users failed (${ls.firstError})`);
    const unreadCount = toRead.length;
    toRead = toRead.filter(() => readDraw() >= opts.unreadShare);
    const rd = await phase("read", async () => each(toRead, async (n) => api.call("POST", `/api/v1/notifications/${n.id}/read`, await agentToken(n.org, n.user))));
    log(`read ${toRead.length - rd.failed} of ${unreadCount} notifications in ${timings.read} s`);
    const s2 = await phase("snapshot-2", () => snapshot("lifecycle and reads", false));

    // 5. Measure.
    const kinds = [s0, s1, s2].map((s) => byKind(sumSnapshots(s)));
    const total2 = sumSnapshots(s2);
    const k0 = kinds[0];
    const k2 = kinds[2];
    const delta = (kind, field) => (k2[kind]?.[field] ?? 0) - (k0[kind]?.[field] ?? 0);
    const total0 = sumSnapshots(s0);
    const rowsOf = (table) => (total2.tables[table]?.rows ?? 0) - (total0.tables[table]?.rows ?? 0);
    const nAlerts = rowsOf("alerts");
    const nNotifications = rowsOf("notifications");
    const nDeliveries = rowsOf("deliveries");
    const per = (bytes, n) => (n > 0 ? bytes / n : 0);
    const rowsPerObject = Math.max(1, Math.floor(Number(vars.RETENTION_BATCH_ROWS ?? 500) / Math.ceil(opts.orgs / shards)));
    const arch = archiveEstimate(findD1Files(persistDir), rowsPerObject);
    const measured = {
      method: "dbstat (SQLite's page-level statistics: pages × page size per table and index, free space inside pages included) on every D1 file after the run, minus the same after the directory was written",
      alerts: nAlerts,
      notifications: nNotifications,
      deliveries: nDeliveries,
      bytes: {
        alert: per(delta("alerts", "bytes"), nAlerts),
        notification: per(delta("notifications", "bytes"), nNotifications),
        delivery: per(delta("deliveries", "bytes"), nDeliveries),
        eventsPerAlert: per(delta("events", "bytes"), nAlerts),
        idempotencyPerAlert: per(delta("idempotency", "bytes"), nAlerts),
        otherPerAlert: per(delta("other", "bytes"), nAlerts),
        // The users table only: the directory's other tables (preferences, webhooks, rules) are empty in the run.
        directoryPerUser: per(total0.tables.users?.bytes ?? 0, total0.tables.users?.rows ?? 0),
      },
      entriesPerAlert: Object.fromEntries(
        Object.keys(k2)
          .filter((k) => !FIXED_KINDS.includes(k))
          .map((k) => [k, per(delta(k, "entries"), nAlerts)]),
      ),
      entriesAfterCreate: Object.fromEntries(
        Object.keys(kinds[1])
          .filter((k) => !FIXED_KINDS.includes(k))
          .map((k) => [k, per((kinds[1][k]?.entries ?? 0) - (k0[k]?.entries ?? 0), nAlerts)]),
      ),
      tables: total2.tables,
      counts: total2.counts,
      archive: {
        rowsPerObject,
        alert: per(arch.alerts.gzipBytes, arch.alerts.rows),
        notification: per(arch.notifications.gzipBytes, arch.notifications.rows),
        ndjsonPerAlert: per(arch.alerts.ndjsonBytes, arch.alerts.rows),
        ndjsonPerNotification: per(arch.notifications.ndjsonBytes, arch.notifications.rows),
        sample: arch,
      },
      freeBytes: total2.freeBytes,
      perDatabase: s2.map((s) => ({ file: s.file, orgs: s.counts.orgs.length, bytes: s.pages * s.pageSize, fileBytes: s.fileBytes, walBytes: s.walBytes })),
    };
    const closed = ["RESOLVED", "DISMISSED", "CONVERTED"].reduce((n, s) => n + (total2.counts.alertsByStatus[s] ?? 0), 0);
    const shares = {
      open: 1 - closed / Math.max(1, nAlerts),
      unread: 1 - total2.counts.notificationsRead / Math.max(1, nNotifications),
      notificationsPerAlert: nNotifications / Math.max(1, nAlerts),
      deliveriesPerAlert: nDeliveries / Math.max(1, nAlerts),
    };
    const result = {
      when: new Date().toISOString(),
      runtimeS: Math.round((performance.now() - startedAt) / 100) / 10,
      timings,
      serverCpuS: serverCpu,
      machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
      bindings,
      workload: { ...opts, usersPerOrgRun: usersPerOrg, alertsPlanned: plan.length, alertsCreated: created.length, createFailures: cr.failed, statusChanges: steps.length, lifecycleFailures: lc.failed, notificationsRead: toRead.length - rd.failed, restCalls: api.calls, failures: Object.fromEntries(api.failures) },
      shares,
      measured,
      ...project(measured, shares, { orgs: opts.orgs, usersPerOrg: opts.usersPerOrg, alertsPerUserDay: opts.alertsPerUserDay, shards, retention, months: opts.months }),
    };
    if (flags.json) console.log(JSON.stringify(result, null, 2));
    else console.log(render(result, flags.markdown));
  } catch (err) {
    keepLogs = true;
    throw err;
  }
}

/**
 * The projection for the reference workload `ref` ({orgs, usersPerOrg,
 * alertsPerUserDay, shards, retention, months}) from what a run measured.
 */
function project(measured, shares, ref) {
  const flow = {
    users: ref.usersPerOrg,
    alertsPerDay: ref.usersPerOrg * ref.alertsPerUserDay,
    openShare: shares.open,
    unreadShare: shares.unread,
    notificationsPerAlert: shares.notificationsPerAlert,
    deliveriesPerAlert: shares.deliveriesPerAlert,
    bytes: measured.bytes,
    archiveBytes: { alert: measured.archive.alert, notification: measured.archive.notification },
    archiveRowsPerObject: measured.archive.rowsPerObject,
    retention: ref.retention,
  };
  const { orgs, shards, months } = ref;
  return {
    reference: ref,
    projection: projectShards(flow, { orgs, shards, months }),
    shardsNeeded: shardsNeeded(flow, { orgs, months }),
    alertRetentionDaysThatFit: {
      [`${shards} shard(s)`]: alertDaysThatFit(flow, { orgs, shards, months }),
      [`${orgs} shards (one org each)`]: alertDaysThatFit(flow, { orgs, shards: orgs, months }),
    },
  };
}

/** --from=<json of an earlier run>: the projection again with this run's --shards, --months and retention flags, nothing started. */
function reproject(file) {
  let r;
  try {
    const text = fs.readFileSync(file, "utf8");
    // `npm run growth -- --json > f` (without -s) puts npm's banner before the JSON.
    const at = text.startsWith("{") ? 0 : text.indexOf("\n{") + 1;
    r = JSON.parse(text.slice(at));
  } catch (err) {
    throw new Error(`--from: cannot read ${file} as JSON (${err.message})`);
  }
  if (!r.measured || !r.shares || !r.reference) throw new Error(`${file} is not the --json output of bench/growth.mjs`);
  const ret = r.reference.retention;
  const retention = {
    ...ret,
    alertDays: flags["alert-retention-days"] === undefined ? ret.alertDays : num("alert-retention-days", { int: true, min: 1 }),
    notificationDays: flags["notification-retention-days"] === undefined ? ret.notificationDays : num("notification-retention-days", { int: true, min: 1 }),
    deliveryDays: flags["delivery-retention-days"] === undefined ? ret.deliveryDays : num("delivery-retention-days", { int: true, min: 1 }),
  };
  const shards = flags.shards === undefined ? r.reference.shards : num("shards", { int: true, min: 1, max: 1000 });
  const months = flags.months === undefined ? r.reference.months ?? 12 : opts.months;
  return { ...r, ...project(r.measured, r.shares, { ...r.reference, shards, retention, months }) };
}

/** Kinds that do not grow with alerts: not per-alert figures. */
const FIXED_KINDS = ["system", "excluded", "directory", "control"];

const GB = (b) => `${(b / 1e9).toFixed(b >= 1e10 ? 1 : 2)} GB`;
const fmt = (x, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

function table(md, head, rows, right = []) {
  if (md) {
    return [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (right.includes(i) ? "---:" : "---")).join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
  }
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (right.includes(i) ? String(c).padStart(w[i]) : String(c).padEnd(w[i]))).join("  ");
  return [line(head), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

function render(r, md) {
  const m = r.measured;
  const out = [];
  const h = (s) => out.push("", md ? `**${s}**` : `== ${s} ==`, "");
  const w = r.workload;
  out.push(
    `Run: ${w.orgs} orgs × ${w.usersPerOrgRun} users, ${fmt(w.alertsCreated)} alerts (${fmt(w.statusChanges)} status changes, ${fmt(w.notificationsRead)} notifications read), ${fmt(w.restCalls)} REST calls; ${r.runtimeS} s wall on ${r.machine.cores} cores (create ${r.timings.create} s, lifecycle ${r.timings.lifecycle} s, reads ${r.timings.read} s; the Worker's CPU in them: ${r.serverCpuS?.create ?? "?"} / ${r.serverCpuS?.lifecycle ?? "?"} / ${r.serverCpuS?.read ?? "?"} s). D1 databases bound: ${r.bindings.join(", ")}.`,
  );
  if (Object.keys(w.failures).length) out.push(`Failed calls: ${Object.entries(w.failures).map(([k, v]) => `${k} ×${v}`).join("; ")}.`);
  out.push(`Measured with ${m.method}.`);
  out.push(
    `D1 database files after the run: ${m.perDatabase.map((d, i) => `#${i + 1} ${d.orgs} org(s), ${(d.bytes / 1e6).toFixed(2)} MB in pages`).join("; ")}.`,
  );
  h("Measured per row (D1, table + index pages)");
  out.push(
    table(
      md,
      ["kind", "rows in the run", "bytes per row", "b-tree entries per alert (rows + index entries)"],
      [
        ["alert (with its history, assignments, recipients)", fmt(m.alerts), fmt(m.bytes.alert), fmt(m.entriesPerAlert.alerts ?? 0, 1)],
        ["notification", fmt(m.notifications), fmt(m.bytes.notification), fmt(m.entriesPerAlert.notifications ?? 0, 1)],
        ["delivery (email)", fmt(m.deliveries), fmt(m.bytes.delivery), fmt(m.entriesPerAlert.deliveries ?? 0, 1)],
        ["realtime events, targets, acks (kept 24 h), per alert", "—", fmt(m.bytes.eventsPerAlert), fmt(m.entriesPerAlert.events ?? 0, 1)],
        ["idempotency key (kept 24 h), per alert", "—", fmt(m.bytes.idempotencyPerAlert), fmt(m.entriesPerAlert.idempotency ?? 0, 1)],
        ...(m.entriesPerAlert.other ? [["other tables (projected as never deleted), per alert", "—", fmt(m.bytes.otherPerAlert), fmt(m.entriesPerAlert.other, 1)]] : []),
        ["directory entry, per user", fmt(w.orgs * w.usersPerOrgRun), fmt(m.bytes.directoryPerUser), "—"],
      ],
      [1, 2, 3],
    ),
  );
  const entries = Object.values(m.entriesPerAlert).reduce((a, b) => a + b, 0);
  const afterCreate = Object.values(m.entriesAfterCreate).reduce((a, b) => a + b, 0);
  out.push(
    "",
    `B-tree entries stored per alert: ${fmt(afterCreate, 1)} after the create (and its email), ${fmt(entries, 1)} after its lifecycle and read. Each was written at least once; updates in place (status, read_at, published_at, delivery status) and the retention deletes write more, which a file cannot show: that is a lower bound of D1 rows written, not the billed count.`,
    `Shares in the run: ${fmt(100 * r.shares.open, 1)} % of alerts open, ${fmt(100 * r.shares.unread, 1)} % of notifications unread, ${fmt(r.shares.notificationsPerAlert, 2)} notifications and ${fmt(r.shares.deliveriesPerAlert, 3)} deliveries per alert.`,
    `R2 archive (re-encoded from the run's rows as src/retention/archive.ts writes them, gzip NDJSON, ${m.archive.rowsPerObject} rows per object): ${fmt(m.archive.alert)} B per closed alert (${fmt(m.archive.ndjsonPerAlert)} B uncompressed), ${fmt(m.archive.notification)} B per read notification (${fmt(m.archive.ndjsonPerNotification)} B).`,
  );
  const p = r.projection;
  const ret = r.reference.retention;
  h(
    `Projection: ${r.reference.orgs} orgs × ${fmt(r.reference.usersPerOrg)} users × ${r.reference.alertsPerUserDay} alerts/day on ${r.reference.shards} shard(s) (orgs per shard: ${p.placement.join(", ")}); retention ${ret.alertDays} d closed alerts, ${ret.notificationDays} d read notifications, ${ret.deliveryDays} d deliveries, ${ret.eventDays} d events`,
  );
  // Shards with the same number of orgs hold the same bytes: one column (and one row) per distinct count.
  const groups = [...new Set(p.placement)].map((n) => ({ n, first: p.placement.indexOf(n), count: p.placement.filter((x) => x === n).length }));
  const label = (g) => (groups.length === 1 && g.count === 1 ? "shard 1" : `each of ${g.count} shard(s) with ${g.n} org(s)`);
  const cell = (b) => (b >= D1_MAX_BYTES ? (md ? `**${GB(b)}**` : `${GB(b)} !`) : GB(b));
  out.push(
    table(
      md,
      ["month", ...groups.map(label), "R2 archive (all orgs)"],
      p.rows.map((row) => [String(row.month), ...groups.map((g) => cell(row.shards[g.first])), GB(row.r2Bytes)]),
      groups.map((_, i) => i + 1).concat([groups.length + 1]),
    ),
  );
  h(`Month ${p.rows.length}, per shard`);
  const kinds = ["alerts", "notifications", "deliveries", "events", "idempotency", "other", "directory"];
  out.push(
    table(
      md,
      ["shard(s)", "orgs each", ...kinds, "total", "under 10 GB"],
      groups.map((g) => {
        const f = p.final[g.first];
        return [
          groups.length === 1 && g.count === 1 ? "1" : `${g.count} ×`,
          String(g.n),
          ...kinds.map((k) => GB(f[k])),
          GB(f.total),
          f.total < D1_MAX_BYTES ? "yes" : `no (over in month ${p.fullAtMonth[g.first]})`,
        ];
      }),
      kinds.map((_, i) => i + 2).concat([kinds.length + 2]),
    ),
  );
  const fit = Object.entries(r.alertRetentionDaysThatFit)
    .map(([k, v]) => `${k}: ${v === null ? "none (open alerts and unread notifications alone outgrow a database)" : v >= 30 * p.rows.length ? `any (≥ ${30 * p.rows.length} d)` : `≤ ${v} d`}`)
    .join("; ");
  out.push(
    "",
    p.everyShardUnder
      ? `Every shard stays under 10 GB for ${p.rows.length} months.`
      : `Not every shard stays under 10 GB for ${p.rows.length} months. Shards needed (an org never spans shards): ${r.shardsNeeded ?? `none suffice: one org alone reaches ${GB(p.final[0].total / p.placement[0])}`}. ALERT_RETENTION_DAYS that keeps every shard under 10 GB — ${fit}.`,
  );
  return out.join("\n");
}

const run = flags.from
  ? async () => {
      const r = reproject(flags.from);
      console.log(flags.json ? JSON.stringify(r, null, 2) : render(r, flags.markdown));
    }
  : main;

run().then(
  () => process.exit(0),
  (err) => {
    log(`failed: ${err.stack ?? err}`);
    process.exit(1);
  },
);
