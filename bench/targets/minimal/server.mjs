// Serves the "minimal Durable Object" Worker (./worker.js) with Miniflare,
// configured as bench/targets/miniflare-server.mjs configures Herald: the
// compatibility date and flags of wrangler.toml (incl. no_web_socket_compression),
// one D1 database, one Durable Object class with SQLite storage, no dev proxy.
//
// usage: node bench/targets/minimal/server.mjs <spec.json>
// spec: { persistDir, port, readyFile, config, bindings }
// Bundles worker.js with esbuild (jose inlined) into persistDir/../, creates
// the one-table D1 schema, then writes `readyFile` with {url, pid}.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, stop as stopEsbuild } from "esbuild";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { baseOptions, hostMiniflare } from "../../lib/miniflare-host.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const { config } = spec;

const outDir = `${spec.persistDir}-bundle`;
fs.mkdirSync(outDir, { recursive: true });
const bundle = path.join(outDir, "index.js");
await build({
  entryPoints: [path.join(here, "worker.js")],
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  conditions: ["workerd", "worker", "browser"],
  external: ["cloudflare:*"],
  outfile: bundle,
  logLevel: "warning",
});
// esbuild's service process would otherwise stay in the target's process tree (its RSS counted).
await stopEsbuild();

const mf = new Miniflare(
  convertV4MiniflareOptions({
    ...baseOptions(spec),
    modules: [{ type: "ESModule", path: bundle }],
    modulesRoot: outDir,
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    bindings: { ...spec.bindings },
    d1Databases: { DB: "minimal" },
    durableObjects: { ORG_STREAM: { className: "OrgStream", useSQLite: true } },
  }),
);

await hostMiniflare(mf, {
  readyFile: spec.readyFile,
  label: "minimal DO (miniflare)",
  setup: async () => {
    const db = await mf.getD1Database("DB");
    await db.prepare("CREATE TABLE IF NOT EXISTS users (org TEXT NOT NULL, id TEXT NOT NULL, role TEXT NOT NULL, last_seen INTEGER NOT NULL, PRIMARY KEY (org, id))").run();
  },
});
