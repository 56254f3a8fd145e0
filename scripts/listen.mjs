#!/usr/bin/env node
// `npm run listen -- --token <JWT> [--stream user|org] [--channels kpi,stats] [--dept d] [--queue q] [--url http://localhost:8787]`
// Prints every event a Herald client receives, one JSON frame per line on
// stdout, through the client SDK (@herald/sdk) as an app would use it: a fresh
// single-use ticket and the last seq on every dial, jittered backoff, the close
// codes' rules, a heartbeat, exactly-once delivery, and the polling fallback
// while sockets fail. Status changes, resyncs and errors go to stderr. It
// survives server restarts and network drops; Ctrl-C closes it.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const USAGE =
  "usage: npm run listen -- --token <JWT> [--stream user|org] [--channels kpi,stats] [--dept d] [--queue q] [--url http://localhost:8787]";
const { values } = parseArgs({
  options: {
    token: { type: "string" },
    stream: { type: "string", default: "user" },
    channels: { type: "string" },
    dept: { type: "string" },
    queue: { type: "string" },
    url: { type: "string", default: "http://localhost:8787" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help || !values.token) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
if (values.stream !== "user" && values.stream !== "org") {
  console.error(`--stream must be user or org\n${USAGE}`);
  process.exit(2);
}

await ensureSdkBuilt();
const { createHerald } = await import("@herald/sdk");

const log = (line) => console.error(`herald ${new Date().toISOString().slice(11, 19)} ${line}`);
const herald = createHerald({ url: values.url, token: values.token });

herald.onAny((type, data, meta) => {
  // The frame as it came off the wire (or, while polling, as the events API gave it).
  const frame = { type, id: meta.id, stream: meta.stream, seq: meta.seq, ts: meta.ts, channel: meta.channel, scope: meta.scope, data };
  if (meta.polled) frame.polled = true;
  console.log(JSON.stringify(frame));
});
herald.on("status", (status) => {
  const seqs = Object.entries(herald.lastSeq).map(([stream, seq]) => `${stream} seq ${seq}`);
  log(`${status}${seqs.length > 0 ? ` (${seqs.join(", ")})` : ""}`);
});
herald.on("resync", ({ stream, seq, reason }) =>
  log(`resync: the ${stream} stream's missed events are no longer kept (${reason}); continuing from seq ${seq}, refetch over REST`),
);
herald.on("error", (err) => {
  log(`${err.code}${err.status ? ` (${err.status})` : ""}: ${err.message}`);
  if (herald.status === "closed") process.exit(1);
});

// The org stream opens with the first subscription; with --stream org and no
// --channels, an admin's org-wide alert feed.
if (values.stream === "org" || values.channels) {
  const channels = (values.channels ?? "alerts").split(",").filter(Boolean);
  const scope = values.dept ? { dept: values.dept, ...(values.queue && { queue: values.queue }) } : {};
  for (const channel of channels) {
    herald.subscribe(channel, scope).then(
      () => log(`subscribed to ${channel}${scope.dept ? ` ${JSON.stringify(scope)}` : ""}`),
      (err) => log(`subscribe ${channel} refused: ${err.code}: ${err.message}`),
    );
  }
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    herald.close();
    process.exit(0);
  });
}

/**
 * The SDK runs from its build (packages/sdk/dist, git-ignored): built here on
 * first use and again whenever its sources (or the protocol's) are newer.
 */
async function ensureSdkBuilt() {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const built = join(root, "packages/sdk/dist/index.js");
  const newest = (dir) =>
    readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile())
      .reduce((max, e) => Math.max(max, statSync(join(e.parentPath, e.name)).mtimeMs), 0);
  const sources = Math.max(newest(join(root, "packages/sdk/src")), newest(join(root, "src/protocol")));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  console.error("herald: building the SDK (npm run build:sdk)…");
  const res = spawnSync(process.execPath, [join(root, "packages/sdk/build.mjs")], { stdio: ["ignore", "ignore", "inherit"] });
  if (res.status !== 0) process.exit(res.status ?? 1);
}
