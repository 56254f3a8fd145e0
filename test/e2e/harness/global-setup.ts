// Once per e2e run: a temp dir for every server's state and log, the D1
// migrations applied once to a template state each server starts from, and
// at the end every process group a test started is stopped, whatever happened.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { d1Bindings } from "../../../scripts/d1-bindings.mjs";
import { killGroup, ROOT } from "./server";

export default function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herald-e2e-"));
  process.env.HERALD_E2E_DIR = dir;
  const template = path.join(dir, "template-state");
  // Every shard's database (wrangler.toml's D1 bindings).
  for (const binding of d1Bindings(path.join(ROOT, "wrangler.toml"))) {
    const res = spawnSync(
      process.execPath,
      [path.join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "d1", "migrations", "apply", binding, "--local", "--persist-to", template],
      { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" }, encoding: "utf8", timeout: 180_000 },
    );
    if (res.status !== 0) throw new Error(`wrangler d1 migrations apply ${binding} failed (${res.status}): ${res.stdout}${res.stderr}`);
  }

  return function teardown() {
    const pidsFile = path.join(dir, "pids");
    if (fs.existsSync(pidsFile)) {
      for (const line of fs.readFileSync(pidsFile, "utf8").split("\n")) {
        const pid = Number(line);
        if (pid > 0) killGroup(pid, "SIGKILL");
      }
    }
    if (process.env.HERALD_E2E_KEEP) console.log(`e2e state and logs kept in ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  };
}
