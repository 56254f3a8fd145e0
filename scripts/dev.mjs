#!/usr/bin/env node
// `npm run dev`: local state only, no Cloudflare account needed.
// 1. creates .dev.vars from .dev.vars.example on first run;
// 2. applies the D1 migrations to every local database, one per shard (.wrangler/state);
// 3. starts `wrangler dev` (which builds the dashboard first, in development
//    mode: the dev-token sign-in is kept) with the development vars (scripts/dev-vars.mjs) over
//    wrangler.toml's production-safe ones; extra arguments are passed through,
//    e.g. --port 8788.
import { spawnSync } from "node:child_process";
import { d1Bindings } from "./d1-bindings.mjs";
import { DEVELOPMENT_VARS, loadDevVars } from "./dev-vars.mjs";

const devVars = loadDevVars();
const varArgs = Object.entries(DEVELOPMENT_VARS)
  .filter(([key]) => !(key in devVars))
  .flatMap(([key, value]) => ["--var", `${key}:${value}`]);
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", HERALD_DASHBOARD_MODE: "development" };
const run = (args) => {
  const res = spawnSync("wrangler", args, { stdio: "inherit", env, shell: process.platform === "win32" });
  if (res.status !== 0) process.exit(res.status ?? 1);
};
for (const binding of d1Bindings()) run(["d1", "migrations", "apply", binding, "--local"]);
run(["dev", ...varArgs, ...process.argv.slice(2)]);
