// Lints the OpenAPI document Herald serves at /openapi.json with Redocly's
// `recommended` ruleset (narrowed where a rule cannot apply: redocly.yaml says
// where and why) and fails on any error or warning. Offline and without
// a Cloudflare account: the Worker is bundled with `wrangler deploy --dry-run`
// and run in bare Miniflare (workerd) just long enough to fetch the document.
//
// usage: node scripts/lint-openapi.mjs [--out <file>]   (npm run lint:openapi)
//   --out  also keep the fetched document in <file>
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from "miniflare";
import { unstable_readConfig } from "wrangler";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outArg = process.argv.indexOf("--out");
const keepAs = outArg > 0 ? path.resolve(process.argv[outArg + 1] ?? "openapi.json") : undefined;
const quiet = { WRANGLER_SEND_METRICS: "false", REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "herald-openapi-"));

function run(args, what) {
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...quiet, WRANGLER_LOG_PATH: path.join(tmp, "logs") },
    encoding: "utf8",
  });
  if (r.status !== 0 && what) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`${what} failed (exit ${r.status})`);
  }
  return r;
}

/** The document as the deployed Worker serves it. */
async function fetchDocument() {
  const bundleDir = path.join(tmp, "bundle");
  run([path.join(root, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", bundleDir], "wrangler deploy --dry-run");
  const config = unstable_readConfig({ config: path.join(root, "wrangler.toml") });
  const mf = new Miniflare(
    convertV4MiniflareOptions({
    cf: false,
    log: new Log(LogLevel.WARN),
    modules: [{ type: "ESModule", path: path.join(bundleDir, "index.js") }],
    modulesRoot: bundleDir,
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    // The document needs no storage; a throwaway secret satisfies the config check every request runs.
    bindings: { ...config.vars, JWT_SECRET: randomBytes(32).toString("hex") },
    }),
  );
  try {
    // The document names the origin it is served from as its server; ask as a
    // deployment would be asked (locally it names localhost, which is right there).
    const res = await mf.dispatchFetch("https://herald.invalid/openapi.json");
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}: ${text.slice(0, 500)}`);
    // Pretty-printed, so the report's line numbers point somewhere readable.
    return `${JSON.stringify(JSON.parse(text), null, 2)}\n`;
  } finally {
    await mf.dispose();
  }
}

let failed = true;
try {
  const docFile = path.join(tmp, "openapi.json");
  fs.writeFileSync(docFile, await fetchDocument());
  if (keepAs) fs.copyFileSync(docFile, keepAs);
  const redocly = [path.join(root, "node_modules/@redocly/cli/bin/cli.js"), "lint", "--config", path.join(root, "redocly.yaml"), "--extends=recommended", "--max-problems=1000"];
  const report = run([...redocly, "--format=json", docFile]);
  const { totals } = JSON.parse(report.stdout);
  if (totals.errors === 0 && totals.warnings === 0) {
    console.log("openapi: /openapi.json passes redocly lint (recommended) with no errors or warnings");
    failed = false;
  } else {
    // The readable report, then the verdict.
    process.stdout.write(run([...redocly, "--format=stylish", docFile]).stdout);
    console.error(`openapi: redocly lint (recommended) found ${totals.errors} error(s) and ${totals.warnings} warning(s)`);
  }
} catch (err) {
  console.error(`openapi: ${err instanceof Error ? err.message : err}`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
