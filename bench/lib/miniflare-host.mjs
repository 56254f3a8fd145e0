// What both Miniflare targets (bench/targets/miniflare-server.mjs: Herald;
// bench/targets/minimal/server.mjs: the minimal DO) do once their Miniflare
// is built: stop it cleanly on SIGTERM/SIGINT, wait until it serves, run the
// target's setup (migrations, schema), then write the ready file the bench
// waits for.
import fs from "node:fs";
import { Log, LogLevel } from "miniflare";

/**
 * The options both targets share: loopback on the spec's port, no `cf`
 * fetch, no dev registry, state under the spec's persist dir, warnings only.
 * @param {{ port: number, persistDir: string }} spec
 */
export function baseOptions(spec) {
  return {
    host: "127.0.0.1",
    port: spec.port,
    cf: false,
    enableDevRegistry: false,
    resourcePersistencePath: spec.persistDir,
    log: new Log(LogLevel.WARN),
  };
}

/**
 * @param {import("miniflare").Miniflare} mf
 * @param {{ readyFile: string, label: string, setup?: (url: URL) => Promise<void> }} options
 */
export async function hostMiniflare(mf, { readyFile, label, setup }) {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await mf.dispose();
    } finally {
      process.exit(0);
    }
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  const url = await mf.ready;
  await setup?.(url);
  fs.writeFileSync(readyFile, JSON.stringify({ url: url.href, pid: process.pid }));
  console.log(`${label} ready at ${url.href}`);
}
