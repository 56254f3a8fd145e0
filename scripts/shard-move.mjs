#!/usr/bin/env node
// Moves an organization to another D1 shard through the operator routes
// (README "Shards"): calls POST /api/ops/orgs/<org>/move until the move is
// done, printing each step. Safe to stop and run again: the move resumes.
//
// usage: npm run shard:move -- --org <org> --to <shard> [--url http://localhost:8787]
//        npm run shard:move -- --shards            (list shards and their sizes)
//        npm run shard:move -- --org <org>         (where it lives, the move in progress)
// OPS_TOKEN from the environment; against `npm run dev` the development value is used.
import { parseArgs } from "node:util";
import { DEV_OPS_TOKEN } from "./dev-vars.mjs";

const { values } = parseArgs({
  options: {
    org: { type: "string" },
    to: { type: "string" },
    url: { type: "string", default: "http://localhost:8787" },
    shards: { type: "boolean", default: false },
    "max-steps": { type: "string", default: "100000" },
  },
});
const base = values.url.replace(/\/+$/, "");
const local = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(base);
const token = process.env.OPS_TOKEN ?? (local ? DEV_OPS_TOKEN : undefined);
if (!token) {
  console.error("Set OPS_TOKEN (the Worker's OPS_TOKEN secret).");
  process.exit(2);
}

async function call(method, path, body) {
  const res = await fetch(`${base}/api/ops${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body && { "Content-Type": "application/json" }) },
    ...(body && { body: JSON.stringify(body) }),
  });
  const json = await res.json().catch(() => ({}));
  if (res.status === 503 && json?.error?.code === "ORG_MOVING") return call(method, path, body);
  if (!res.ok) {
    console.error(`${method} ${path}: ${res.status} ${json?.error?.code ?? ""} ${json?.error?.message ?? ""}`);
    process.exit(1);
  }
  return json;
}

if (values.shards) {
  console.table((await call("GET", "/shards")).shards);
} else if (values.org && values.to === undefined) {
  console.log(JSON.stringify(await call("GET", `/orgs/${encodeURIComponent(values.org)}`), null, 2));
} else if (values.org && values.to !== undefined) {
  const to = Number(values.to);
  let waiting = false;
  for (let step = 1; step <= Number(values["max-steps"]); step++) {
    const r = await call("POST", `/orgs/${encodeURIComponent(values.org)}/move`, { to });
    const m = r.move;
    if (r.done) {
      console.log(`done: ${r.org} lives on shard ${r.shard} (epoch ${r.epoch})`);
      process.exit(0);
    }
    if (m.state === "switched") {
      // Isolates may still read the old shard from their cached map until then (SHARD_CACHE_SECONDS).
      if (!waiting) console.log(`step ${step}: switched to shard ${m.to}; the old copy is deleted after ${m.deleteAfter}`);
      waiting = true;
      const wait = Math.min(5_000, Math.max(250, Date.parse(m.deleteAfter) - Date.now()));
      await new Promise((resolve) => setTimeout(resolve, wait));
      continue;
    }
    console.log(`step ${step}: ${m.state}${m.table ? ` ${m.table}` : ""}, ${r.changed} row(s) changed`);
  }
  console.error("stopped after --max-steps; run again to continue");
  process.exit(1);
} else {
  console.error("usage: npm run shard:move -- --org <org> --to <shard> [--url <base>] | --shards | --org <org>");
  process.exit(2);
}
