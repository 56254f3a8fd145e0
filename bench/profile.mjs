#!/usr/bin/env node
// `npm run bench:profile`: where Herald's server CPU goes, on Miniflare (no dev
// proxy). Starts the bundled Worker with workerd's V8 inspector, CPU-profiles
// every isolate (the Worker with its Durable Objects, the local D1 simulator,
// Miniflare's entry worker, …) during five phases — N distinct admins opening
// one org-stream socket each (50 in flight; closed afterwards), N user-stream connects,
// N/2 targeted alert creates, a fan-out of 20 alerts to N org sockets, and a
// reconnect storm of those N org sockets with ?since — and
// prints, per phase, the busy time of each isolate next to the process's CPU
// time, then the Worker's self time by original source (via the bundle's
// source map). Raw .cpuprofile files (open them in Chrome DevTools) go to
// bench/results/profile-<timestamp>/.
//
//   npm run bench:profile                 # N=500
//   npm run bench:profile -- --n=1000 --state-dir=/dev/shm
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SourceMapConsumer } from "source-map-js";
import WebSocket from "ws";

import { Tokens, driverFor } from "./lib/clients.mjs";
import { freePort, pinning, sampleTree, ULIMIT } from "./lib/proc.mjs";
import { pool, waitFor } from "./lib/pool.mjs";
import { AlertTracker, closeAll, openMany, sendAtRate, serviceTokens, userTokens, waitIdle, warmUp } from "./lib/scenarios.mjs";
import { fmt, summary } from "./lib/stats.mjs";
import { bundleWorker, readWranglerConfig, startTarget, stopAllSync } from "./lib/targets.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { values: flags } = parseArgs({
  options: {
    n: { type: "string", default: "500" },
    "state-dir": { type: "string" },
    interval: { type: "string", default: "200" },
  },
});

if (!process.env.HERALD_BENCH_CHILD) {
  const pin = pinning ? `taskset -c ${pinning.client} ` : "";
  const child = spawn("sh", ["-c", `${ULIMIT}; exec ${pin}"$0" "$@"`, process.execPath, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, HERALD_BENCH_CHILD: "1" },
  });
  child.on("exit", (code) => process.exit(code ?? 1));
} else {
  await main();
}

function log(m) {
  process.stderr.write(`[profile] ${m}\n`);
}

/** A minimal CDP session over the inspector WebSocket of one isolate. */
async function cdp(url) {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 2 ** 30 });
  await new Promise((res, rej) => {
    ws.once("open", res);
    ws.once("error", rej);
  });
  let id = 0;
  const waiting = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.id && waiting.has(msg.id)) {
      const { resolve, reject } = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.error) reject(new Error(msg.error.message));
      else resolve(msg.result);
    }
  });
  return {
    send(method, params = {}) {
      const mid = ++id;
      ws.send(JSON.stringify({ id: mid, method, params }));
      return new Promise((resolve, reject) => waiting.set(mid, { resolve, reject }));
    },
    close: () => ws.close(),
  };
}

/** Busy milliseconds of a profile (every sample but idle), and self time per node. */
function selfTimes(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const deltas = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (deltas[i + 1] ?? deltas[i] ?? 0) / 1000;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  }
  let busy = 0;
  const out = [];
  for (const [nid, ms] of self) {
    const n = byId.get(nid);
    if (n.callFrame.functionName === "(idle)") continue;
    busy += ms;
    out.push({ ms, frame: n.callFrame });
  }
  return { busy, out };
}

function groupOf(source) {
  if (!source) return "(bundle, unmapped)";
  // drizzle-orm's own source maps point at ../src/… inside node_modules.
  if (source.includes("node_modules/src/")) return "npm:drizzle-orm";
  const nm = source.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = source.slice(nm + 13).split("/");
    return `npm:${rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const src = source.lastIndexOf("/src/");
  return src >= 0 ? source.slice(src + 1) : source;
}

/**
 * Time an isolate spent in its own JavaScript (frames with a script URL) and
 * in its garbage collector. workerd runs every isolate on one thread and a
 * call into another service (a D1 query, the rate limiter) can run that
 * service while the caller's native `fetch` frame is still on the stack, so
 * native frames and "(program)" overlap across isolates; JS self time does not.
 */
function jsTime(out) {
  let js = 0;
  let gc = 0;
  for (const { ms, frame } of out) {
    if (frame.functionName === "(garbage collector)") gc += ms;
    else if (frame.url) js += ms;
  }
  return { js, gc };
}

async function main() {
  const N = Number(flags.n);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const outDir = path.join(ROOT, "bench/results", `profile-${stamp}`);
  fs.mkdirSync(outDir, { recursive: true });
  const work = fs.mkdtempSync(path.join(flags["state-dir"] ?? os.tmpdir(), "herald-profile-"));
  process.on("exit", () => {
    stopAllSync();
    fs.rmSync(work, { recursive: true, force: true });
  });
  process.on("SIGINT", () => process.exit(130));

  const bundleDir = path.join(work, "bundle");
  log("bundling the Worker");
  bundleWorker(ROOT, bundleDir, path.join(outDir, "bundle.log"));
  const map = new SourceMapConsumer(JSON.parse(fs.readFileSync(path.join(bundleDir, "index.js.map"), "utf8")));
  const config = readWranglerConfig(ROOT);
  const inspectorPort = await freePort();
  const secret = "profile-secret-profile-secret-profile-secret";
  const target = await startTarget("miniflare", { root: ROOT, work, secret, bundleDir, config, logDir: outDir, inspectorPort });
  log(`Herald (miniflare) at ${target.baseUrl}, inspector on ${inspectorPort}`);
  const driver = driverFor(target);
  const ctx = { N, tag: `p${Date.now().toString(36)}`, tokens: new Tokens(secret), phaseMs: 120_000 };

  const list = await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json();
  const sessions = [];
  for (const t of list) {
    try {
      const s = await cdp(t.webSocketDebuggerUrl);
      await s.send("Profiler.enable");
      await s.send("Profiler.setSamplingInterval", { interval: Number(flags.interval) });
      sessions.push({ id: t.id, s });
    } catch (err) {
      log(`cannot profile ${t.id}: ${err.message}`);
    }
  }

  const phases = [];
  async function profiled(name, fn) {
    await waitIdle(target, { maxMs: 20_000 });
    for (const { s } of sessions) await s.send("Profiler.start");
    const before = sampleTree(target.rootPid);
    const t0 = performance.now();
    const detail = await fn();
    const wallMs = performance.now() - t0;
    const after = sampleTree(target.rootPid);
    const isolates = [];
    for (const { id, s } of sessions) {
      const { profile } = await s.send("Profiler.stop");
      const { busy, out } = selfTimes(profile);
      if (busy < 1) continue;
      fs.writeFileSync(path.join(outDir, `${name}-${id.replace(/[^a-z0-9]+/gi, "_")}.cpuprofile`), JSON.stringify(profile));
      isolates.push({ id, busy, out });
    }
    const cpuMs = (after.cpuS - before.cpuS) * 1000;
    phases.push({ name, wallMs, cpuMs, isolates, detail });
    log(`${name}: ${fmt(wallMs)} ms wall, ${fmt(cpuMs)} ms server CPU`);
  }

  // N distinct admins open one org-stream socket each, 50 in flight (issue 15's headline connect):
  // each is the admin's first sight (directory upsert) and an admission into the one org hub.
  const corg = `${ctx.tag}-c`;
  const connectAdminTokens = await userTokens(ctx, corg, "adm", "admin", N);
  await profiled("org-connect", async () => {
    const opened = await openMany(driver, connectAdminTokens, { stream: "org" }, 50, ctx.phaseMs);
    closeAll(opened.open);
    const s = summary(opened.times);
    return { opened: opened.open.length, failures: opened.failures, p50Ms: Math.round(s.p50 ?? NaN), p99Ms: Math.round(s.p99 ?? NaN) };
  });

  const org = `${ctx.tag}-u`;
  const [svc, agentTokens] = await Promise.all([serviceTokens(ctx, org), userTokens(ctx, org, "agt", "agent", N)]);
  let users;
  await profiled("connect", async () => {
    users = await openMany(driver, agentTokens, { stream: "user" }, 50, ctx.phaseMs);
    return { opened: users.open.length, failures: users.failures };
  });
  await warmUp(ctx, driver, svc, users.open, (k) => `agt-${k}`, 1);
  const K = Math.ceil(N / 2);
  await profiled("targeted", async () => {
    const t = new AlertTracker(`${ctx.tag}-t`, K, 1);
    t.attach(users.open);
    await pool(K, 32, (k) => t.send(driver, svc[k % svc.length], k, `agt-${k % N}`), ctx.phaseMs);
    await waitFor(() => t.delivered >= K, 15_000);
    return { alerts: K, delivered: t.delivered, restFailures: t.restFailures };
  });
  closeAll(users.open);

  const oorg = `${ctx.tag}-o`;
  const [osvc, adminTokens] = await Promise.all([serviceTokens(ctx, oorg), userTokens(ctx, oorg, "adm", "admin", N)]);
  await driver.putUser(osvc[0], "fan-assignee");
  const admins = await openMany(driver, adminTokens, { stream: "org" }, 50, ctx.phaseMs);
  await waitIdle(target, { maxMs: 20_000 });
  await warmUp(ctx, driver, osvc, admins.open, "fan-assignee", admins.open.length);
  await profiled("fanout", async () => {
    const a = new AlertTracker(`${ctx.tag}-f`, 20, admins.open.length);
    a.attach(admins.open);
    await sendAtRate(a, driver, osvc, 20, 10, "fan-assignee", ctx.phaseMs);
    await waitFor(() => a.delivered >= a.expected, 15_000);
    return { alerts: 20, sockets: admins.open.length, delivered: a.delivered };
  });
  // The reconnect storm: every org socket dropped, then all back at once with ?since.
  await waitIdle(target, { maxMs: 20_000 });
  const since = admins.open.map((c) => ({ token: c.token, since: c.lastSeq }));
  for (const c of admins.open) c.terminate();
  await profiled("storm", async () => {
    const again = since.map((x) => driver.conn(x.token, { stream: "org", since: x.since }));
    const { results } = await pool(again.length, again.length, (i) => again[i].open(30_000), ctx.phaseMs);
    closeAll(again);
    return { sockets: again.length, reconnected: results.filter((r) => r?.ok).length, note: "the drops were processed before this phase" };
  });

  for (const { s } of sessions) s.close();
  await target.stop();

  // ───────── report ─────────
  const lines = [`## Herald server CPU profile (Miniflare, N=${N}, ${new Date().toISOString().slice(0, 10)})`, ""];
  for (const ph of phases) {
    lines.push(`### ${ph.name}: ${JSON.stringify(ph.detail)}`);
    lines.push("");
    lines.push(`Wall ${fmt(ph.wallMs)} ms; workerd process tree CPU ${fmt(ph.cpuMs)} ms (user+system, every thread).`);
    lines.push("");
    lines.push("| isolate | own JavaScript (ms) | GC (ms) | share of process CPU |");
    lines.push("|---|---:|---:|---:|");
    let accounted = 0;
    for (const iso of ph.isolates.map((i) => ({ ...i, ...jsTime(i.out) })).sort((a, b) => b.js - a.js)) {
      accounted += iso.js + iso.gc;
      lines.push(`| ${iso.id || "?"} | ${fmt(iso.js)} | ${fmt(iso.gc)} | ${fmt(((iso.js + iso.gc) / ph.cpuMs) * 100)} % |`);
    }
    lines.push(
      `| runtime (C++: SQLite, I/O, WebSocket framing, RPC serialization, syscalls) | ${fmt(Math.max(0, ph.cpuMs - accounted))} | | ${fmt((Math.max(0, ph.cpuMs - accounted) / ph.cpuMs) * 100)} % |`,
    );
    const user = ph.isolates.find((i) => i.id.startsWith("core:user"));
    if (user) {
      const groups = new Map();
      const fns = new Map();
      for (const { ms, frame } of user.out) {
        if (!frame.url) continue;
        let key;
        let fn = frame.functionName || "(anonymous)";
        if (!/index\.js$/.test(frame.url)) {
          // Code Miniflare/wrangler inject into the same isolate (bindings' wrappers), not the bundle.
          key = `injected: ${frame.url.split("/").pop() || frame.url}`;
          fn = `${fn} (${key})`;
        } else if (frame.lineNumber >= 0) {
          const pos = map.originalPositionFor({ line: frame.lineNumber + 1, column: frame.columnNumber });
          key = groupOf(pos.source);
          if (pos.name) fn = pos.name;
          fn = `${fn} (${key}${pos.line ? `:${pos.line}` : ""})`;
        } else key = "(no position)";
        groups.set(key, (groups.get(key) ?? 0) + ms);
        fns.set(fn, (fns.get(fn) ?? 0) + ms);
      }
      lines.push("");
      lines.push("Worker + Durable Objects isolate, own JavaScript by source:");
      lines.push("");
      lines.push("| source | self ms | % |");
      lines.push("|---|---:|---:|");
      const total = [...groups.values()].reduce((n, v) => n + v, 0);
      for (const [k, v] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 14)) lines.push(`| ${k} | ${fmt(v)} | ${fmt((v / total) * 100)} |`);
      lines.push("");
      lines.push("Top functions (self time):");
      lines.push("");
      for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, 12)) lines.push(`- ${fmt(v)} ms — ${k}`);
    }
    lines.push("");
  }
  const report = lines.join("\n");
  fs.writeFileSync(path.join(outDir, "summary.md"), report);
  process.stdout.write(`${report}\n`);
  log(`profiles in ${path.relative(ROOT, outDir)}/`);
}
