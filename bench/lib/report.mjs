// The markdown report: issue 15's headline (Herald on Miniflare | minimal DO |
// Socket.IO | Herald ÷ SIO | Herald ÷ minimal), then one row per figure,
// Herald (miniflare) | Herald (wrangler dev) | minimal DO | Socket.IO | ratio
// (miniflare ÷ Socket.IO), then the targets with how far each one is met or missed.
import { fmt } from "./stats.mjs";

/** The metric keys of a create's Server-Timing spans (read / commit / publish), shown in one row. */
const spans = (prefix, p) => ["read", "commit", "publish"].map((k) => `${prefix}_${k}_${p}_ms`);

/** Rows: scenario, metric key (or keys, one cell "a / b / c"), label, unit kind. */
export const ROWS = [
  ["orgconnect", "org_connect_p50_ms", "1a. org-stream connect+auth p50, N distinct admins, 50 in flight", "ms"],
  ["orgconnect", "org_connect_p99_ms", "1a. org-stream connect+auth p99, N distinct admins, 50 in flight", "ms"],
  ["orgconnect", "org_connect_max_ms", "1a. org-stream connect+auth max", "ms"],
  ["orgconnect", "org_connect_failures", "1a. org-stream connect failures (of N)", "n"],
  ["orgconnect", "org_connect_rate_per_s", "1a. org-stream connects per second", "rate"],
  ["orgconnect", "org_connect_server_cpu_ms_per_conn", "1a. server CPU per org-stream connect", "ms"],
  ["single", "single_connect_p50_ms", "1c. org-stream connect p50, one admin × N sockets, 50 in flight", "ms"],
  ["single", "single_connect_p99_ms", "1c. org-stream connect p99, one admin × N sockets, 50 in flight", "ms"],
  ["single", "single_connect_failures", "1c. org-stream connect failures, one admin (of N)", "n"],
  ["single", "single_connect_server_cpu_ms_per_conn", "1c. server CPU per org-stream connect, one admin", "ms"],
  ["connect", "connect_unloaded_p50_ms", "1. connect+auth p50, one at a time", "ms"],
  ["connect", "connect_unloaded_p99_ms", "1. connect+auth p99, one at a time", "ms"],
  ["connect", "connect_p50_ms", "1. connect+auth p50, 50 in flight", "ms"],
  ["connect", "connect_p99_ms", "1. connect+auth p99, 50 in flight", "ms"],
  ["connect", "connect_failures", "1. connect failures (of N)", "n"],
  ["connect", "connect_rate_per_s", "1. connects per second", "rate"],
  ["connect", "connect_server_cpu_ms_per_conn", "1. server CPU per connect", "ms"],
  ["fanout", "fanout_p50_ms", "2. fan-out latency p50", "ms"],
  ["fanout", "fanout_p95_ms", "2. fan-out latency p95", "ms"],
  ["fanout", "fanout_p99_ms", "2. fan-out latency p99", "ms"],
  ["fanout", "fanout_max_ms", "2. fan-out latency max", "ms"],
  ["fanout", "fanout_delivered_ratio", "2. fan-out delivered/expected", "pct"],
  ["fanout", "fanout_rest_p50_ms", "2. REST create p50 (during fan-out)", "ms"],
  ["fanout", spans("fanout_span", "p50"), "2. create spans p50: read / commit / publish (Server-Timing)", "ms"],
  ["fanout", spans("fanout_span", "p99"), "2. create spans p99: read / commit / publish (Server-Timing)", "ms"],
  ["fanout", "fanout_server_cpu_us_per_msg", "2. server CPU per delivered message", "us"],
  ["fanout", "fanout_client_cpu_us_per_msg", "2. client CPU per delivered message", "us"],
  ["fanout", "fanout_burst_msgs_per_s", "2. fan-out burst: delivered msg/s", "rate"],
  ["fanout", "fanout_burst_delivered_ratio", "2. fan-out burst delivered/expected", "pct"],
  ["fanout", "fanout_burst_client_cpu_util", "2. fan-out burst: client CPU (cores)", "x"],
  ["fanout-deflate", "fanout_p99_ms", "2b. fan-out p99, deflate offered", "ms"],
  ["fanout-deflate", "fanout_delivered_ratio", "2b. delivered/expected, deflate offered", "pct"],
  ["targeted", "targeted_delivered_per_s", "3. targeted: alert:new delivered/s", "rate"],
  ["targeted", "targeted_rest_creates_per_s", "3. targeted: REST creates/s", "rate"],
  ["targeted", "targeted_frames_per_s", "3. targeted: all frames received/s", "rate"],
  ["targeted", "targeted_delivered_ratio", "3. targeted delivered/expected", "pct"],
  ["targeted", "targeted_p99_ms", "3. targeted latency p99 (REST call → socket)", "ms"],
  ["targeted", "targeted_server_cpu_ms_per_alert", "3. server CPU per alert", "ms"],
  ["targeted", spans("targeted_span", "p50"), "3. create spans p50: read / commit / publish (Server-Timing)", "ms"],
  ["reconnect", "reconnect_all_ms", "4. storm: all N reconnected", "ms"],
  ["reconnect", "reconnect_p99_ms", "4. storm: reconnect p99", "ms"],
  ["reconnect", "reconnect_caught_up_ratio", "4. storm: clients fully caught up", "pct"],
  ["reconnect", "reconnect_all_caught_up_ms", "4. storm: all reconnected and caught up", "ms"],
  ["reconnect", "reconnect_missed_events_lost", "4. storm: missed events lost (of N×5)", "n"],
  ["reconnect", "reconnect_failures", "4. storm: reconnect failures", "n"],
  ["memory", "rss_empty_mb", "5. server RSS, empty (all processes)", "mb"],
  ["memory", "rss_empty_runtime_mb", "5. server RSS, empty (workerd only / node)", "mb"],
  ["memory", "mem_per_user_conn_kb", "5. memory per idle connection, user stream (N users; workerd / node RSS)", "kb"],
  ["memory", "mem_per_org_conn_kb", "5. memory per idle connection, org stream (1 org; workerd / node RSS)", "kb"],
  ["memory", "mem_per_user_conn_all_kb", "5. the same, user stream, all processes (incl. Miniflare's Node host)", "kb"],
  ["memory", "mem_per_org_conn_all_kb", "5. the same, org stream, all processes (incl. Miniflare's Node host)", "kb"],
  ["admins", "admins_create_first_ms", "6. unassigned alert, 1,000 admins: first create (cold hubs)", "ms"],
  ["admins", "admins_create_p50_ms", "6. unassigned alert, 1,000 admins: create p50", "ms"],
  ["admins", "admins_create_p99_ms", "6. unassigned alert, 1,000 admins: create p99", "ms"],
  ["admins", "admins_create_failures", "6. unassigned alert, 1,000 admins: failed creates", "n"],
  ["routing", "routing_create_off_p50_ms", "8. routing: create p50, no rules (assigneeId given)", "ms"],
  ["routing", "routing_create_on_p50_ms", "8. routing: create p50, routed (50 agents, 2 rules)", "ms"],
  ["routing", "routing_cost_p50_ms", "8. routing: cost per create, p50 (routed − given)", "ms"],
  ["routing", "routing_decision_p50_ms", "8. routing: decision inside a create, p50 (Server-Timing)", "ms"],
  ["routing", "routing_decision_p99_ms", "8. routing: decision inside a create, p99 (Server-Timing)", "ms"],
  ["routing", "routing_create_off_p99_ms", "8. routing: create p99, no rules", "ms"],
  ["routing", "routing_create_on_p99_ms", "8. routing: create p99, routed", "ms"],
  ["routing", "routing_creates_per_s_off", "8. routing: creates/s, no rules (16 in flight, 2×200)", "rate"],
  ["routing", "routing_creates_per_s_on", "8. routing: creates/s, routed (16 in flight, 2×200)", "rate"],
  ["routing", "routing_server_cpu_ms_per_create_off", "8. routing: server CPU per create, no rules", "ms"],
  ["routing", "routing_server_cpu_ms_per_create_on", "8. routing: server CPU per create, routed", "ms"],
  ["routing", "routing_failures", "8. routing: failed or unrouted creates", "n"],
  ["floor", "floor_refused_server_cpu_ms", "9. floor: server CPU per request refused (no token: 401, or 404)", "ms"],
  ["floor", "floor_health_server_cpu_ms", "9. floor: server CPU per GET /health (Herald: one D1 SELECT 1; others: nothing)", "ms"],
  ["floor", "floor_health_per_s", "9. floor: GET /health per second, 32 in flight", "rate"],
  ["floor", "floor_create_server_cpu_ms", "9. floor: server CPU per create, assignee offline, no socket open", "ms"],
  ["floor", "floor_create_per_s", "9. floor: creates/s, assignee offline, 32 in flight", "rate"],
  ["floor", ["floor_refused_failures", "floor_health_failures", "floor_create_failures"], "9. floor: failed requests (refused / health / create)", "n"],
  ["storm", "storm_restart_ms", "7. SDK storm: server stopped → healthy again", "ms"],
  ["storm", "storm_all_open_ms", "7. SDK storm: healthy → every client open", "ms"],
  ["storm", "storm_open_p50_ms", "7. SDK storm: healthy → client open, p50", "ms"],
  ["storm", "storm_post_events_lost", "7. SDK storm: post-restart events lost", "n"],
  ["storm", "storm_duplicates", "7. SDK storm: duplicates seen by the app", "n"],
];

/** The headline (issue 15): scenario, key, label, unit kind. */
export const HEADLINE = [
  ["orgconnect", "org_connect_p50_ms", "org-stream connect p50 (N distinct admins, 50 in flight)", "ms"],
  ["orgconnect", "org_connect_p99_ms", "org-stream connect p99 (N distinct admins, 50 in flight)", "ms"],
  ["orgconnect", "org_connect_failures", "org-stream connect failures (of N)", "n"],
  ["connect", "connect_p99_ms", "user-stream connect p99 (N distinct users, 50 in flight)", "ms"],
  ["single", "single_connect_p99_ms", "single-user connect p99 (one admin × N org sockets; secondary)", "ms"],
  ["fanout", "fanout_p50_ms", "REST → socket p50 (fan-out to N org sockets)", "ms"],
  ["fanout", "fanout_p99_ms", "REST → socket p99 (fan-out to N org sockets)", "ms"],
  ["targeted", "targeted_server_cpu_ms_per_alert", "server CPU per alert create (targeted phase)", "ms"],
  ["targeted", "targeted_rest_creates_per_s", "creates/s (targeted phase, 32 in flight)", "rate"],
  ["reconnect", "reconnect_all_caught_up_ms", "storm: all N reconnected and caught up", "ms"],
  ["reconnect", "reconnect_missed_events_lost", "storm: missed events lost (of N×5)", "n"],
  ["memory", "mem_per_org_conn_kb", "memory per idle org-stream socket (workerd / node RSS)", "kb"],
];

const UNITS = { ms: "ms", n: "", rate: "/s", us: "µs", pct: "%", kb: "KB", mb: "MB", x: "" };

function cell(v, kind) {
  if (Array.isArray(v)) return v.every((x) => x === null || x === undefined) ? "—" : `${v.map((x) => fmt(x)).join(" / ")}${UNITS[kind] ? ` ${UNITS[kind]}` : ""}`;
  if (v === null || v === undefined) return "—";
  if (kind === "pct") return `${fmt(v * 100)} %`;
  if (kind === "n") return fmt(v);
  return `${fmt(v)}${UNITS[kind] ? ` ${UNITS[kind]}` : ""}`;
}

const get = (results, target, scenario, key) =>
  Array.isArray(key)
    ? key.every((k) => get(results, target, scenario, k) === null)
      ? null
      : key.map((k) => get(results, target, scenario, k))
    : (results.targets[target]?.scenarios?.[scenario]?.median?.[key] ?? null);

function ratio(a, b, kind) {
  if (a === null || b === null || kind === "pct" || kind === "n" || Array.isArray(a) || Array.isArray(b)) return "—";
  if (b === 0) return "—";
  return `${fmt(a / b)}×`;
}

/** Issue 15's targets, then the brief's older ones, evaluated on Herald without the dev proxy (miniflare). */
function targetChecks(results) {
  const mf = (s, k) => get(results, "miniflare", s, k);
  const sio = (s, k) => get(results, "socketio", s, k);
  const min = (s, k) => get(results, "minimal", s, k);
  const N = results.sizes.N;
  const cc = results.sizes.connectConcurrency;
  const checks = [];
  const add = (what, value, ok, detail) => checks.push({ what, value, ok, detail });
  const lt = (label, v, limit, unit) => {
    if (v === null) return add(label, "not measured", null, "");
    const ok = v < limit;
    add(label, `${fmt(v)} ${unit}`, ok, ok ? `met (${fmt(limit - v)} ${unit} to spare)` : `missed by ${fmt(v - limit)} ${unit} (${fmt(v / limit)}× the target)`);
  };
  /** Herald's value ≤ factor × a reference target's (lower is better). */
  const within = (label, h, ref, factor, refLabel, unit) => {
    if (h === null || ref === null || ref === 0) return add(label, "not measured", null, "");
    const r = h / ref;
    const ok = r <= factor;
    add(label, `${fmt(h)} ${unit} vs ${fmt(ref)} ${unit} (${refLabel}) = ${fmt(r)}×`, ok, ok ? "met" : `missed: ${fmt(r)}× (by ${fmt(h - factor * ref)} ${unit})`);
  };

  // ── issue 15 ──
  const orgP99 = mf("orgconnect", "org_connect_p99_ms");
  within(`org-stream connect p99 ≤ 1.5× Socket.IO's (N distinct admins, ${cc} in flight)`, orgP99, sio("orgconnect", "org_connect_p99_ms"), 1.5, "Socket.IO", "ms");
  lt(`org-stream connect p99 < 100 ms (N distinct admins, ${cc} in flight)`, orgP99, 100, "ms");
  within("REST → socket p99 ≤ 1.2× Socket.IO's (fan-out)", mf("fanout", "fanout_p99_ms"), sio("fanout", "fanout_p99_ms"), 1.2, "Socket.IO", "ms");
  lt("REST → socket p99 < 50 ms (fan-out)", mf("fanout", "fanout_p99_ms"), 50, "ms");
  within("REST → socket p50 ≤ 1.5× Socket.IO's (fan-out)", mf("fanout", "fanout_p50_ms"), sio("fanout", "fanout_p50_ms"), 1.5, "Socket.IO", "ms");
  {
    const v = mf("targeted", "targeted_server_cpu_ms_per_alert");
    const label = "server CPU per alert create ≤ 3 ms (targeted phase)";
    if (v === null) add(label, "not measured", null, "");
    else add(label, `${fmt(v)} ms`, v <= 3, v <= 3 ? "met" : `missed: ${fmt(v / 3)}× the target`);
  }
  {
    const v = mf("targeted", "targeted_rest_creates_per_s");
    const goal = 4 * 114;
    const label = `creates/s ≥ 4 × 114 = ${goal}/s (targeted phase)`;
    if (v === null) add(label, "not measured", null, "");
    else add(label, `${fmt(v)}/s`, v >= goal, v >= goal ? "met" : `missed: ${fmt((v / goal) * 100)} % of the target`);
  }
  {
    const t = mf("reconnect", "reconnect_all_caught_up_ms");
    const lost = mf("reconnect", "reconnect_missed_events_lost");
    const label = "reconnect storm: all caught up < 2 s, 0 lost";
    if (t === null && lost === null) add(label, "not measured", null, "");
    else {
      const ok = t !== null && t < 2000 && lost === 0;
      add(
        label,
        `${t === null ? "not all caught up" : `${fmt(t)} ms`}; ${fmt(lost)} lost`,
        ok,
        ok ? `met (${fmt(2000 - t)} ms to spare)` : `missed${t !== null && t >= 2000 ? ` by ${fmt(t - 2000)} ms` : ""}${lost ? `; ${fmt(lost)} events lost` : ""}`,
      );
    }
  }
  within("memory per idle org-stream socket ≤ 1.2× the minimal DO's", mf("memory", "mem_per_org_conn_kb"), min("memory", "mem_per_org_conn_kb"), 1.2, "minimal DO", "KB");

  // ── the brief's older targets ──
  lt("user-stream connect p99 < 100 ms (one at a time)", mf("connect", "connect_unloaded_p99_ms"), 100, "ms");
  lt(`user-stream connect p99 < 100 ms (${cc} in flight)`, mf("connect", "connect_p99_ms"), 100, "ms");
  {
    const f = mf("connect", "connect_failures");
    const o = mf("orgconnect", "org_connect_failures");
    const m = mf("memory", "mem_connect_failures");
    if (f === null && o === null) add(`${N} concurrent connections, zero failures`, "not measured", null, "");
    else {
      const ok = (f ?? 0) === 0 && (o ?? 0) === 0 && (m === null || m === 0) && N >= 1000;
      add(
        "1000+ concurrent connections, zero failures",
        `${N} sockets: user stream ${fmt(f)} failures, org stream ${fmt(o)}${m !== null ? `; ${2 * N} at once (memory): ${m} failures` : ""}`,
        ok,
        N < 1000 ? `N was only ${N}` : ok ? "met" : "missed",
      );
    }
  }
  {
    const b = mf("fanout", "fanout_burst_msgs_per_s");
    const t = mf("targeted", "targeted_delivered_per_s");
    if (b === null && t === null) add("10,000 delivered messages/s", "not measured", null, "");
    else {
      const best = Math.max(b ?? 0, t ?? 0);
      const ok = best >= 10_000;
      add(
        "10,000 delivered messages/s",
        `fan-out ${fmt(b)}/s; targeted ${fmt(t)}/s`,
        ok,
        ok ? `met by fan-out${t !== null && t < 10_000 ? `; targeted (one socket per alert) reaches ${fmt((t / 10_000) * 100)} % of it` : ""}` : `missed: best ${fmt(best)}/s is ${fmt((best / 10_000) * 100)} % of the target`,
      );
    }
  }
  for (const [s, k, label] of [
    ["fanout", "fanout_burst_msgs_per_s", "fan-out burst"],
    ["targeted", "targeted_delivered_per_s", "targeted"],
  ]) {
    const h = mf(s, k);
    const b = sio(s, k);
    if (h === null || b === null) continue;
    add(`delivered msg/s ≥ Socket.IO's (${label})`, `${fmt(h)}/s vs ${fmt(b)}/s`, h >= b, h >= b ? "met" : `missed: ${fmt((h / b) * 100)} % of Socket.IO's`);
  }
  {
    const u = mf("memory", "mem_per_user_conn_kb");
    const o = mf("memory", "mem_per_org_conn_kb");
    if (u !== null || o !== null) {
      const worst = Math.max(u ?? 0, o ?? 0);
      add(
        "memory per idle connection < 10 KB (brief's claim; local runtime)",
        `user stream ${fmt(u)} KB, org stream ${fmt(o)} KB`,
        worst < 10,
        worst < 10 ? "met locally" : `not met locally (${fmt(worst / 10)}×); production hibernation: see docs/COST.md`,
      );
    }
  }
  return checks;
}

export function renderReport(results) {
  const cols = ["miniflare", "wrangler", "minimal", "socketio"];
  const lines = [];
  const m = results.machine;
  lines.push(`## Herald vs Socket.IO — ${results.startedAt.slice(0, 10)}`);
  lines.push("");
  lines.push(
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; ${m.workerd}; wrangler ${m.wrangler}, miniflare ${m.miniflare}; ` +
      `socket.io ${m.socketIo}, express ${m.express}; clients: ws ${m.ws} / socket.io-client ${m.socketIoClient}. ` +
      `${m.pinning ? `Load generator pinned to core ${m.pinning.client}, servers to core ${m.pinning.server}.` : "Not pinned."} ` +
      `Local D1/Durable Object state in ${results.stateDir}. N = ${results.sizes.N}; runs: ${Object.entries(results.runs)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")} (medians). Wall time ${(results.wallMs / 1000).toFixed(0)} s.`,
  );
  const inFlight = (label) => label.replace("50 in flight", `${results.sizes.connectConcurrency} in flight`);
  const singleN = results.targets.miniflare?.scenarios?.single?.runs?.find((r) => r.info)?.info?.sockets;
  lines.push("");
  lines.push("### Headline (issue 15)");
  lines.push("");
  lines.push("| figure | Herald (miniflare) | minimal DO | Socket.IO | Herald ÷ SIO | Herald ÷ minimal |");
  lines.push("|---|---:|---:|---:|---:|---:|");
  for (const [s, k, label, kind] of HEADLINE) {
    const [h, mn, sio] = ["miniflare", "minimal", "socketio"].map((c) => get(results, c, s, k));
    if (h === null && mn === null && sio === null) continue;
    const l = inFlight(label).replace("N org sockets", singleN && singleN !== results.sizes.N ? `${singleN} org sockets (fewer than N)` : "N org sockets");
    lines.push(`| ${l} | ${cell(h, kind)} | ${cell(mn, kind)} | ${cell(sio, kind)} | ${ratio(h, sio, kind)} | ${ratio(h, mn, kind)} |`);
  }
  lines.push("");
  const machine = ["miniflare", "minimal", "socketio", "wrangler"]
    .map((t) => [t, machineChecks(results, t)])
    .filter(([, c]) => c)
    .map(([t, c]) => `${results.targets[t].label} ${fmt(c.median)} ms (${fmt(c.min)}–${fmt(c.max)}, ${c.n} checks)`);
  if (machine.length > 0) {
    lines.push(
      `Machine check (CPU time of the same fixed work in a fresh Node process on the server core, before each counted run and after each group; higher = the machine was slower): ${machine.join("; ")}.`,
    );
    lines.push("");
  }
  lines.push(
    `N = ${results.sizes.N}; medians over runs. minimal DO = bench/targets/minimal: a bare Worker + one Durable Object per org (hibernation API; jose HS256 verify, one D1 upsert per connect, one SQLite append per alert, one send per socket) on the same Miniflare setup; it serves the org stream only, so "—" where it cannot run a scenario.`,
  );

  lines.push("");
  lines.push("### Every figure");
  lines.push("");
  lines.push("| figure | Herald (miniflare) | Herald (wrangler dev) | minimal DO | Socket.IO | ratio |");
  lines.push("|---|---:|---:|---:|---:|---:|");
  for (const [s, k, label, kind] of ROWS) {
    if (!cols.some((c) => results.targets[c]?.scenarios?.[s])) continue;
    const vals = cols.map((c) => get(results, c, s, k));
    if (vals.every((v) => v === null)) continue;
    lines.push(`| ${inFlight(label)} | ${vals.map((v) => cell(v, kind)).join(" | ")} | ${ratio(vals[0], vals[3], kind)} |`);
  }
  lines.push("");
  lines.push(
    "ratio = Herald (miniflare) ÷ Socket.IO. Socket.IO persists nothing and has no resume; Herald writes every alert and event to D1 and to the hub's SQLite log before any socket sees it; the minimal DO appends each alert to its SQLite log only.",
  );

  const info = (t, s) => results.targets[t]?.scenarios?.[s]?.runs?.find((r) => r.info)?.info;
  const ext = cols.map((c) => `${results.targets[c]?.label ?? c}: ${info(c, "fanout-deflate")?.extensions ?? "—"}`).filter((x) => !x.endsWith("—"));
  const frames = cols
    .map((c) => [c, info(c, "fanout")?.frameBytes])
    .filter(([, b]) => b)
    .map(([c, b]) => `${results.targets[c].label} ${b} B`);
  if (ext.length || frames.length) {
    lines.push("");
    if (frames.length) lines.push(`Fan-out frame size: ${frames.join(", ")} (Socket.IO frames carry the same alert JSON).`);
    if (ext.length) lines.push(`Deflate offered by the clients; negotiated: ${ext.join("; ")}.`);
  }

  const checks = targetChecks(results);
  if (checks.length) {
    lines.push("");
    lines.push("### Targets (Herald on Miniflare, no dev proxy)");
    lines.push("");
    lines.push("| target | measured | verdict |");
    lines.push("|---|---|---|");
    for (const c of checks) lines.push(`| ${c.what} | ${c.value} | ${c.ok === null ? "—" : c.ok ? "✅ " : "❌ "}${c.detail} |`);
  }

  const errors = [];
  for (const c of cols) {
    const t = results.targets[c];
    if (!t) continue;
    if (t.error) errors.push(`${t.label}: ${t.error}`);
    for (const [s, v] of Object.entries(t.scenarios ?? {})) {
      v.runs.forEach((r, i) => r.error && errors.push(`${t.label} ${s} run ${i + 1}: ${r.error}`));
    }
  }
  if (results.notes.length || errors.length) {
    lines.push("");
    lines.push("### Notes");
    lines.push("");
    for (const n of results.notes) lines.push(`- ${n}`);
    for (const e of errors) lines.push(`- failed: ${e}`);
  }
  return lines.join("\n");
}

/** A target's machine checks (bench/lib/proc.mjs machineCheck): median, min, max, count; null without any. */
export function machineChecks(results, target) {
  const ms = (results.targets[target]?.machineChecks ?? []).map((c) => c.ms).filter((v) => typeof v === "number");
  if (ms.length === 0) return null;
  const sorted = [...ms].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return { median: sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2, min: sorted[0], max: sorted.at(-1), n: ms.length };
}
