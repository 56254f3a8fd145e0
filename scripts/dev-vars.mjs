// Shared by scripts/dev.mjs and scripts/token.mjs: the local .dev.vars file.
import { copyFileSync, existsSync, readFileSync } from "node:fs";

const DEV_VARS = new URL("../.dev.vars", import.meta.url);
const EXAMPLE = new URL("../.dev.vars.example", import.meta.url);

/** Creates .dev.vars from .dev.vars.example when missing; returns its variables. */
export function loadDevVars() {
  if (!existsSync(DEV_VARS)) {
    copyFileSync(EXAMPLE, DEV_VARS);
    console.error("herald: created .dev.vars from .dev.vars.example (development secret only)");
  }
  const vars = {};
  for (const line of readFileSync(DEV_VARS, "utf8").split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trimStart().startsWith("#")) continue;
    vars[match[1]] = match[2].replace(/^(['"])(.*)\1$/, "$2");
  }
  return vars;
}

/** OPS_TOKEN under `npm run dev` (never use it anywhere else). */
export const DEV_OPS_TOKEN = "herald-dev-ops-token-change-me-0123456789";

/**
 * What `npm run dev` runs with on top of wrangler.toml, whose top-level [vars]
 * are production-safe (README, "Configuration"): the dev outbox, any browser
 * origin, and webhooks to http:// and local listeners. A key set in .dev.vars
 * wins over these.
 */
export const DEVELOPMENT_VARS = {
  ENVIRONMENT: "development",
  CORS_ORIGINS: "*",
  ALLOWED_ORIGINS: "*",
  ALLOW_INSECURE_WEBHOOKS: "true",
  // The operator routes (npm run shard:move); a development-only value.
  OPS_TOKEN: DEV_OPS_TOKEN,
};
