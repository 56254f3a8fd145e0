// Serves the bundled Herald Worker with Miniflare: workerd, the production
// runtime, without wrangler dev's proxy in front of every socket.
//
// usage: node bench/targets/miniflare-server.mjs <spec.json>
// spec: { bundleDir, persistDir, migrationsDir, port, readyFile, config, bindings, rateLimit, inspectorPort?, migrated? }
//   config   = the relevant part of wrangler.toml (bench/lib/read-config.mjs)
//   bindings = vars overriding/adding to config.vars (JWT_SECRET, limits)
// When the D1 migrations are applied and the server answers, it writes
// `readyFile` with {url, pid}. SIGTERM disposes Miniflare (workerd exits).
import fs from "node:fs";
import path from "node:path";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { baseOptions, hostMiniflare } from "../lib/miniflare-host.mjs";

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const { config } = spec;

const queueConsumers = {};
for (const c of config.queues?.consumers ?? []) {
  queueConsumers[c.queue] = {
    ...(c.max_batch_size !== undefined && { maxBatchSize: c.max_batch_size }),
    ...(c.max_batch_timeout !== undefined && { maxBatchTimeout: c.max_batch_timeout }),
    ...(c.max_retries !== undefined && { maxRetries: c.max_retries }),
    ...(c.dead_letter_queue !== undefined && { deadLetterQueue: c.dead_letter_queue }),
  };
}
const queueProducers = {};
for (const p of config.queues?.producers ?? []) queueProducers[p.binding] = { queueName: p.queue };

const sqliteClasses = new Set((config.migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? []));
const durableObjects = {};
for (const b of config.durable_objects?.bindings ?? []) {
  durableObjects[b.name] = { className: b.class_name, useSQLite: sqliteClasses.has(b.class_name) };
}

const ratelimits = {};
for (const r of config.ratelimits ?? []) {
  ratelimits[r.name] = { namespace_id: r.namespace_id, simple: { limit: spec.rateLimit ?? r.simple.limit, period: r.simple.period } };
}

const d1Databases = {};
for (const d of config.d1_databases ?? []) d1Databases[d.binding] = d.database_id ?? d.database_name;

const bundle = path.join(spec.bundleDir, "index.js");
const mf = new Miniflare(
  convertV4MiniflareOptions({
    ...baseOptions(spec),
    ...(spec.inspectorPort && { inspectorPort: spec.inspectorPort }),
    modules: [{ type: "ESModule", path: bundle }],
    modulesRoot: spec.bundleDir,
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    bindings: { ...config.vars, ...spec.bindings },
    d1Databases,
    durableObjects,
    queueProducers,
    queueConsumers,
    ratelimits,
  }),
);

await hostMiniflare(mf, {
  readyFile: spec.readyFile,
  label: "herald (miniflare)",
  // The D1 migrations, as `wrangler d1 migrations apply` would run them (not again on a
  // restart over the same persist dir: spec.migrated, the storm scenario).
  setup: async () => {
    for (const [binding] of spec.migrated ? [] : Object.entries(d1Databases)) {
      const db = await mf.getD1Database(binding);
      const files = fs.readdirSync(spec.migrationsDir).filter((f) => f.endsWith(".sql")).sort();
      for (const f of files) {
        const text = fs.readFileSync(path.join(spec.migrationsDir, f), "utf8");
        for (const stmt of text.split("--> statement-breakpoint").map((s) => s.trim()).filter(Boolean)) {
          await db.prepare(stmt).run();
        }
      }
    }
  },
});
