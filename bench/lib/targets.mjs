// The four targets, each started fresh in its own process tree (pinned to
// the server core, fd limit raised) and stopped by pid:
//   miniflare  – the bundled Worker (`wrangler deploy --dry-run`) on workerd via Miniflare, no dev proxy
//   minimal    – bench/targets/minimal: a bare Worker + one Durable Object per org (hibernation API,
//                jose verify, one D1 upsert per connect, one SQLite append per event) on Miniflare;
//                it serves only the org stream, so it runs only the scenarios in `scenarios`
//   wrangler   – `wrangler dev`, as a developer runs it (its proxy worker in front of every socket)
//   socketio   – bench/baseline-socketio/server.mjs (Express + Socket.IO + jsonwebtoken)
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { freePort, killTree, processTree, sleep, spawnTarget, waitHttp } from "./proc.mjs";
import { d1Bindings } from "../../scripts/d1-bindings.mjs";

export const TARGETS = {
  miniflare: { label: "Herald (miniflare)", kind: "herald" },
  // 1c (one admin, N sockets; a secondary row) is skipped: the dev proxy is measured by 1 and 1a already.
  wrangler: { label: "Herald (wrangler dev)", kind: "herald", skip: ["single"] },
  // Speaks Herald's wire format for the org stream only (no user stream, no resume, no directory).
  minimal: { label: "minimal DO", kind: "herald", userStream: false, scenarios: ["orgconnect", "single", "fanout", "memory", "floor"] },
  socketio: { label: "Socket.IO", kind: "socketio" },
};

/** Whether a target runs a scenario (minimal serves only a few; wrangler skips some). */
export function targetRuns(name, scenario) {
  const t = TARGETS[name];
  if (t.scenarios && !t.scenarios.includes(scenario)) return false;
  return !t.skip?.includes(scenario);
}

/** Vars the bench overrides on both Herald targets (never in wrangler.toml). */
export function benchVars(secret) {
  return {
    JWT_SECRET: secret,
    // Fan-out and memory put up to 2N sockets in one org; the default (10000) would refuse --large.
    MAX_CONNECTIONS_PER_ORG: "100000",
    // 1c: one admin holds N org-stream sockets (the default, 20, would refuse all but 20; 10000 is the config's maximum).
    MAX_CONNECTIONS_PER_USER: "10000",
    // 1c opens N sockets of that one admin within seconds (the default budget is 60 connects a minute per user).
    MAX_CONNECTS_PER_MINUTE: "100000",
  };
}

/** Bundles the Worker once, offline: `wrangler deploy --dry-run --outdir`. */
export function bundleWorker(root, outDir, logFile) {
  const r = spawnSync(process.execPath, [path.join(root, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outDir], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
    encoding: "utf8",
    timeout: 180_000,
  });
  fs.appendFileSync(logFile, `${r.stdout ?? ""}${r.stderr ?? ""}`);
  if (r.status !== 0 || !fs.existsSync(path.join(outDir, "index.js"))) {
    throw new Error(`wrangler deploy --dry-run failed (exit ${r.status}); see ${logFile}`);
  }
}

/** wrangler.toml, as the Miniflare target needs it (read in a one-shot child). */
export function readWranglerConfig(root) {
  const r = spawnSync(process.execPath, [path.join(root, "bench/lib/read-config.mjs"), path.join(root, "wrangler.toml")], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`could not read wrangler.toml: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function childAlive(child) {
  return child.exitCode === null && child.signalCode === null;
}

async function waitFile(file, timeoutMs, child) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8"));
    if (!childAlive(child)) throw new Error(`the target exited (code ${child.exitCode}) before it was ready`);
    await sleep(100);
  }
  throw new Error(`not ready after ${timeoutMs} ms`);
}

/** Every started target, so an abort can stop them all (by pid). */
const running = new Set();

export function stopAllSync() {
  for (const t of running) {
    for (const { pid } of processTree(t.rootPid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
}

function handle(name, child, baseUrl, logFile) {
  const t = {
    name,
    ...TARGETS[name],
    baseUrl,
    rootPid: child.pid,
    logFile,
    child,
    async stop() {
      running.delete(t);
      await killTree(child.pid, 5_000);
    },
  };
  running.add(t);
  return t;
}

/**
 * Waits until a started target answers /health (after `before`, e.g. its
 * ready file); a target that never does is stopped and the error rethrown.
 */
async function untilHealthy(t, child, timeoutMs, before) {
  try {
    await before?.();
    await waitHttp(`${t.baseUrl}/health`, timeoutMs, () => childAlive(child));
  } catch (err) {
    await t.stop();
    throw err;
  }
  return t;
}

/**
 * Starts a target; resolves with {name, label, kind, baseUrl, rootPid, stop()}.
 * `env` = {root, work, secret, bundleDir, config, logDir}.
 */
export async function startTarget(name, env) {
  const { root, work, secret, bundleDir, config, logDir, inspectorPort } = env;
  const logFile = path.join(logDir, `${name}.log`);
  const baseEnv = { ...process.env, WRANGLER_SEND_METRICS: "false" };
  // `env.reuse` = {port, persistDir}: a restart on the same address and local state (Miniflare only).
  const reuse = env.reuse;
  const port = reuse?.port ?? (await freePort());

  if (name === "socketio") {
    const child = spawnTarget([process.execPath, path.join(root, "bench/baseline-socketio/server.mjs")], {
      cwd: root,
      env: { ...baseEnv, PORT: String(port), HOST: "127.0.0.1", JWT_SECRET: secret, NODE_ENV: "production" },
      logFile,
    });
    return untilHealthy(handle(name, child, `http://127.0.0.1:${port}`, logFile), child, 30_000);
  }

  if (name === "miniflare") {
    const persistDir = reuse?.persistDir ?? fs.mkdtempSync(path.join(work, "mf-state-"));
    const readyFile = path.join(persistDir, "..", `${path.basename(persistDir)}.ready`);
    fs.rmSync(readyFile, { force: true });
    const spec = {
      bundleDir,
      persistDir,
      migrationsDir: path.join(root, "migrations"),
      port,
      readyFile,
      config,
      bindings: benchVars(secret),
      // The API budget per caller, raised for the bench (wrangler.toml keeps 600/min).
      rateLimit: 1_000_000_000,
      // bench/profile.mjs: workerd's V8 inspector, to CPU-profile each isolate.
      ...(inspectorPort && { inspectorPort }),
      ...(reuse && { migrated: true }),
    };
    const specFile = path.join(work, `mf-spec-${port}.json`);
    fs.writeFileSync(specFile, JSON.stringify(spec));
    const child = spawnTarget([process.execPath, path.join(root, "bench/targets/miniflare-server.mjs"), specFile], { cwd: root, env: baseEnv, logFile });
    const t = handle(name, child, `http://127.0.0.1:${port}`, logFile);
    // Stops this process tree and starts a new one on the same port and persist dir (the storm scenario).
    t.restartSameState = async () => {
      await t.stop();
      return startTarget(name, { ...env, reuse: { port, persistDir } });
    };
    return untilHealthy(t, child, 30_000, async () => {
      const ready = await waitFile(readyFile, 90_000, child);
      t.baseUrl = ready.url.replace(/\/$/, "");
    });
  }

  if (name === "minimal") {
    const persistDir = fs.mkdtempSync(path.join(work, "min-state-"));
    const readyFile = `${persistDir}.ready`;
    const spec = { persistDir, port, readyFile, config, bindings: { JWT_SECRET: secret } };
    const specFile = path.join(work, `min-spec-${port}.json`);
    fs.writeFileSync(specFile, JSON.stringify(spec));
    const child = spawnTarget([process.execPath, path.join(root, "bench/targets/minimal/server.mjs"), specFile], { cwd: root, env: baseEnv, logFile });
    const t = handle(name, child, `http://127.0.0.1:${port}`, logFile);
    return untilHealthy(t, child, 30_000, async () => {
      const ready = await waitFile(readyFile, 90_000, child);
      t.baseUrl = ready.url.replace(/\/$/, "");
    });
  }

  if (name === "wrangler") {
    const wrangler = path.join(root, "node_modules/wrangler/bin/wrangler.js");
    const persistDir = fs.mkdtempSync(path.join(work, "wd-state-"));
    for (const binding of d1Bindings(path.join(root, "wrangler.toml"))) {
      const mig = spawnSync(process.execPath, [wrangler, "d1", "migrations", "apply", binding, "--local", "--persist-to", persistDir], {
        cwd: root,
        env: { ...baseEnv, CI: "true" },
        encoding: "utf8",
        timeout: 180_000,
      });
      fs.appendFileSync(logFile, `${mig.stdout ?? ""}${mig.stderr ?? ""}`);
      if (mig.status !== 0) throw new Error(`wrangler d1 migrations apply ${binding} failed (exit ${mig.status}); see ${logFile}`);
    }
    const inspectorPort = await freePort();
    const vars = Object.entries(benchVars(secret)).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
    const child = spawnTarget(
      [
        process.execPath,
        wrangler,
        "dev",
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        "--inspector-port",
        String(inspectorPort),
        "--persist-to",
        persistDir,
        "--log-level",
        "warn",
        "--show-interactive-dev-session=false",
        ...vars,
      ],
      { cwd: root, env: baseEnv, logFile },
    );
    return untilHealthy(handle(name, child, `http://127.0.0.1:${port}`, logFile), child, 120_000);
  }
  throw new Error(`unknown target ${name}`);
}
