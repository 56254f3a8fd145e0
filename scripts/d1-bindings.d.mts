/** Binding names of every [[d1_databases]] table in `wranglerToml` (a path or URL; default: the project's wrangler.toml). */
export function d1Bindings(wranglerToml?: string | URL): string[];
