// Prints the parts of wrangler.toml the Miniflare target needs, as JSON.
// Run as a one-shot child so wrangler's own modules never load into the
// load generator or the Miniflare host process.
// usage: node bench/lib/read-config.mjs <wrangler.toml>
import { unstable_readConfig } from "wrangler";

const c = unstable_readConfig({ config: process.argv[2] });
process.stdout.write(
  JSON.stringify({
    name: c.name,
    vars: c.vars ?? {},
    compatibility_date: c.compatibility_date,
    compatibility_flags: c.compatibility_flags ?? [],
    ratelimits: c.ratelimits ?? [],
    queues: c.queues ?? {},
    durable_objects: c.durable_objects ?? { bindings: [] },
    migrations: c.migrations ?? [],
    d1_databases: (c.d1_databases ?? []).map((d) => ({ binding: d.binding, database_id: d.database_id, database_name: d.database_name })),
  }),
);
