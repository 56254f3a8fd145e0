#!/usr/bin/env node
// Do two runs of `npm run bench` agree? For every figure both results files
// have, each target's two medians and their spread: the larger over the
// smaller, minus one (so 10 ms and 11.5 ms differ by 15 %, whichever came
// first). Figures whose spread exceeds --within (default 15 %, issue 15's
// "two consecutive runs agree within 15 % on medians") are marked.
//
//   npm run bench:compare -- bench/results/<run 1>.json bench/results/<run 2>.json
//   npm run bench:compare -- a.json b.json --within=10 --targets=miniflare --all
import fs from "node:fs";
import { parseArgs } from "node:util";

import { HEADLINE, machineChecks, ROWS } from "./lib/report.mjs";
import { fmt } from "./lib/stats.mjs";

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    within: { type: "string", default: "15" },
    targets: { type: "string", default: "miniflare,minimal,socketio" },
    all: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

const USAGE = `usage: npm run bench:compare -- <run 1>.json <run 2>.json [--within=<percent>] [--targets=miniflare,minimal,socketio] [--all]
  --within   the spread allowed between the two medians, in percent (default 15)
  --targets  the targets compared (default miniflare,minimal,socketio)
  --all      every figure of the report, not only the headline and the floor`;

if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
if (positionals.length !== 2) fail(`two results files are needed, got ${positionals.length}`);
const within = Number(flags.within);
if (flags.within.trim() === "" || !Number.isFinite(within) || within < 0) fail(`--within must be a percentage (a number ≥ 0), not "${flags.within}"`);
const targets = flags.targets.split(",").map((t) => t.trim()).filter(Boolean);
const [a, b] = positionals.map(load);

// The headline, then the floor rows (the runtime's price, issue 15), or every row with --all.
const rows = flags.all ? [...HEADLINE, ...ROWS.filter(([s, k]) => !HEADLINE.some(([hs, hk]) => hs === s && hk === k))] : [...HEADLINE, ...ROWS.filter(([s]) => s === "floor")];

const lines = [
  `Run 1: ${a.startedAt} (${positionals[0]}); run 2: ${b.startedAt} (${positionals[1]}).`,
  `Spread = larger ÷ smaller − 1; "**over**" where it exceeds ${fmt(within)} %. Counts (failures, lost) must be equal.`,
  "",
  `| figure | ${targets.map((t) => `${label(t)}: run 1 / run 2 (spread)`).join(" | ")} |`,
  `|---|${targets.map(() => "---:").join("|")}|`,
];
let compared = 0;
const over = [];
for (const [scenario, key, text, kind] of rows) {
  for (const k of Array.isArray(key) ? key : [key]) {
    const cells = targets.map((t) => {
      const [x, y] = [median(a, t, scenario, k), median(b, t, scenario, k)];
      if (x === null && y === null) return null;
      if (x === null || y === null) return `${pair(x, y, kind)} (only one run has it)`;
      compared++;
      const s = spread(x, y, kind);
      const bad = s > within / 100;
      if (bad) over.push(`${label(t)} · ${text}${Array.isArray(key) ? ` (${k})` : ""}`);
      return `${pair(x, y, kind)} (${kind === "n" ? (x === y ? "equal" : "differ") : `${fmt(s * 100)} %`})${bad ? " **over**" : ""}`;
    });
    if (cells.every((c) => c === null)) continue;
    lines.push(`| ${text}${Array.isArray(key) ? ` (${k})` : ""} | ${cells.map((c) => c ?? "—").join(" | ")} |`);
  }
}
lines.push("");
// Not compared: the machine check says whether the machine itself was slower in one run (bench/README.md).
const checks = targets
  .map((t) => [t, machineChecks(a, t), machineChecks(b, t)])
  .filter(([, x, y]) => x || y)
  .map(([t, x, y]) => `${label(t)} ${[x, y].map((c) => (c ? `${fmt(c.median)} ms (${fmt(c.min)}–${fmt(c.max)})` : "—")).join(" / ")}`);
if (checks.length > 0) {
  lines.push(`Machine check, run 1 / run 2 (CPU ms of the same fixed work on the server core, median and range over each target's checks; higher = the machine was slower): ${checks.join("; ")}.`);
  lines.push("");
}
lines.push(over.length === 0 ? `All ${compared} medians agree within ${fmt(within)} %.` : `${over.length} of ${compared} medians differ by more than ${fmt(within)} %:\n${over.map((o) => `- ${o}`).join("\n")}`);
console.log(lines.join("\n"));
process.exit(over.length === 0 ? 0 : 1);

function load(file) {
  try {
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    if (!r.targets || !r.startedAt) throw new Error("not a results file of npm run bench (no targets or startedAt)");
    return r;
  } catch (err) {
    fail(`${file}: ${err.message}`);
  }
}

function median(results, target, scenario, key) {
  const v = results.targets[target]?.scenarios?.[scenario]?.median?.[key];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** larger ÷ smaller − 1; counts (kind "n") agree only when equal; two zeros agree. */
function spread(x, y, kind) {
  if (kind === "n") return x === y ? 0 : Infinity;
  const [lo, hi] = [Math.min(Math.abs(x), Math.abs(y)), Math.max(Math.abs(x), Math.abs(y))];
  if (hi === 0) return 0;
  return lo === 0 ? Infinity : hi / lo - 1;
}

/** Two medians as the report shows them, the unit once ("50.6 / 43.0 ms"). */
function pair(x, y, kind) {
  const show = (v) => (v === null ? "—" : fmt(kind === "pct" ? v * 100 : v));
  const unit = { ms: " ms", rate: " /s", us: " µs", kb: " KB", mb: " MB", pct: " %" }[kind] ?? "";
  return `${show(x)} / ${show(y)}${unit}`;
}

function label(t) {
  return { miniflare: "Herald", wrangler: "Herald (wrangler dev)", minimal: "minimal DO", socketio: "Socket.IO" }[t] ?? t;
}

function fail(msg) {
  console.error(`bench:compare: ${msg}\n${USAGE}`);
  process.exit(2);
}
