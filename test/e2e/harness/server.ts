// The real Worker under `wrangler dev` on a loopback port, its state in a
// temp dir, in its own process group so a stop (or a crashed test) takes
// wrangler's workerd children with it.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (test/e2e/harness → ../../..). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const WRANGLER = path.join(ROOT, "node_modules/wrangler/bin/wrangler.js");

/** The JWT secret every e2e server is started with (tokens.ts signs with it). */
export const TEST_SECRET = "e2e-secret-e2e-secret-e2e-secret-0123456";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Where the global setup put the migrated template state and the pid registry. */
export function runDir(): string {
  const dir = process.env.HERALD_E2E_DIR;
  if (!dir) throw new Error("HERALD_E2E_DIR is not set: run the e2e tests with vitest.e2e.config.ts");
  return dir;
}

/** Records a process group so the global teardown can stop it if a test could not. */
function register(pid: number) {
  fs.appendFileSync(path.join(runDir(), "pids"), `${pid}\n`);
}

/** Sends a signal to a whole process group; false when it is gone. */
export function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface ServerOptions {
  /** Vars over wrangler.toml's (on top of the e2e defaults below). */
  vars?: Record<string, string>;
  /** Label for the log file name. */
  name?: string;
}

/** A running (or stopped) `wrangler dev`: the same port and state across restarts. */
export interface Server {
  readonly url: string;
  readonly port: number;
  readonly persistDir: string;
  readonly logFile: string;
  /** Starts (again) on the same port and state; resolves when /health answers. */
  start(): Promise<void>;
  /** SIGKILLs the whole process group: the server dies as a crash or a deploy would end it. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>;
}

const E2E_VARS: Record<string, string> = {
  ENVIRONMENT: "development",
  ALLOWED_ORIGINS: "*",
  CORS_ORIGINS: "*",
  JWT_SECRET: TEST_SECRET,
};

/** Polls /health until it answers 200, or throws after `timeoutMs` (or when the process died). */
async function waitHealthy(url: string, timeoutMs: number, alive: () => boolean, logFile: string) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`wrangler dev exited before ${url} was healthy; log: ${tail(logFile)}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`${url}/health not ready after ${timeoutMs} ms (${last}); log: ${tail(logFile)}`);
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").slice(-2000);
  } catch {
    return "(no log)";
  }
}

/**
 * Creates a server over a fresh copy of the migrated template state and
 * starts it. `wrangler dev` is spawned directly (no shell) as the leader of
 * its own process group.
 */
export async function startServer(options: ServerOptions = {}): Promise<Server> {
  const dir = runDir();
  const persistDir = fs.mkdtempSync(path.join(dir, `state-${options.name ?? "server"}-`));
  fs.cpSync(path.join(dir, "template-state"), persistDir, { recursive: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = `${persistDir}.log`;
  const vars = { ...E2E_VARS, ...options.vars };
  let child: ChildProcess | undefined;
  let exited = true;

  const server: Server = {
    url,
    port,
    persistDir,
    logFile,
    async start() {
      if (!exited) throw new Error("server already running");
      const inspectorPort = await freePort();
      const out = fs.openSync(logFile, "a");
      const args = [
        WRANGLER,
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
        ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      ];
      child = spawn(process.execPath, args, {
        cwd: ROOT,
        // wrangler's [build] rebuilds the dashboard on start when its inputs changed:
        // in development mode, so the dev-token sign-in the dashboard tests use exists.
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1", HERALD_DASHBOARD_MODE: "development" },
        stdio: ["ignore", out, out],
        detached: true,
      });
      fs.closeSync(out);
      exited = false;
      child.once("exit", () => {
        exited = true;
      });
      register(child.pid!);
      try {
        await waitHealthy(url, 120_000, () => !exited, logFile);
      } catch (err) {
        await server.kill();
        throw err;
      }
    },
    async kill() {
      const pid = child?.pid;
      if (!pid) return;
      killGroup(pid, "SIGKILL");
      await waitGone(pid, 10_000);
    },
    async stop() {
      const pid = child?.pid;
      if (!pid) return;
      if (killGroup(pid, "SIGTERM") && !(await waitGone(pid, 5_000))) {
        killGroup(pid, "SIGKILL");
        await waitGone(pid, 10_000);
      }
    },
  };
  await server.start();
  return server;
}

/** Waits until the process group has no member left (and its port is free again). */
async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!groupAlive(pid)) return true;
    await sleep(50);
  }
  return !groupAlive(pid);
}
