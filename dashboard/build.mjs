#!/usr/bin/env node
// Builds the dashboard into dashboard/dist (Workers static assets, see
// wrangler.toml [assets]). wrangler runs it before `wrangler dev` and
// `wrangler deploy` ([build] in wrangler.toml), so neither needs an extra step.
//
//   node dashboard/build.mjs                 production build (no dev-token button)
//   node dashboard/build.mjs --mode development
//   HERALD_DASHBOARD_MODE=development node dashboard/build.mjs   (what `npm run dev` sets)
//   node dashboard/build.mjs --size          also print the JavaScript's min+gzip size and check the budget
//                                            (and that a production build holds no dev-token code)
//
// A build is skipped when its inputs (the dashboard, the SDK, the protocol,
// this mode) hash to what the last build recorded, so starting a server twice
// costs one build.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");
const DIST = path.join(HERE, "dist");
const STAMP = path.join(HERE, ".build-stamp");
/** First-load JavaScript budget, min+gzip (issue 12). */
const BUDGET_BYTES = 100 * 1024;

const args = process.argv.slice(2);
const modeArg = args.indexOf("--mode");
const mode = (modeArg >= 0 ? args[modeArg + 1] : process.env.HERALD_DASHBOARD_MODE) || "production";
if (mode !== "production" && mode !== "development") {
  console.error(`dashboard: unknown mode ${mode} (production or development)`);
  process.exit(2);
}

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === "dist") continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* files(full);
    else yield full;
  }
}

function inputsHash() {
  const hash = createHash("sha256").update(mode);
  const roots = ["dashboard/src", "dashboard/public", "dashboard/index.html", "dashboard/vite.config.ts", "packages/sdk/src", "src/protocol", "package-lock.json"];
  for (const root of roots) {
    const full = path.join(ROOT, root);
    if (!existsSync(full)) continue;
    const list = statSync(full).isDirectory() ? [...files(full)].sort() : [full];
    for (const file of list) hash.update(path.relative(ROOT, file)).update("\0").update(readFileSync(file)).update("\0");
  }
  return hash.digest("hex");
}

const want = inputsHash();
const fresh = existsSync(STAMP) && existsSync(path.join(DIST, "index.html")) && readFileSync(STAMP, "utf8") === want;
if (!fresh) {
  const { build } = await import("vite");
  await build({ configFile: path.join(HERE, "vite.config.ts"), mode, logLevel: "warn" });
  writeFileSync(STAMP, want);
  console.error(`dashboard: built (${mode}) into dashboard/dist`);
}

if (args.includes("--size")) {
  const assets = path.join(DIST, "assets");
  const html = readFileSync(path.join(DIST, "index.html"), "utf8");
  // First load: the scripts index.html loads (entry and its modulepreloads).
  const loaded = [...html.matchAll(/(?:src|href)="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]);
  let total = 0;
  for (const name of loaded) {
    const bytes = gzipSync(readFileSync(path.join(assets, name)), { level: 9 }).length;
    total += bytes;
    console.log(`dashboard: ${name} ${bytes} B min+gzip`);
  }
  console.log(`dashboard: first-load JavaScript ${total} B min+gzip (budget ${BUDGET_BYTES} B)`);
  if (total > BUDGET_BYTES) {
    console.error("dashboard: over budget");
    process.exit(1);
  }
  // The dev-token sign-in must not ship: Vite drops it when __HERALD_DEV_TOKEN__ is false.
  if (mode === "production") {
    const leaked = readdirSync(assets).filter((name) => name.endsWith(".js") && readFileSync(path.join(assets, name), "utf8").includes("/api/dev/token"));
    if (leaked.length > 0) {
      console.error(`dashboard: the production build contains the dev-token call (${leaked.join(", ")})`);
      process.exit(1);
    }
    console.log("dashboard: production build holds no dev-token code");
  }
}
