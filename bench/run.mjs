#!/usr/bin/env node
// `npm run bench`: Herald against the Socket.IO stack it replaces, side by
// side in one run on this machine. Starts every target itself, runs the
// scenarios of bench/README.md against each with identical clients, prints a
// markdown table to stdout (progress goes to stderr) and writes the raw
// numbers to bench/results/<timestamp>.json.
//
//   npm run bench                         # N=1000, every target and scenario
//   npm run bench -- --large              # N=5000
//   npm run bench -- --only=fanout,connect --runs=5
//   npm run bench -- --targets=miniflare,minimal,socketio --n=500
//   npm run bench -- --only=admins --targets=miniflare   # create latency with 1,000 admins
//   npm run bench -- --only=storm --targets=miniflare    # SDK clients across a server restart (opt-in)
//   npm run bench -- --only=routing --targets=miniflare  # routing's cost inside a create
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { Tokens } from "./lib/clients.mjs";
import { driverFor } from "./lib/clients.mjs";
import { affinityOf, cpuCount, hasProc, machineCheck, pinning, ULIMIT } from "./lib/proc.mjs";
import { GROUPS, SCENARIOS, waitIdle, withTimeout } from "./lib/scenarios.mjs";
import { median } from "./lib/stats.mjs";
import { TARGETS, bundleWorker, readWranglerConfig, startTarget, stopAllSync, targetRuns } from "./lib/targets.mjs";
import { renderReport } from "./lib/report.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const { values: flags } = parseArgs({
  options: {
    large: { type: "boolean", default: false },
    only: { type: "string" },
    runs: { type: "string" },
    n: { type: "string" },
    targets: { type: "string" },
    "connect-concurrency": { type: "string" },
    "no-pin": { type: "boolean", default: false },
    "state-dir": { type: "string" },
    admins: { type: "string" },
    warmup: { type: "string" },
    settle: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (flags.help) {
  console.log(`usage: npm run bench -- [--large] [--only=<scenario,...>] [--runs=<k>] [--n=<N>]
                        [--targets=socketio,minimal,miniflare,wrangler] [--connect-concurrency=<c>] [--no-pin]
                        [--state-dir=<dir>]   (where local D1/DO SQLite state lives; default: /dev/shm when writable, else the OS temp dir)
                        [--admins=<n>]        (admins in the directory for the admins scenario; default 1000)
                        [--warmup=<n>]        (clients of the uncounted warm-up pass before the connect/targeted and org-stream groups; default N, 0: none)
                        [--settle=<ms>]       (in those groups, each counted run starts this long after the previous pass closed its sockets; default 11000, 0: none)
scenarios: ${Object.keys(SCENARIOS).join(", ")} (opt-in, only with --only: ${Object.keys(SCENARIOS).filter((s) => SCENARIOS[s].optIn).join(", ")})
default N=1000 (--large: 5000); default runs per scenario: ${Object.entries(SCENARIOS)
    .map(([k, s]) => `${k} ${s.runs}`)
    .join(", ")}`);
  process.exit(0);
}

// ───────── re-exec once: raised fd limit, pinned to the client core ─────────
if (!process.env.HERALD_BENCH_CHILD) {
  const pin = pinning && !flags["no-pin"] ? `taskset -c ${pinning.client} ` : "";
  const child = spawn("sh", ["-c", `${ULIMIT}; exec ${pin}"$0" "$@"`, process.execPath, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, HERALD_BENCH_CHILD: "1", HERALD_BENCH_PINNED: pin ? "1" : "" },
  });
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  await main();
}

/** /dev/shm when it is a writable directory, else the OS temp dir. */
function defaultStateRoot() {
  try {
    fs.accessSync("/dev/shm", fs.constants.W_OK);
    return "/dev/shm";
  } catch {
    return os.tmpdir();
  }
}

function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function fdLimit(pid = "self") {
  try {
    const m = /Max open files\s+(\d+|unlimited)/.exec(fs.readFileSync(`/proc/${pid}/limits`, "utf8"));
    return m ? (m[1] === "unlimited" ? Infinity : Number(m[1])) : null;
  } catch {
    return null;
  }
}

function versionOf(pkg) {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

function machineInfo() {
  const workerd = spawnSync(path.join(ROOT, "node_modules/.bin/workerd"), ["--version"], { encoding: "utf8" });
  const cpus = os.cpus();
  return {
    cores: cpuCount,
    cpuModel: cpus[0]?.model ?? null,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    workerd: workerd.stdout?.trim() || null,
    wrangler: versionOf("wrangler"),
    miniflare: versionOf("miniflare"),
    socketIo: versionOf("socket.io"),
    socketIoClient: versionOf("socket.io-client"),
    express: versionOf("express"),
    ws: versionOf("ws"),
    pinning: process.env.HERALD_BENCH_PINNED ? { client: affinityOf(process.pid), server: pinning?.server ?? null } : null,
    fdLimit: fdLimit(),
  };
}

async function main() {
  const started = Date.now();
  const stamp = new Date(started).toISOString().replace(/[:.]/g, "-");
  const resultsDir = path.join(ROOT, "bench/results");
  const logDir = path.join(resultsDir, `${stamp}-logs`);
  fs.mkdirSync(logDir, { recursive: true });
  // Local D1 and Durable Object state (SQLite files) lives here: in memory (tmpfs) by default where the
  // machine has one, so a shared disk's fsync latency does not set the results (production storage is
  // not a local disk either); --state-dir=<dir> puts it anywhere, e.g. on disk.
  const stateRoot = flags["state-dir"] ?? defaultStateRoot();
  const work = fs.mkdtempSync(path.join(stateRoot, "herald-bench-"));
  const notes = [];

  const cleanup = () => {
    stopAllSync();
    fs.rmSync(work, { recursive: true, force: true });
  };
  process.on("exit", cleanup);
  for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => {
      log(`${sig}: stopping the targets`);
      process.exit(130);
    });
  }

  // ───────── sizes ─────────
  let N = flags.n ? Number(flags.n) : flags.large ? 5000 : 1000;
  const requestedN = N;
  const limit = fdLimit();
  // The memory scenario holds 2N sockets at once, on both sides of loopback.
  if (limit !== null && Number.isFinite(limit) && limit < 2 * N + 256) {
    N = Math.max(50, Math.floor((limit - 256) / 2));
    notes.push(`N scaled down from ${requestedN} to ${N}: the fd limit is ${limit} (ulimit -n could not be raised further)`);
  }
  const only = flags.only ? flags.only.split(",").map((s) => s.trim()) : Object.keys(SCENARIOS).filter((s) => !SCENARIOS[s].optIn);
  for (const s of only) if (!SCENARIOS[s]) throw new Error(`unknown scenario ${s} (known: ${Object.keys(SCENARIOS).join(", ")})`);
  const targetNames = flags.targets ? flags.targets.split(",").map((s) => s.trim()) : ["socketio", "minimal", "miniflare", "wrangler"];
  for (const t of targetNames) if (!TARGETS[t]) throw new Error(`unknown target ${t}`);
  const runsFor = (name) => (flags.runs ? Number(flags.runs) : SCENARIOS[name].runs);

  const secret = `bench${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`.padEnd(40, "x");
  const ctx = {
    N,
    tag: `b${Date.now().toString(36)}`,
    tokens: new Tokens(secret),
    connectSequential: 50,
    connectConcurrency: flags["connect-concurrency"] ? Number(flags["connect-concurrency"]) : 50,
    fanout: { rate: 10, count: 50, burst: 20, burstConcurrency: 8 },
    targeted: { count: null, concurrency: 32 }, // null: N/2 alerts
    reconnect: { missed: 5, timeoutMs: 30_000 },
    admins: { count: flags.admins ? Number(flags.admins) : 1000, alerts: 20 },
    // Before the first counted run of a group marked `warmup`: one pass of the group with this many
    // clients (other users, another org; default N), not counted, so no counted run pays the fresh
    // process's first use (a 100-client pass left the first counted org-stream connect run the slowest).
    warmupN: flags.warmup !== undefined ? wholeFlag("warmup", flags.warmup, "clients", "no warm-up") : Infinity,
    // In a group marked `settle`, each counted run starts at least this long after the previous pass
    // (warm-up or counted run) closed its sockets: the local runtime evicts a Durable Object 10 s after
    // its last socket closes, and the eviction of the previous pass's 1,000 hubs, landing in the next run's
    // measured phases, added ~1 ms of CPU per connect and per create there (bench/README.md, fourth pass).
    settleMs: flags.settle !== undefined ? wholeFlag("settle", flags.settle, "milliseconds", "no wait") : 11_000,
    // 8. routing on create: same-size orgs with rules (on) and without (off).
    routing: { agents: 50, warmup: 10, sequential: 100, burst: 200, concurrency: 16 },
    // 9. per-request floor: requests of each kind, in flight (as the targeted phase).
    floor: { requests: 500, concurrency: 32 },
    // 1c. one admin holding this many org-stream sockets (at most N).
    single: { n: N },
    // 7. (--only=storm) SDK clients across a server restart; users = N.
    storm: { users: N, pre: 5, post: 20, batch: 500, bucketMs: 250, connectConcurrency: 50, connectTimeoutMs: 60_000, recoverMs: 150_000 },
    phaseMs: 120_000,
    drainMs: 15_000,
    idleMs: 20_000,
    memorySettleMs: 1_000,
  };

  const machine = machineInfo();
  log(`machine: ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, ${machine.workerd}, wrangler ${machine.wrangler}`);
  log(`N=${N}; scenarios: ${only.map((s) => `${s}×${runsFor(s)}`).join(", ")}; targets: ${targetNames.join(", ")}`);
  if (!pinning) notes.push("taskset unavailable or a single core: clients and servers are not pinned to separate cores");
  if (!hasProc) notes.push("/proc is unavailable: server CPU and RSS are not measured");

  // ───────── build once ─────────
  let bundleDir = null;
  let config = null;
  if (targetNames.includes("miniflare") || targetNames.includes("minimal")) {
    config = readWranglerConfig(ROOT);
  }
  if (targetNames.includes("miniflare")) {
    bundleDir = path.join(work, "bundle");
    log("bundling the Worker (wrangler deploy --dry-run)");
    bundleWorker(ROOT, bundleDir, path.join(logDir, "bundle.log"));
  }

  const results = {
    startedAt: new Date(started).toISOString(),
    stateDir: stateRoot,
    machine,
    sizes: { N, requestedN, ...ctx, tokens: undefined, tag: ctx.tag },
    runs: Object.fromEntries(only.map((s) => [s, runsFor(s)])),
    notes,
    targets: {},
  };
  const env = { root: ROOT, work, secret, bundleDir, config, logDir };

  const SCENARIO_TIMEOUT_MS = 300_000;

  for (const name of targetNames) {
    const entry = { label: TARGETS[name].label, scenarios: {}, starts: [], machineChecks: [] };
    results.targets[name] = entry;
    let target = null;
    let used = false;
    const start = async () => {
      if (target) await target.stop();
      const t0 = Date.now();
      target = await startTarget(name, env);
      entry.starts.push(Date.now() - t0);
      used = false;
      log(`${TARGETS[name].label} up at ${target.baseUrl} in ${Date.now() - t0} ms (pid ${target.rootPid})`);
    };
    try {
      await start();
    } catch (err) {
      log(`${TARGETS[name].label} failed to start: ${err.message}`);
      entry.error = `failed to start: ${err.message}`;
      continue;
    }
    const driver = () => driverFor(target);
    // When the last pass on this target closed its sockets (its group function returned).
    let closedAt = null;
    const settle = async () => {
      const wait = closedAt === null ? 0 : closedAt + ctx.settleMs - Date.now();
      if (wait > 0) {
        log(`${TARGETS[name].label} · waiting ${(wait / 1000).toFixed(1)} s for the last pass's objects to be evicted`);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    };
    // The uncounted warm-up pass (see ctx.warmupN): a failure restarts the target and the counted runs go on.
    const warmUpGroup = async (gname, group, names, label) => {
      const n = Math.min(N, ctx.warmupN);
      const t0 = Date.now();
      try {
        await withTimeout(group.fn({ ...ctx, N: n }, target, driver(), "w", Object.fromEntries(names.map((sname) => [sname, true]))), SCENARIO_TIMEOUT_MS, `${label} warm-up`);
        closedAt = Date.now();
        log(`${TARGETS[name].label} · ${label} warm-up (${n} clients, not counted) took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        await waitIdle(target, { maxMs: ctx.idleMs });
      } catch (err) {
        log(`${TARGETS[name].label} · ${label} warm-up FAILED (${err.message}); restarting the target, no warm-up`);
        entry.warmupErrors = [...(entry.warmupErrors ?? []), `${gname}: ${err.message}`];
        await start();
      }
    };

    for (const [gname, group] of Object.entries(GROUPS)) {
      const names = only.filter((sname) => SCENARIOS[sname].group === gname && targetRuns(name, sname));
      if (names.length === 0) continue;
      for (const sname of names) entry.scenarios[sname] = { runs: [] };
      const groupRuns = Math.max(...names.map(runsFor));
      // The same fixed work on the server core before each counted run and after the group: was the
      // machine slower during a run? (Each run's result keeps the check before it: machineCheckMs.)
      const check = (at) => {
        const ms = machineCheck();
        entry.machineChecks.push({ group: gname, at, ms, time: new Date().toISOString() });
        if (ms !== null) log(`${TARGETS[name].label} · machine check ${at} ${gname}: ${ms.toFixed(0)} ms of CPU for the fixed work`);
        return ms;
      };
      for (let r = 0; r < groupRuns; r++) {
        const want = Object.fromEntries(names.map((sname) => [sname, r < runsFor(sname)]));
        const label = names.filter((sname) => want[sname]).join("+");
        try {
          // Each group starts on a freshly started target: thousands of hubs left by an earlier
          // group are evicted by the local runtime later on, and that work would land in this one.
          if (r === 0 && used) {
            await start();
            closedAt = null;
          } else {
            if (group.settle) await settle();
            await waitIdle(target, { maxMs: ctx.idleMs });
          }
          used = true;
          if (r === 0 && group.warmup && ctx.warmupN > 0) {
            await warmUpGroup(gname, group, names, label);
            if (group.settle) await settle();
          }
          const machineCheckMs = check(`before run ${r + 1} of`);
          const t0 = Date.now();
          const out = await withTimeout(group.fn({ ...ctx, N }, target, driver(), r, want), SCENARIO_TIMEOUT_MS, `${label} run ${r + 1}`);
          const wallMs = Date.now() - t0;
          closedAt = Date.now();
          for (const sname of names) {
            if (!want[sname]) continue;
            const res = out[sname] ?? { error: "not produced" };
            res.wallMs = wallMs;
            res.machineCheckMs = machineCheckMs;
            entry.scenarios[sname].runs.push(res);
            if (res.metrics) log(`${TARGETS[name].label} · ${SCENARIOS[sname].title} · run ${r + 1}: ${summaryLine(res.metrics)}`);
          }
          log(`${TARGETS[name].label} · ${label} run ${r + 1} took ${(wallMs / 1000).toFixed(1)} s`);
          const errs = JSON.stringify(Object.values(out).map((res) => res.info?.errors ?? res.info?.connectErrors ?? {}));
          const hit = errs.match(/EMFILE|ENFILE|EADDRNOTAVAIL|ENOBUFS/);
          if (hit && N > 100) {
            const before = N;
            N = Math.floor(N / 2);
            notes.push(`N scaled down from ${before} to ${N} after ${label} on ${name} hit ${hit[0]} (the machine refused more sockets)`);
            log(notes.at(-1));
          }
        } catch (err) {
          log(`${TARGETS[name].label} · ${label} run ${r + 1} FAILED: ${err.message}`);
          for (const sname of names) if (want[sname]) entry.scenarios[sname].runs.push({ error: err.message });
          // A failed or timed-out run may leave the target busy or broken: start it afresh.
          try {
            await start();
          } catch (e) {
            log(`restart failed: ${e.message}`);
            entry.error = `restart failed: ${e.message}`;
            break;
          }
        }
      }
      check("after");
      for (const sname of names) entry.scenarios[sname].median = medians(entry.scenarios[sname].runs);
      if (entry.error) break;
    }
    if (target) await target.stop();
  }

  results.wallMs = Date.now() - started;
  results.sizes.N = N;
  const report = renderReport(results);
  results.report = report;
  const file = path.join(resultsDir, `${stamp}.json`);
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${report}\n`);
  log(`wall time ${(results.wallMs / 1000).toFixed(0)} s; results in ${path.relative(ROOT, file)}, target logs in ${path.relative(ROOT, logDir)}/`);
}

/** `--warmup=<n>` and `--settle=<ms>`: a whole number (of clients, of milliseconds), 0 for none. */
function wholeFlag(flag, text, unit, zero) {
  const n = Number(text);
  if (text.trim() === "" || !Number.isInteger(n) || n < 0) throw new Error(`--${flag} must be a whole number of ${unit} (0: ${zero}), not "${text}"`);
  return n;
}

function medians(runs) {
  const ok = runs.filter((r) => r.metrics);
  if (ok.length === 0) return null;
  const keys = new Set(ok.flatMap((r) => Object.keys(r.metrics)));
  return Object.fromEntries([...keys].map((k) => [k, median(ok.map((r) => r.metrics[k]))]));
}

function summaryLine(m) {
  return Object.entries(m)
    .slice(0, 5)
    .map(([k, v]) => `${k}=${typeof v === "number" ? +v.toPrecision(4) : v}`)
    .join(" ");
}
