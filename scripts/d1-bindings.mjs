// The D1 bindings wrangler.toml declares, in order (the shards: README "Shards").
// Used by the scripts that apply migrations to every local database.
import { readFileSync } from "node:fs";

/** Binding names of every [[d1_databases]] table in `wranglerToml` (a path or URL). */
export function d1Bindings(wranglerToml = new URL("../wrangler.toml", import.meta.url)) {
  const text = readFileSync(wranglerToml, "utf8");
  const bindings = [];
  for (const block of text.split(/^\[\[d1_databases\]\]\s*$/m).slice(1)) {
    const body = block.split(/^\[/m)[0];
    const m = /^binding\s*=\s*"([^"]+)"/m.exec(body);
    if (m) bindings.push(m[1]);
  }
  if (bindings.length === 0) throw new Error("wrangler.toml declares no [[d1_databases]]");
  return bindings;
}
