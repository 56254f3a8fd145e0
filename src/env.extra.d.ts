// What `wrangler types` (src/env.d.ts) cannot see: secrets, which are not in
// wrangler.toml (set locally in .dev.vars, in production with
// `wrangler secret put`), and the main module, which types `exports`.
declare namespace Cloudflare {
  interface Env {
    /** HS256 signing secret for bearer tokens (unused when JWT_JWKS_URL is set). */
    JWT_SECRET?: string;
  }
  interface GlobalProps {
    mainModule: typeof import("./index");
  }
}
