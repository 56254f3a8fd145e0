// The five scenarios of the benchmark (plus fan-out with deflate offered),
// written once against a driver (bench/lib/clients.mjs) so Herald and the
// Socket.IO baseline get identical clients, payloads, rates and timeouts.
// Every scenario opens its own fresh organization (no state carried over
// from an earlier run), measures, closes its sockets and returns
// { metrics: {name: number|null}, info: {...} }.
import { performance } from "node:perf_hooks";
import { clientCpuS, sampleTree, sleep } from "./proc.mjs";
import { pool, waitFor, withTimeout } from "./pool.mjs";
import { summary } from "./stats.mjs";

/** Service subjects the REST calls rotate over (each has its own rate-limit key in Herald). */
const SERVICE_SUBJECTS = 64;

/** A ~500 B alert as a scoring backend would post it; `data.bench`/`data.seq` identify it at the clients. */
export function alertBody(bench, seq, assigneeId) {
  return {
    alertType: "LIKELY_TO_SELL",
    priority: "MEDIUM",
    confidence: 0.87,
    title: `Lead ${seq} is likely to sell`,
    message: "Scored 0.87 by the propensity model: three strong signals in the last 24 hours.",
    subject: { id: `lead-${seq}`, email: `lead-${seq}@example.com`, name: `Lead Number ${seq}` },
    ...(assigneeId && { assigneeId }),
    data: {
      bench,
      seq,
      score: 0.87,
      model: "propensity-v7",
      signals: ["visited_pricing_page", "opened_last_three_emails", "requested_callback"],
      property: { city: "Springfield", listPrice: 425000, bedrooms: 3 },
    },
  };
}

/** The spans of a create's Server-Timing header (Herald): the D1 reads it decides on, the D1 write batch, the publish. */
const CREATE_SPANS = ["read", "commit", "publish"];

/** `{read, commit, publish}` durations (ms) from a Server-Timing header; a span the header lacks is absent. */
export function createSpans(header) {
  const out = {};
  for (const part of (header ?? "").split(",")) {
    const m = /^\s*([\w-]+)\s*;(?:.*;)?\s*dur=([\d.]+)/.exec(part);
    if (m && CREATE_SPANS.includes(m[1])) out[m[1]] = Number(m[2]);
  }
  return out;
}

const benchSeq = (alert, bench) => (alert?.data?.bench === bench && typeof alert.data.seq === "number" ? alert.data.seq : -1);

/** Measures server (process tree) and client CPU and the wall time of a phase. */
class Meter {
  constructor(target) {
    this.target = target;
    this.s0 = sampleTree(target.rootPid);
    this.c0 = clientCpuS();
    this.t0 = performance.now();
  }
  stop() {
    const s1 = sampleTree(this.target.rootPid);
    const wallS = (performance.now() - this.t0) / 1000;
    return {
      wallS,
      serverCpuS: s1.cpuS - this.s0.cpuS,
      clientCpuS: clientCpuS() - this.c0,
      serverRssBytes: s1.rssBytes,
    };
  }
}

/** Waits until the server tree uses less than `threshold` of a core over 400 ms (or `maxMs` passed). */
export async function waitIdle(target, { maxMs = 15_000, threshold = 0.08 } = {}) {
  const end = performance.now() + maxMs;
  let prev = sampleTree(target.rootPid);
  while (performance.now() < end) {
    await sleep(400);
    const cur = sampleTree(target.rootPid);
    const used = (cur.cpuS - prev.cpuS) / ((cur.at - prev.at) / 1000 || 0.4);
    prev = cur;
    if (used < threshold) return true;
  }
  return false;
}

/** Opens sockets with bounded concurrency; returns the open ones and connect times. */
export async function openMany(driver, tokens, opts, concurrency, deadlineMs, timeoutMs = 30_000) {
  const conns = tokens.map((t) => driver.conn(t, typeof opts === "function" ? opts(t) : opts));
  const t0 = performance.now();
  const { results } = await pool(conns.length, concurrency, (i) => conns[i].open(timeoutMs), deadlineMs);
  const wallMs = performance.now() - t0;
  const times = [];
  const open = [];
  const errors = new Map();
  let failures = 0;
  results.forEach((r, i) => {
    if (r?.ok) {
      times.push(r.value);
      open.push(conns[i]);
    } else {
      failures++;
      const msg = r ? String(r.error?.message ?? r.error).slice(0, 120) : "not started before the deadline";
      errors.set(msg, (errors.get(msg) ?? 0) + 1);
    }
  });
  return { conns, open, times, failures, errors: Object.fromEntries(errors), wallMs };
}

export function closeAll(conns) {
  for (const c of conns) c.close();
}

function terminateAll(conns) {
  for (const c of conns) c.terminate();
}

export async function serviceTokens(ctx, org) {
  return ctx.tokens.many(Array.from({ length: SERVICE_SUBJECTS }, (_, i) => ({ sub: `svc-${i}`, org, role: "service" })));
}

export async function userTokens(ctx, org, prefix, role, n) {
  return ctx.tokens.many(Array.from({ length: n }, (_, i) => ({ sub: `${prefix}-${i}`, org, role })));
}

/** Sends alerts and tracks their deliveries to a set of connections. */
export class AlertTracker {
  constructor(bench, count, expectedPerAlert) {
    this.bench = bench;
    this.sendAt = new Float64Array(count).fill(NaN);
    this.received = new Uint32Array(count);
    this.expectedPerAlert = expectedPerAlert;
    this.latencies = [];
    this.delivered = 0;
    this.firstReceipt = Infinity;
    this.lastReceipt = 0;
    this.frameBytes = 0;
    this.rest = [];
    this.restFailures = 0;
    this.restErrors = new Map();
    this.lastResponse = 0;
    this.firstAt = new Float64Array(count).fill(NaN);
    this.lastAt = new Float64Array(count).fill(NaN);
    this.restMs = new Float64Array(count).fill(NaN);
    /** Server-Timing spans of the successful creates (Herald only; empty where the server sends none). */
    this.spans = Object.fromEntries(CREATE_SPANS.map((k) => [k, []]));
    this.spanAt = Object.fromEntries(CREATE_SPANS.map((k) => [k, new Float64Array(count).fill(NaN)]));
  }
  /** p50 (and p99) of each create span, as metrics `<prefix>_<span>_p50_ms`; null where no create reported it. */
  spanMetrics(prefix, { p99 = false } = {}) {
    const out = {};
    for (const k of CREATE_SPANS) {
      const s = summary(this.spans[k]);
      out[`${prefix}_${k}_p50_ms`] = s.p50;
      if (p99) out[`${prefix}_${k}_p99_ms`] = s.p99;
    }
    return out;
  }
  /** Per alert: REST time, first and last receipt after the send (ms). */
  perAlert() {
    const r = (x) => (Number.isNaN(x) ? null : Math.round(x * 10) / 10);
    return Array.from(this.sendAt, (t, k) => ({
      seq: k,
      restMs: r(this.restMs[k]),
      firstMs: r(this.firstAt[k] - t),
      lastMs: r(this.lastAt[k] - t),
      received: this.received[k],
      ...Object.fromEntries(CREATE_SPANS.map((s) => [`${s}Ms`, r(this.spanAt[s][k])])),
    }));
  }
  attach(conns) {
    for (const c of conns) {
      c.onAlert = (alert, now, bytes) => {
        const seq = benchSeq(alert, this.bench);
        if (seq < 0 || seq >= this.received.length) return;
        this.received[seq]++;
        this.delivered++;
        if (bytes && !this.frameBytes) this.frameBytes = bytes;
        if (!Number.isNaN(this.sendAt[seq])) this.latencies.push(now - this.sendAt[seq]);
        if (Number.isNaN(this.firstAt[seq])) this.firstAt[seq] = now;
        this.lastAt[seq] = now;
        if (now < this.firstReceipt) this.firstReceipt = now;
        if (now > this.lastReceipt) this.lastReceipt = now;
      };
    }
  }
  async send(driver, token, seq, assigneeId) {
    this.sendAt[seq] = performance.now();
    try {
      const r = await driver.createAlert(token, alertBody(this.bench, seq, assigneeId));
      this.lastResponse = performance.now();
      this.restMs[seq] = r.ms;
      if (r.status !== 201) {
        this.restFailures++;
        const k = `HTTP ${r.status} ${r.text.slice(0, 100)}`;
        this.restErrors.set(k, (this.restErrors.get(k) ?? 0) + 1);
      } else {
        this.rest.push(r.ms);
        const spans = createSpans(r.serverTiming);
        for (const [k, v] of Object.entries(spans)) {
          this.spans[k].push(v);
          this.spanAt[k][seq] = v;
        }
      }
    } catch (err) {
      this.restFailures++;
      const k = String(err.message).slice(0, 100);
      this.restErrors.set(k, (this.restErrors.get(k) ?? 0) + 1);
    }
  }
  get expected() {
    return this.received.length * this.expectedPerAlert;
  }
}

/** Sends `count` alerts at `rate` per second, open loop (no waiting for earlier responses). */
export async function sendAtRate(tracker, driver, svc, count, rate, assignee, deadlineMs) {
  const start = performance.now();
  const inflight = [];
  for (let k = 0; k < count; k++) {
    const due = start + (k * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    if (performance.now() - start > deadlineMs) break;
    inflight.push(tracker.send(driver, svc[k % svc.length], k, typeof assignee === "function" ? assignee(k) : assignee));
  }
  await Promise.all(inflight);
}

/** Warm-up: a couple of alerts through the whole path before anything is timed. */
export async function warmUp(ctx, driver, svc, conns, assignee, expectPerAlert) {
  const bench = `${ctx.tag}-warm-${Math.random().toString(36).slice(2, 8)}`;
  const t = new AlertTracker(bench, 2, expectPerAlert);
  t.attach(conns);
  for (let k = 0; k < 2; k++) await t.send(driver, svc[k], k, typeof assignee === "function" ? assignee(k) : assignee);
  await waitFor(() => t.delivered >= t.expected, 10_000);
  return t.delivered >= t.expected;
}

// ──────────────── user-stream group: 1. connect, then 3. targeted ────────────────

/**
 * N users (agents), one user-stream socket each: N Herald user hubs, or N
 * Socket.IO sockets in N user rooms. Connect: the first `connectSequential`
 * one at a time (unloaded latency), the rest `connectConcurrency` in flight.
 * Targeted (on the same sockets): a closed-loop burst of alerts assigned
 * round-robin. Herald records each agent in its directory when the agent's
 * socket authenticates (the lazy directory), so every agent is assignable.
 */
export async function userGroup(ctx, target, driver, run, want) {
  const org = `${ctx.tag}-u${run}`;
  const N = ctx.N;
  const [svc, tokens] = await Promise.all([serviceTokens(ctx, org), userTokens(ctx, org, "agt", "agent", N)]);
  const out = {};
  const seqN = Math.min(ctx.connectSequential, N);
  const m = new Meter(target);
  const seq = await openMany(driver, tokens.slice(0, seqN), { stream: "user" }, 1, ctx.phaseMs);
  const par = await openMany(driver, tokens.slice(seqN), { stream: "user" }, ctx.connectConcurrency, ctx.phaseMs);
  const usage = m.stop();
  const conns = [...seq.open, ...par.open];
  try {
    const s1 = summary(seq.times);
    const s2 = summary(par.times);
    const all = summary([...seq.times, ...par.times]);
    const failures = seq.failures + par.failures;
    out.connect = {
      metrics: {
        connect_unloaded_p50_ms: s1.p50,
        connect_unloaded_p99_ms: s1.p99,
        connect_p50_ms: s2.p50,
        connect_p99_ms: s2.p99,
        connect_max_ms: all.max,
        connect_failures: failures,
        connect_rate_per_s: par.open.length / (par.wallMs / 1000),
        connect_server_cpu_ms_per_conn: (usage.serverCpuS * 1000) / Math.max(1, conns.length),
        connect_client_cpu_ms_per_conn: (usage.clientCpuS * 1000) / Math.max(1, conns.length),
      },
      info: {
        n: N,
        opened: conns.length,
        sequential: seqN,
        concurrency: ctx.connectConcurrency,
        errors: { ...seq.errors, ...par.errors },
        usage,
      },
    };
    if (!want.targeted) return out;
    if (conns.length === 0) throw new Error(`no socket opened: ${JSON.stringify(out.connect.info.errors)}`);

    const idle = await waitIdle(target, { maxMs: ctx.idleMs });
    await warmUp(ctx, driver, svc, conns, (k) => `agt-${k}`, 1);
    await waitIdle(target, { maxMs: 5_000 });
    const K = ctx.targeted.count ?? Math.ceil(N / 2);
    const t = new AlertTracker(`${ctx.tag}-t${run}`, K, 1);
    t.attach(conns);
    const frames0 = conns.reduce((n, c) => n + c.frames, 0);
    const mt = new Meter(target);
    const t0 = performance.now();
    await pool(K, ctx.targeted.concurrency, (k) => t.send(driver, svc[k % svc.length], k, `agt-${k % N}`), ctx.phaseMs);
    const restSpan = (t.lastResponse - t0) / 1000;
    await waitFor(() => t.delivered >= K - t.restFailures, ctx.drainMs);
    const ut = mt.stop();
    const span = (t.lastReceipt - t0) / 1000;
    const frames = conns.reduce((n, c) => n + c.frames, 0) - frames0;
    const lat = summary(t.latencies);
    const created = K - t.restFailures;
    out.targeted = {
      metrics: {
        targeted_delivered_per_s: span > 0 ? t.delivered / span : null,
        targeted_frames_per_s: span > 0 ? frames / span : null,
        targeted_rest_creates_per_s: restSpan > 0 ? created / restSpan : null,
        targeted_delivered_ratio: t.delivered / K,
        targeted_rest_failures: t.restFailures,
        targeted_p50_ms: lat.p50,
        targeted_p99_ms: lat.p99,
        targeted_rest_p50_ms: summary(t.rest).p50,
        targeted_rest_p99_ms: summary(t.rest).p99,
        targeted_server_cpu_ms_per_alert: (ut.serverCpuS * 1000) / Math.max(1, created),
        targeted_client_cpu_ms_per_alert: (ut.clientCpuS * 1000) / Math.max(1, created),
        // Herald's Server-Timing on each create (null on targets that send none).
        ...t.spanMetrics("targeted_span"),
      },
      info: {
        users: N,
        sockets: conns.length,
        idleBefore: idle,
        alerts: K,
        concurrency: ctx.targeted.concurrency,
        framesPerAlert: frames / Math.max(1, K),
        frameBytes: t.frameBytes || null,
        restErrors: Object.fromEntries(t.restErrors),
        serverTimed: t.spans.publish.length,
        usage: ut,
      },
    };
    return out;
  } finally {
    closeAll(conns);
  }
}

// ──────────────── org-stream group: 2. fan-out, then 4. reconnect storm ────────────────

/**
 * N admins with one org-stream socket each (one Herald org hub; one
 * Socket.IO org room). Fan-out: alerts created at a fixed rate over REST,
 * latency from the REST call to receipt on every socket; then a closed-loop
 * burst for delivered messages per second. Reconnect storm (same sockets):
 * all dropped at once (no close frame), E alerts created while they are
 * down, then every client reconnects at the same moment — Herald with
 * ?since=<last seq>, the baseline as it can (it has no resume: the missed
 * alerts are lost).
 */
export async function orgGroup(ctx, target, driver, run, want, { deflate = false } = {}) {
  const org = `${ctx.tag}-o${deflate ? "z" : ""}${run}`;
  const [svc, tokens] = await Promise.all([serviceTokens(ctx, org), userTokens(ctx, org, "adm", "admin", ctx.N)]);
  const assignee = "fan-assignee";
  const put = await driver.putUser(svc[0], assignee);
  if (put.status >= 300) throw new Error(`PUT /users/${assignee}: HTTP ${put.status}`);
  // 1a. org-stream connect: N distinct admins (each one's first sight by the server), `connectConcurrency` in flight.
  const mc = new Meter(target);
  const opened = await openMany(driver, tokens, { stream: "org", deflate }, ctx.connectConcurrency, ctx.phaseMs);
  const uc = mc.stop();
  const conns = opened.open;
  let again = [];
  const out = {};
  try {
    if (want.orgconnect) {
      const s = summary(opened.times);
      out.orgconnect = {
        metrics: {
          org_connect_p50_ms: s.p50,
          org_connect_p99_ms: s.p99,
          org_connect_max_ms: s.max,
          org_connect_failures: opened.failures,
          org_connect_rate_per_s: opened.wallMs > 0 ? conns.length / (opened.wallMs / 1000) : null,
          org_connect_server_cpu_ms_per_conn: (uc.serverCpuS * 1000) / Math.max(1, conns.length),
        },
        info: { n: ctx.N, opened: conns.length, concurrency: ctx.connectConcurrency, errors: opened.errors, usage: uc },
      };
    }
    if (conns.length === 0) throw new Error(`no socket opened: ${JSON.stringify(opened.errors)}`);
    if (!want.fanout && !want.reconnect) return out;
    const extensions = conns[0].negotiatedExtensions || "none";
    const t0idle = performance.now();
    const idleBefore = await waitIdle(target, { maxMs: ctx.idleMs });
    const idleWaitMs = performance.now() - t0idle;
    await warmUp(ctx, driver, svc, conns, assignee, conns.length);
    await waitIdle(target, { maxMs: 5_000 });

    if (want.fanout) {
      // Phase A: fixed rate, open loop.
      const { rate, count } = ctx.fanout;
      const a = new AlertTracker(`${ctx.tag}-fa${run}${deflate ? "z" : ""}`, count, conns.length);
      a.attach(conns);
      const m = new Meter(target);
      await sendAtRate(a, driver, svc, count, rate, assignee, ctx.phaseMs);
      await waitFor(() => a.delivered >= a.expected, ctx.drainMs);
      const usage = m.stop();
      const lat = summary(a.latencies);
      const metrics = {
        fanout_p50_ms: lat.p50,
        fanout_p95_ms: lat.p95,
        fanout_p99_ms: lat.p99,
        fanout_max_ms: lat.max,
        fanout_delivered_ratio: a.delivered / (count * ctx.N),
        fanout_rest_p50_ms: summary(a.rest).p50,
        fanout_rest_failures: a.restFailures,
        fanout_server_cpu_us_per_msg: (usage.serverCpuS * 1e6) / Math.max(1, a.delivered),
        fanout_client_cpu_us_per_msg: (usage.clientCpuS * 1e6) / Math.max(1, a.delivered),
        fanout_connect_failures: opened.failures,
        // Herald's Server-Timing on each create of phase A (null on targets that send none).
        ...a.spanMetrics("fanout_span", { p99: true }),
      };
      const info = {
        sockets: conns.length,
        connectFailures: opened.failures,
        connectErrors: opened.errors,
        extensions,
        rate,
        count,
        idleBefore,
        idleWaitMs: Math.round(idleWaitMs),
        frameBytes: a.frameBytes || null,
        restErrors: Object.fromEntries(a.restErrors),
        serverTimed: a.spans.publish.length,
        usage,
        perAlert: a.perAlert(),
      };
      // Phase B: burst, closed loop, for throughput at the clients.
      if (!deflate && ctx.fanout.burst > 0) {
        await waitIdle(target, { maxMs: 5_000 });
        const b = new AlertTracker(`${ctx.tag}-fb${run}`, ctx.fanout.burst, conns.length);
        b.attach(conns);
        const mb = new Meter(target);
        const tb = performance.now();
        await pool(ctx.fanout.burst, ctx.fanout.burstConcurrency, (k) => b.send(driver, svc[k % svc.length], k, assignee), ctx.phaseMs);
        await waitFor(() => b.delivered >= b.expected, ctx.drainMs);
        const ub = mb.stop();
        const span = (b.lastReceipt - tb) / 1000;
        metrics.fanout_burst_msgs_per_s = span > 0 ? b.delivered / span : null;
        metrics.fanout_burst_delivered_ratio = b.delivered / b.expected;
        metrics.fanout_burst_server_cpu_util = ub.serverCpuS / ub.wallS;
        metrics.fanout_burst_client_cpu_util = ub.clientCpuS / ub.wallS;
        info.burst = { count: ctx.fanout.burst, concurrency: ctx.fanout.burstConcurrency, usage: ub, restErrors: Object.fromEntries(b.restErrors) };
      }
      out[deflate ? "fanout-deflate" : "fanout"] = { metrics, info };
    }

    if (want.reconnect) {
      await waitIdle(target, { maxMs: 5_000 });
      const E = ctx.reconnect.missed;
      const bench = `${ctx.tag}-r${run}`;
      const herald = driver.kind === "herald";
      const state = conns.map((c) => ({ token: c.token, since: c.lastSeq }));
      const m = new Meter(target);
      const tDrop = performance.now();
      terminateAll(conns);
      // The alerts every client misses while it is away.
      const missed = new AlertTracker(bench, E, 0);
      for (let k = 0; k < E; k++) await missed.send(driver, svc[k % svc.length], k, assignee);
      const t0 = performance.now();
      again = state.map((st) => driver.conn(st.token, { stream: "org", ...(herald && st.since !== undefined && { since: st.since }) }));
      const got = again.map(() => new Set());
      const caughtAt = new Float64Array(again.length).fill(NaN);
      again.forEach((c, i) => {
        c.onAlert = (alert, now) => {
          const seq = benchSeq(alert, bench);
          if (seq < 0) return;
          got[i].add(seq);
          if (got[i].size === E && Number.isNaN(caughtAt[i])) caughtAt[i] = now;
        };
      });
      // The storm: every client at once.
      const { results } = await pool(again.length, again.length, (i) => again[i].open(ctx.reconnect.timeoutMs), ctx.phaseMs);
      // Herald replays before `connected`; a short grace for frames still in flight.
      await waitFor(() => got.every((g, i) => !results[i]?.ok || g.size === E), herald ? 2_000 : 200);
      const usage = m.stop();
      const back = results.filter((r) => r?.ok).map((r) => r.value);
      const failures = results.filter((r) => !r?.ok).length;
      const caughtUp = got.filter((g) => g.size === E).length;
      const reconnectedAll = failures === 0 && back.length ? Math.max(...back) : null;
      const caughtTimes = [...caughtAt].filter((x) => !Number.isNaN(x)).map((x) => x - t0);
      const s = summary(back);
      const errors = new Map();
      for (const r of results) {
        if (r && !r.ok) {
          const k = String(r.error?.message).slice(0, 100);
          errors.set(k, (errors.get(k) ?? 0) + 1);
        }
      }
      out.reconnect = {
        metrics: {
          reconnect_all_ms: reconnectedAll,
          reconnect_p50_ms: s.p50,
          reconnect_p99_ms: s.p99,
          reconnect_failures: failures,
          reconnect_caught_up_ratio: caughtUp / state.length,
          reconnect_all_caught_up_ms: caughtUp === state.length && caughtUp > 0 ? Math.max(reconnectedAll ?? 0, ...caughtTimes) : null,
          reconnect_missed_events_lost: state.length * E - got.reduce((n, g) => n + g.size, 0),
          reconnect_server_cpu_ms: usage.serverCpuS * 1000,
        },
        info: {
          sockets: state.length,
          missedAlerts: E,
          outageMs: Math.round(t0 - tDrop),
          resume: herald ? "?since=<last seq>" : "none (Socket.IO has no resume: missed events are lost)",
          restErrors: Object.fromEntries(missed.restErrors),
          errors: Object.fromEntries(errors),
          usage,
        },
      };
    }
    return out;
  } finally {
    terminateAll(conns);
    closeAll(again);
  }
}

// ──────────── 1c. org-stream connect, one admin holding N sockets ────────────

/**
 * The older way of measuring the org-stream connect: one admin (one token)
 * opens `ctx.single.n` org-stream sockets, `connectConcurrency` in flight.
 * Only the first is the user's first sight by the server; the rest measure
 * admission into the org hub. Secondary to 1a (N distinct admins).
 */
export async function singleGroup(ctx, target, driver, run) {
  const org = `${ctx.tag}-s${run}`;
  const n = Math.min(ctx.N, ctx.single?.n ?? ctx.N);
  const token = await ctx.tokens.get("adm-single", org, "admin");
  const m = new Meter(target);
  const opened = await openMany(driver, Array.from({ length: n }, () => token), { stream: "org" }, ctx.connectConcurrency, ctx.phaseMs);
  const usage = m.stop();
  closeAll(opened.open);
  const s = summary(opened.times);
  return {
    single: {
      metrics: {
        single_connect_p50_ms: s.p50,
        single_connect_p99_ms: s.p99,
        single_connect_max_ms: s.max,
        single_connect_failures: opened.failures,
        single_connect_rate_per_s: opened.wallMs > 0 ? opened.open.length / (opened.wallMs / 1000) : null,
        single_connect_server_cpu_ms_per_conn: (usage.serverCpuS * 1000) / Math.max(1, opened.open.length),
      },
      info: { sockets: n, opened: opened.open.length, concurrency: ctx.connectConcurrency, errors: opened.errors, usage },
    },
  };
}

// ───────────────────────────── 5. memory ─────────────────────────────

function runtimeRss(sample, kind) {
  const procs = kind === "herald" ? sample.procs.filter((p) => p.comm === "workerd") : sample.procs;
  return procs.reduce((n, p) => n + p.rssBytes, 0);
}

/**
 * Server RSS (every process of the target) on a fresh target: empty (after a
 * warm-up); with the org's hub (room) holding one socket; with N more idle
 * org-stream sockets of N admins; then with N more idle user-stream sockets
 * of N users (N Herald user hubs; skipped on the minimal target). Each
 * socket delta divided by N.
 */
export async function memory(ctx, target, driver, _run) {
  // Warm-up: load the code paths once (a socket of each kind, an alert), then let it settle.
  const worg = `${ctx.tag}-mw`;
  const [wsvc, wt] = await Promise.all([serviceTokens(ctx, worg), userTokens(ctx, worg, "w", "admin", 2)]);
  const w = await openMany(driver, wt, (t) => ({ stream: t === wt[0] && driver.userStream ? "user" : "org" }), 2, 30_000);
  await driver.putUser(wsvc[0], "w-0");
  await warmUp(ctx, driver, wsvc, w.open, "w-0", 1).catch(() => false);
  closeAll(w.open);
  await sleep(1_000);
  await waitIdle(target, { maxMs: 10_000 });
  const empty = sampleTree(target.rootPid);

  const org = `${ctx.tag}-m`;
  const [ut, at] = await Promise.all([userTokens(ctx, org, "agt", "agent", ctx.N), userTokens(ctx, org, "adm", "admin", ctx.N)]);
  const settle = async () => {
    await sleep(1_000);
    await waitIdle(target, { maxMs: 15_000 });
    await sleep(ctx.memorySettleMs);
  };
  // The org's hub (room) first, with one socket of another admin, so the org-stream delta is sockets
  // only; then N org-stream sockets, on every target from the same state (the minimal DO compares
  // on this row); then N user-stream sockets (not on a target without a user stream: minimal).
  const w1 = await openMany(driver, [await ctx.tokens.get("adm-warm", org, "admin")], { stream: "org" }, 1, 30_000);
  await settle();
  const withHub = sampleTree(target.rootPid);
  const admins = await openMany(driver, at, { stream: "org" }, ctx.connectConcurrency, ctx.phaseMs);
  await settle();
  const withAdmins = sampleTree(target.rootPid);
  const users = driver.userStream ? await openMany(driver, ut, { stream: "user" }, ctx.connectConcurrency, ctx.phaseMs) : { open: [], failures: 0, errors: {} };
  if (driver.userStream) await settle();
  const withAll = sampleTree(target.rootPid);
  closeAll(users.open);
  closeAll(admins.open);
  closeAll(w1.open);
  const proc = (s) => s.procs.map((p) => ({ comm: p.comm, pid: p.pid, rssMB: +(p.rssBytes / 2 ** 20).toFixed(1) }));
  return {
    metrics: {
      rss_empty_mb: empty.rssBytes / 2 ** 20,
      // The runtime alone: workerd processes for Herald (not Miniflare's/wrangler's Node host), the node process for the baseline.
      rss_empty_runtime_mb: runtimeRss(empty, driver.kind) / 2 ** 20,
      rss_idle_all_mb: withAll.rssBytes / 2 ** 20,
      // Per socket: the runtime's RSS (workerd; node for the baseline). Miniflare's Node host is not on a
      // socket's path and its GC moves its RSS by tens of MB between samples (it made per-socket deltas
      // of all processes swing from ~12 to ~170 KB at N=200); the all-process deltas are kept as *_all_kb.
      mem_per_user_conn_kb: users.open.length ? (runtimeRss(withAll, driver.kind) - runtimeRss(withAdmins, driver.kind)) / 1024 / users.open.length : null,
      mem_per_org_conn_kb: admins.open.length ? (runtimeRss(withAdmins, driver.kind) - runtimeRss(withHub, driver.kind)) / 1024 / admins.open.length : null,
      mem_per_user_conn_all_kb: users.open.length ? (withAll.rssBytes - withAdmins.rssBytes) / 1024 / users.open.length : null,
      mem_per_org_conn_all_kb: admins.open.length ? (withAdmins.rssBytes - withHub.rssBytes) / 1024 / admins.open.length : null,
      mem_connect_failures: users.failures + admins.failures,
    },
    info: {
      userSockets: users.open.length,
      orgSockets: admins.open.length,
      errors: { ...users.errors, ...admins.errors },
      order: "empty → org hub with 1 socket → + N org-stream sockets → + N user-stream sockets",
      processes: { empty: proc(empty), withHub: proc(withHub), withAdmins: proc(withAdmins), withAll: proc(withAll) },
    },
  };
}

// ──────────── 6. unassigned alert in a large org (Herald only) ────────────

/**
 * An org with `ctx.admins.count` admins in the directory (1,000 by default),
 * then `ctx.admins.alerts` alerts without assignee or recipients, one at a
 * time (closed loop): each notifies every admin (one inbox row, event and
 * email delivery per admin, one user-hub call each, docs/NOTIFICATIONS.md).
 * Measures the POST /api/v1/alerts latency; the first create (every user hub
 * cold) is reported on its own. No sockets: the cost is the create's.
 */
export async function adminsGroup(ctx, target, driver, run) {
  if (driver.kind !== "herald") return { admins: { metrics: {}, info: { skipped: "the baseline has no directory of admins to notify" } } };
  const { count, alerts } = ctx.admins;
  const org = `${ctx.tag}-a${run}`;
  const svc = await serviceTokens(ctx, org);
  const seed = await pool(count, 16, (i) => driver.putUser(svc[i % svc.length], `adm-${i}`, "admin"), ctx.phaseMs);
  const seeded = seed.results.filter((r) => r?.ok && (r.value.status === 200 || r.value.status === 201)).length;
  if (seeded !== count) throw new Error(`seeded ${seeded} of ${count} admins`);
  await waitIdle(target, { maxMs: 10_000 });
  const times = [];
  const failures = new Map();
  for (let k = 0; k <= alerts; k++) {
    const r = await driver.createAlert(svc[k % svc.length], alertBody(`${ctx.tag}-admins`, k), 120_000);
    if (r.status !== 201) {
      const key = `HTTP ${r.status} ${r.text.slice(0, 100)}`;
      failures.set(key, (failures.get(key) ?? 0) + 1);
    } else times.push(r.ms);
  }
  const [first, ...warm] = times;
  const s = summary(warm);
  return {
    admins: {
      metrics: {
        admins_create_first_ms: first ?? null,
        admins_create_p50_ms: s.p50,
        admins_create_p99_ms: s.p99,
        admins_create_failures: failures.size ? [...failures.values()].reduce((a, b) => a + b, 0) : 0,
      },
      info: { admins: count, alerts, errors: Object.fromEntries(failures), createMs: times.map((t) => Math.round(t)) },
    },
  };
}

// ──────────── 7. SDK reconnect storm across a server restart (Herald on Miniflare) ────────────

/**
 * `ctx.storm.users` clients of the SDK (packages/sdk/dist, `npm run build:sdk`)
 * for as many distinct agents of one org, each with the default ticket auth
 * (a POST /realtime/ticket per dial, as in browsers) and Node's global
 * WebSocket, listening to a broadcast event. `pre` broadcasts reach them all;
 * then the Miniflare process is stopped (SIGTERM) and started again on the
 * same port and persist dir; as soon as it answers /health, `post` broadcasts
 * are published (userIds in batches of MAX_BROADCAST_USERS). Measured: from
 * healthy until every client is `open` again and has every post-restart
 * event; dial attempts (ticket requests) per 250 ms; events lost; duplicates
 * the app saw (of all pre + post events). Every client is closed and the
 * restarted server stopped at the end.
 */
export async function stormGroup(ctx, target, driver, run) {
  if (driver.kind !== "herald" || !target.restartSameState) {
    return { storm: { metrics: {}, info: { skipped: "needs a target that can restart on the same state (miniflare)" } } };
  }
  let sdk;
  try {
    sdk = await import(new URL("../../packages/sdk/dist/index.js", import.meta.url).href);
  } catch (err) {
    throw new Error(`the SDK is not built (npm run build:sdk): ${err.message}`);
  }
  if (typeof globalThis.WebSocket !== "function") throw new Error("Node's global WebSocket is required (Node ≥ 22)");
  const { users: U, pre: PRE, post: POST, batch, bucketMs, connectConcurrency, connectTimeoutMs, recoverMs } = ctx.storm;
  const org = `${ctx.tag}-s${run}`;
  const bench = `${ctx.tag}-storm${run}`;
  const [svc, tokens] = await Promise.all([serviceTokens(ctx, org), userTokens(ctx, org, "usr", "agent", U)]);
  const userIds = Array.from({ length: U }, (_, i) => `usr-${i}`);

  // Every dial attempt (the ticket request that starts it) and every WebSocket constructed.
  const ticketAt = [];
  const ticketOk = { ok: 0, failed: 0 };
  const wsAt = [];
  const fetchImpl = async (input, init) => {
    const ticket = String(input?.url ?? input).includes("/realtime/ticket");
    if (ticket) ticketAt.push(performance.now());
    try {
      const res = await fetch(input, init);
      if (ticket) res.ok ? ticketOk.ok++ : ticketOk.failed++;
      return res;
    } catch (err) {
      if (ticket) ticketOk.failed++;
      throw err;
    }
  };
  class CountingWebSocket extends globalThis.WebSocket {
    constructor(...args) {
      super(...args);
      wsAt.push(performance.now());
    }
  }

  const received = Array.from({ length: U }, () => new Uint16Array(PRE + POST));
  const clients = new Array(U);
  const openAt = new Float64Array(U).fill(NaN);
  const statuses = Array.from({ length: U }, () => new Set());
  const errors = new Map();
  let phase = "initial";
  const makeClient = (i) =>
    new Promise((resolve, reject) => {
      const h = sdk.createHerald({ url: target.baseUrl, token: tokens[i], WebSocket: CountingWebSocket, fetch: fetchImpl });
      clients[i] = h;
      const timer = setTimeout(() => reject(new Error("not open in time")), connectTimeoutMs);
      h.on("status", (st) => {
        if (phase === "restart") statuses[i].add(st);
        if (st === "open") {
          openAt[i] = performance.now();
          clearTimeout(timer);
          resolve();
        }
      });
      h.on("error", (err) => {
        const k = `${phase}: ${String(err?.code ?? "")} ${String(err?.message ?? err).slice(0, 80)}`;
        errors.set(k, (errors.get(k) ?? 0) + 1);
      });
      h.on("bench:storm", (data) => {
        if (data?.bench === bench && data.k >= 0 && data.k < PRE + POST) received[i][data.k]++;
      });
    });

  const publishFailures = new Map();
  const publish = async (k) => {
    const t0 = performance.now();
    const batches = [];
    for (let b = 0; b < U; b += batch) batches.push(userIds.slice(b, b + batch));
    await Promise.all(
      batches.map(async (ids, b) => {
        // A hub that did not confirm answers 503: retry with the same Idempotency-Key, as the API asks.
        for (let attempt = 0; attempt < 4; attempt++) {
          try {
            const res = await fetch(`${target.baseUrl}/api/v1/realtime/broadcast`, {
              method: "POST",
              headers: { Authorization: `Bearer ${svc[(k + b) % svc.length]}`, "Content-Type": "application/json", "Idempotency-Key": `${bench}-${k}-${b}` },
              body: JSON.stringify({ event: "bench:storm", data: { bench, k }, target: { userIds: ids } }),
              signal: AbortSignal.timeout(30_000),
            });
            const text = await res.text();
            if (res.status === 201) return;
            const key = `HTTP ${res.status} ${text.slice(0, 100)}`;
            publishFailures.set(key, (publishFailures.get(key) ?? 0) + 1);
          } catch (err) {
            const key = String(err.message).slice(0, 100);
            publishFailures.set(key, (publishFailures.get(key) ?? 0) + 1);
          }
          await sleep(250);
        }
      }),
    );
    return performance.now() - t0;
  };

  let current = target;
  try {
    // All clients open, `connectConcurrency` dialing at a time.
    const tc = performance.now();
    const opened = await pool(U, connectConcurrency, (i) => makeClient(i), ctx.phaseMs);
    const connectMs = performance.now() - tc;
    const openCount = opened.results.filter((r) => r?.ok).length;
    if (openCount !== U) throw new Error(`only ${openCount} of ${U} SDK clients opened`);
    await waitIdle(target, { maxMs: ctx.idleMs });

    // Events every client has before the restart.
    const preMs = [];
    for (let k = 0; k < PRE; k++) preMs.push(await publish(k));
    await waitFor(() => received.every((r) => r.slice(0, PRE).every((n) => n >= 1)), ctx.drainMs);
    const preMissing = received.reduce((n, r) => n + r.slice(0, PRE).filter((x) => x === 0).length, 0);
    if (preMissing) throw new Error(`${preMissing} pre-restart deliveries missing before the restart`);
    await waitIdle(target, { maxMs: 5_000 });

    // The restart: stop the process tree, start it again on the same port and state.
    phase = "restart";
    const ticketsBefore = ticketAt.length;
    const ticketOkBefore = { ...ticketOk };
    openAt.fill(NaN);
    const tDown = performance.now();
    current = await target.restartSameState();
    const tUp = performance.now();
    // Bounded: publishing and waiting end `recoverMs` after healthy, whatever the state.
    const deadline = tUp + recoverMs;
    const postPublishMs = [];
    for (let k = PRE; k < PRE + POST && performance.now() < deadline; k++) postPublishMs.push(await publish(k));
    const published = postPublishMs.length;
    const tPublished = performance.now();
    const caughtUp = (i) => received[i].subarray(PRE, PRE + published).every((n) => n >= 1);
    await waitFor(() => openAt.every((t) => !Number.isNaN(t)) && received.every((_, i) => caughtUp(i)), Math.max(0, deadline - performance.now()));
    // A short grace for late duplicates (polled copies, replays) to show up.
    await sleep(2_000);
    const tEnd = performance.now();

    const back = [...openAt].filter((t) => !Number.isNaN(t));
    const backAfterUp = back.map((t) => t - tUp);
    const allBack = back.length === U;
    const caughtAt = received.map((_, i) => caughtUp(i));
    const lost = received.reduce((n, r) => n + r.subarray(PRE, PRE + published).filter((x) => x === 0).length, 0);
    const duplicates = received.reduce((n, r) => n + r.reduce((m, x) => m + Math.max(0, x - 1), 0), 0);
    // Dial attempts per bucket from the moment the server was stopped.
    const dials = ticketAt.slice(ticketsBefore).map((t) => t - tDown);
    const buckets = new Array(Math.ceil((tEnd - tDown) / bucketMs)).fill(0);
    for (const d of dials) buckets[Math.min(buckets.length - 1, Math.floor(d / bucketMs))]++;
    const openBuckets = new Array(buckets.length).fill(0);
    for (const t of back) openBuckets[Math.min(buckets.length - 1, Math.floor((t - tDown) / bucketMs))]++;
    const sBack = summary(backAfterUp);
    const polled = statuses.filter((s) => s.has("polling")).length;
    return {
      storm: {
        metrics: {
          storm_restart_ms: tUp - tDown,
          storm_all_open_ms: allBack ? Math.max(...backAfterUp) : null,
          storm_open_p50_ms: sBack.p50,
          storm_open_p99_ms: sBack.p99,
          storm_clients_open: back.length,
          storm_post_events_lost: lost,
          storm_duplicates: duplicates,
          storm_dials: dials.length,
          storm_clients_polled: polled,
        },
        info: {
          users: U,
          auth: "ticket (default: a POST /api/v1/realtime/ticket per dial)",
          WebSocket: "Node's global (undici)",
          preEvents: PRE,
          postEvents: POST,
          postPublished: published,
          broadcastBatch: batch,
          initialConnectMs: Math.round(connectMs),
          prePublishMs: preMs.map((x) => Math.round(x)),
          postPublishMs: postPublishMs.map((x) => Math.round(x)),
          postPublishedAfterUpMs: Math.round(tPublished - tUp),
          restartMs: Math.round(tUp - tDown),
          clientsCaughtUp: caughtAt.filter(Boolean).length,
          ticketRequests: { total: dials.length, ok: ticketOk.ok - ticketOkBefore.ok, failed: ticketOk.failed - ticketOkBefore.failed },
          webSocketsConstructed: wsAt.filter((t) => t >= tDown).length,
          bucketMs,
          upAtBucket: Math.floor((tUp - tDown) / bucketMs),
          dialsPerBucket: buckets,
          openedPerBucket: openBuckets,
          statusesSeen: Object.fromEntries(["connecting", "polling", "open", "closed"].map((s) => [s, statuses.filter((x) => x.has(s)).length])),
          publishFailures: Object.fromEntries(publishFailures),
          errors: Object.fromEntries(errors),
        },
      },
    };
  } finally {
    phase = "closing";
    for (const h of clients) h?.close();
    if (current !== target) await current.stop();
  }
}

// ──────────── 8. routing on create (Herald only) ────────────

/** A create's rule selector: even sequence numbers match the least_loaded rule, odd ones fall to round_robin. */
const routingLane = (seq) => (seq % 2 === 0 ? "ll" : "rr");

/**
 * Routing's cost inside POST /api/v1/alerts. Two orgs of the same size
 * (`ctx.routing.agents` agents in the directory): "on" has two rules (a
 * least_loaded rule matching `data.lane = "ll"`, then a round_robin rule
 * matching everything) and its alerts come without assigneeId; "off" has no
 * rules and its alerts name an assignee (round-robin over the same agents),
 * so both write and push the assignee's notification (the admin who made
 * the rules is set away, so both orgs have the same candidates). The server
 * does not report how long the decision took, so the cost is the difference:
 * creates one at a time, alternating off/on (latency p50/p99), then closed
 * loops of `burst` creates, `concurrency` in flight, in the order off, on,
 * on, off (creates/s, server CPU per create). No sockets. Every routed create
 * is checked (201 with an assignee).
 */
export async function routingGroup(ctx, target, driver, run) {
  if (driver.kind !== "herald") return { routing: { metrics: {}, info: { skipped: "the baseline has no routing" } } };
  const { agents, warmup, sequential, burst, concurrency } = ctx.routing;
  const orgs = { off: `${ctx.tag}-roff${run}`, on: `${ctx.tag}-ron${run}` };
  const svc = { off: await serviceTokens(ctx, orgs.off), on: await serviceTokens(ctx, orgs.on) };
  const admin = await ctx.tokens.get("bench-admin", orgs.on, "admin");
  const agentId = (i) => `agent-${i}`;
  for (const mode of ["off", "on"]) {
    const seed = await pool(agents, 16, (i) => driver.putUser(svc[mode][i % svc[mode].length], agentId(i), "agent"), ctx.phaseMs);
    const seeded = seed.results.filter((r) => r?.ok && (r.value.status === 200 || r.value.status === 201)).length;
    if (seeded !== agents) throw new Error(`routing: seeded ${seeded} of ${agents} agents (${mode})`);
  }
  const rules = [
    { name: "Bench least loaded", match: { data: { lane: "ll" } }, strategy: "least_loaded" },
    { name: "Bench round robin", match: {}, strategy: "round_robin" },
  ];
  for (const rule of rules) {
    const res = await fetch(`${target.baseUrl}/api/v1/routing/rules`, {
      method: "POST",
      headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
      body: JSON.stringify(rule),
      signal: AbortSignal.timeout(30_000),
    });
    if (res.status !== 201) throw new Error(`routing: creating rule "${rule.name}" answered ${res.status} ${(await res.text()).slice(0, 200)}`);
    await res.arrayBuffer();
  }

  // The admin who made the rules is in the directory now (first sight) and admins are agents to routing:
  // away, so the routed org has exactly the same `agents` candidates as the other.
  const away = await fetch(`${target.baseUrl}/api/v1/users/bench-admin`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${svc.on[0]}`, "Content-Type": "application/json" },
    body: JSON.stringify({ role: "admin", name: "bench-admin", availability: "away" }),
    signal: AbortSignal.timeout(30_000),
  });
  if (away.status !== 200 && away.status !== 201) throw new Error(`routing: setting the admin away answered ${away.status} ${(await away.text()).slice(0, 200)}`);
  await away.arrayBuffer();

  const bench = `${ctx.tag}-routing`;
  const seqs = { off: 0, on: 0 };
  const failures = new Map();
  const fail = (key) => failures.set(key, (failures.get(key) ?? 0) + 1);
  const routedTo = new Map();
  /** Routing decision times from Server-Timing, of the one-at-a-time creates. */
  const decisionMs = [];
  let measuring = false;
  /** One create in `mode`; resolves its latency (ms) or null when it failed. */
  const create = async (mode) => {
    const seq = seqs[mode]++;
    const body = alertBody(bench, seq, mode === "off" ? agentId(seq % agents) : undefined);
    body.data.lane = routingLane(seq);
    const r = await driver.createAlert(svc[mode][seq % svc[mode].length], body, 60_000);
    if (r.status !== 201) {
      fail(`${mode}: HTTP ${r.status} ${r.text.slice(0, 100)}`);
      return null;
    }
    if (mode === "on") {
      const assignee = JSON.parse(r.text).assigneeId ?? null;
      if (!assignee) {
        fail("on: created unassigned (queued)");
        return null;
      }
      routedTo.set(assignee, (routedTo.get(assignee) ?? 0) + 1);
      // The server's own measure of the decision (rules and agents read, the org hub's choice).
      const dur = /route;dur=([\d.]+)/.exec(r.serverTiming ?? "");
      if (dur && measuring) decisionMs.push(Number(dur[1]));
    }
    return r.ms;
  };

  // Warm-up: both orgs' hubs, the agents' user hubs, the router's seeding from D1.
  for (let k = 0; k < warmup; k++) {
    await create("off");
    await create("on");
  }
  await waitIdle(target, { maxMs: 10_000 });

  const lat = { off: [], on: [] };
  measuring = true;
  for (let k = 0; k < sequential; k++) {
    for (const mode of k % 2 ? ["on", "off"] : ["off", "on"]) {
      const ms = await create(mode);
      if (ms !== null) lat[mode].push(ms);
    }
  }
  measuring = false;

  // Closed loop, in the order off, on, on, off so neither mode always runs on the later (fuller) state.
  const done = { off: { ok: 0, wallS: 0, cpuS: 0, cpuValid: true }, on: { ok: 0, wallS: 0, cpuS: 0, cpuValid: true } };
  for (const mode of ["off", "on", "on", "off"]) {
    await waitIdle(target, { maxMs: 10_000 });
    const meter = new Meter(target);
    const out = await pool(burst, concurrency, () => create(mode), ctx.phaseMs);
    const m = meter.stop();
    done[mode].ok += out.results.filter((r) => r?.ok && r.value !== null).length;
    done[mode].wallS += m.wallS;
    done[mode].cpuS += m.serverCpuS;
    // A process of the tree that ended during the phase (wrangler's helpers) takes its CPU time with it.
    if (m.serverCpuS < 0) done[mode].cpuValid = false;
  }
  const rate = {};
  const cpu = {};
  for (const mode of ["off", "on"]) {
    const d = done[mode];
    rate[mode] = d.wallS ? d.ok / d.wallS : null;
    cpu[mode] = d.ok && d.cpuValid ? (d.cpuS * 1000) / d.ok : null;
  }

  const s = { off: summary(lat.off), on: summary(lat.on), decision: summary(decisionMs) };
  const diff = (a, b) => (a === null || b === null ? null : a - b);
  const loads = [...routedTo.values()];
  return {
    routing: {
      metrics: {
        routing_create_off_p50_ms: s.off.p50,
        routing_create_on_p50_ms: s.on.p50,
        routing_cost_p50_ms: diff(s.on.p50, s.off.p50),
        routing_decision_p50_ms: s.decision.p50,
        routing_decision_p99_ms: s.decision.p99,
        routing_create_off_p99_ms: s.off.p99,
        routing_create_on_p99_ms: s.on.p99,
        routing_cost_p99_ms: diff(s.on.p99, s.off.p99),
        routing_creates_per_s_off: rate.off,
        routing_creates_per_s_on: rate.on,
        routing_server_cpu_ms_per_create_off: cpu.off,
        routing_server_cpu_ms_per_create_on: cpu.on,
        routing_failures: [...failures.values()].reduce((a, b) => a + b, 0),
      },
      info: {
        agents,
        rules: rules.map((r) => r.strategy),
        warmup,
        sequential,
        burst,
        concurrency,
        errors: Object.fromEntries(failures),
        routedAgents: routedTo.size,
        routedLoadMin: loads.length ? Math.min(...loads) : null,
        routedLoadMax: loads.length ? Math.max(...loads) : null,
        createMs: { off: lat.off.map((t) => Math.round(t * 10) / 10), on: lat.on.map((t) => Math.round(t * 10) / 10) },
      },
    },
  };
}

/**
 * 9. What a request costs the server with next to nothing in it, to tell the
 * runtime's share of a create from Herald's: server CPU per request and
 * requests/s at `concurrency` in flight, for a request refused for want of a
 * token (the framework and middleware, no I/O), for `GET /health` (Herald: one D1
 * `SELECT 1` per shard; the minimal DO and Socket.IO: nothing), then for an
 * alert create assigned to a directory user with no socket open (Herald:
 * token, rate limiter, read batch, commit, both hubs, the background mark;
 * the minimal DO: token, one Durable Object call and one SQLite append;
 * Socket.IO: token and an emit to nobody).
 */
export async function floorGroup(ctx, target, driver, run) {
  const { requests, concurrency } = ctx.floor;
  const org = `${ctx.tag}-floor${run}`;
  const svc = await serviceTokens(ctx, org);
  const agent = "floor-agent";
  const put = await driver.putUser(svc[0], agent, "agent");
  if (put.status !== 200 && put.status !== 201) throw new Error(`floor: seeding the assignee answered ${put.status}`);
  const bench = `${ctx.tag}-floor${run}`;
  let seq = 0;
  const tasks = {
    refused: async () => {
      const res = await fetch(`${target.baseUrl}${driver.kind === "herald" ? "/api/v1/alerts" : "/alerts"}`, { signal: AbortSignal.timeout(30_000) });
      await res.arrayBuffer();
      if (res.status < 400) throw new Error(`GET without a token answered ${res.status}`);
    },
    health: async () => {
      const res = await fetch(`${target.baseUrl}/health`, { signal: AbortSignal.timeout(30_000) });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`GET /health answered ${res.status}`);
    },
    create: async () => {
      const k = seq++;
      const r = await driver.createAlert(svc[k % svc.length], alertBody(bench, k, agent));
      if (r.status !== 201) throw new Error(`create answered ${r.status} ${r.text.slice(0, 100)}`);
    },
  };
  const metrics = {};
  const info = { requests, concurrency, errors: {} };
  for (const [name, task] of Object.entries(tasks)) {
    await pool(Math.min(50, requests), 8, task, ctx.phaseMs); // warm-up: isolates, hubs, caches
    await waitIdle(target, { maxMs: 5_000 });
    const m = new Meter(target);
    const { results } = await pool(requests, concurrency, task, ctx.phaseMs);
    const u = m.stop();
    const ok = results.filter((r) => r?.ok).length;
    for (const r of results) if (r && !r.ok) info.errors[String(r.error?.message ?? r.error)] = (info.errors[String(r.error?.message ?? r.error)] ?? 0) + 1;
    metrics[`floor_${name}_server_cpu_ms`] = ok > 0 ? (u.serverCpuS * 1000) / ok : null;
    metrics[`floor_${name}_per_s`] = ok > 0 ? ok / u.wallS : null;
    metrics[`floor_${name}_failures`] = requests - ok;
  }
  return { floor: { metrics, info } };
}

/** Scenarios (default runs) and the socket groups that run them. */
export const SCENARIOS = {
  memory: { runs: 1, group: "memory", title: "5. memory per connection" },
  connect: { runs: 2, group: "user", title: "1. connect" },
  // Five counted runs (median), after the group's uncounted warm-up pass (run.mjs, --warmup).
  orgconnect: { runs: 5, group: "org", title: "1a. org-stream connect, N distinct admins" },
  single: { runs: 1, group: "single", title: "1c. org-stream connect, one admin" },
  // Five runs (median): one run's CPU per create moved by a third between two benches on this shared machine.
  targeted: { runs: 5, group: "user", title: "3. targeted throughput" },
  fanout: { runs: 5, group: "org", title: "2. fan-out latency" },
  reconnect: { runs: 3, group: "org", title: "4. reconnect storm" },
  "fanout-deflate": { runs: 1, group: "org-deflate", title: "2b. fan-out, deflate offered" },
  admins: { runs: 1, group: "admins", title: "6. unassigned alert, 1,000 admins" },
  routing: { runs: 1, group: "routing", title: "8. routing on create" },
  floor: { runs: 3, group: "floor", title: "9. per-request floor" },
  // Opt-in (--only=storm): not part of the default run.
  storm: { runs: 1, group: "storm", title: "7. SDK reconnect storm across a restart", optIn: true },
};

export const GROUPS = {
  /** On a fresh target. */
  memory: { fresh: true, fn: async (ctx, target, driver, run) => ({ memory: await memory(ctx, target, driver, run) }) },
  /**
   * `warmup`: one uncounted pass with ctx.warmupN clients before the first counted run (the headline groups).
   * `settle`: each counted run waits ctx.settleMs after the previous pass closed its sockets (run.mjs).
   */
  user: { warmup: true, settle: true, fn: (ctx, target, driver, run, want) => userGroup(ctx, target, driver, run, want) },
  org: { warmup: true, settle: true, fn: (ctx, target, driver, run, want) => orgGroup(ctx, target, driver, run, want) },
  single: { fn: (ctx, target, driver, run) => singleGroup(ctx, target, driver, run) },
  "org-deflate": { fn: (ctx, target, driver, run) => orgGroup(ctx, target, driver, run, { fanout: true }, { deflate: true }) },
  admins: { fn: (ctx, target, driver, run) => adminsGroup(ctx, target, driver, run) },
  routing: { fn: (ctx, target, driver, run) => routingGroup(ctx, target, driver, run) },
  floor: { fn: (ctx, target, driver, run) => floorGroup(ctx, target, driver, run) },
  storm: { fn: async (ctx, target, driver, run) => stormGroup(ctx, target, driver, run) },
};

export { withTimeout };
