// Process plumbing for the harness: spawning pinned targets with a raised
// fd limit, reading CPU time and RSS of a whole process tree from /proc,
// waiting for a port, and stopping a tree by its pids (never by name).
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";

/** Clock ticks per second of /proc/<pid>/stat times (almost always 100 on Linux). */
const CLK_TCK = (() => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();
const PAGE_SIZE = 4096;

export const hasProc = fs.existsSync("/proc/self/stat");
export const hasTaskset = spawnSync("sh", ["-c", "command -v taskset"], { encoding: "utf8" }).status === 0;
/** Online cores of the machine (not this process's affinity mask: the harness re-executes itself pinned). */
export const cpuCount = os.cpus().length;

/**
 * Core assignment: the load generator on core 0, every target on the last
 * core, when there are at least two cores and taskset exists.
 */
export const pinning = hasTaskset && cpuCount >= 2 ? { client: "0", server: String(cpuCount - 1) } : null;

/** A shell prefix that raises the soft fd limit as far as the hard limit allows. */
export const ULIMIT = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true';

const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/**
 * Spawns `argv` through `sh -c` with the raised fd limit, pinned to the
 * server core when possible, in its own process group. stdout/stderr go to
 * `logFile` (append). Returns the ChildProcess.
 */
export function spawnTarget(argv, { cwd, env, logFile }) {
  const pin = pinning ? `taskset -c ${pinning.server} ` : "";
  const cmd = `${ULIMIT}; exec ${pin}${argv.map(shq).join(" ")}`;
  const out = fs.openSync(logFile, "a");
  const child = spawn("sh", ["-c", cmd], { cwd, env, stdio: ["ignore", out, out], detached: true });
  fs.closeSync(out);
  return child;
}

function readStat(pid) {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm may contain spaces and parentheses: split after the last ')'.
    const end = raw.lastIndexOf(")");
    const comm = raw.slice(raw.indexOf("(") + 1, end);
    const f = raw.slice(end + 2).split(" ");
    // f[0] = state (field 3); utime = field 14, stime = 15, rss = 24 (pages).
    return { pid, comm, ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), rssPages: Number(f[21]) };
  } catch {
    return null;
  }
}

/** Every live process of the tree rooted at `rootPid` (root included). */
export function processTree(rootPid) {
  if (!hasProc) return [];
  const all = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) all.push(s);
  }
  const byParent = new Map();
  for (const s of all) {
    if (!byParent.has(s.ppid)) byParent.set(s.ppid, []);
    byParent.get(s.ppid).push(s);
  }
  const root = all.find((s) => s.pid === rootPid);
  if (!root) return [];
  const out = [];
  const stack = [root];
  while (stack.length) {
    const s = stack.pop();
    out.push(s);
    for (const c of byParent.get(s.pid) ?? []) stack.push(c);
  }
  return out;
}

/** RSS in bytes from /proc/<pid>/status (VmRSS), falling back to stat's page count. */
function rssBytes(s) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${s.pid}/status`, "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // gone
  }
  return s.rssPages * PAGE_SIZE;
}

/**
 * A sample of a process tree: CPU seconds used so far (user+system, every
 * process), RSS summed over the tree, and per-process detail.
 */
export function sampleTree(rootPid) {
  const procs = processTree(rootPid);
  let cpu = 0;
  let rss = 0;
  const detail = [];
  for (const s of procs) {
    const c = (s.utime + s.stime) / CLK_TCK;
    const r = rssBytes(s);
    cpu += c;
    rss += r;
    detail.push({ pid: s.pid, comm: s.comm, cpuS: c, rssBytes: r });
  }
  return { at: Date.now(), cpuS: cpu, rssBytes: rss, procs: detail };
}

/** Client CPU (this process) in seconds. */
export function clientCpuS() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Stops every process of a tree: SIGTERM, then SIGKILL after `graceMs`. Only the pids of this tree. */
export async function killTree(rootPid, graceMs = 3000) {
  const pids = processTree(rootPid).map((s) => s.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (pids.every((pid) => !fs.existsSync(`/proc/${pid}`) || readStat(pid)?.comm === undefined)) return;
    await sleep(100);
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on loopback. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 2xx, or throws after `timeoutMs`. */
export async function waitHttp(url, timeoutMs, isAlive = () => true) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`the process serving ${url} exited`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) {
        await res.arrayBuffer();
        return;
      }
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.message;
    }
    await sleep(200);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last})`);
}

/** The affinity list of a pid, e.g. "1" (taskset -pc), or null. */
export function affinityOf(pid) {
  if (!hasTaskset) return null;
  const r = spawnSync("taskset", ["-pc", String(pid)], { encoding: "utf8" });
  return /:\s*(\S+)\s*$/.exec(r.stdout?.trim() ?? "")?.[1] ?? null;
}

/**
 * The machine check: CPU time of a fixed piece of work (a SHA-256 chain and
 * short-lived objects for the garbage collector) in a fresh Node process on
 * the server core, in ms. The work never changes, so on a quiet machine the
 * figure does not either; when it rises, whatever was measured around it
 * ran on a slower machine (a busy neighbour on the shared host), not on a
 * slower build. Null where it cannot run.
 */
export function machineCheck() {
  const work = `
    const crypto = require("node:crypto");
    const t0 = process.cpuUsage();
    let h = Buffer.alloc(32);
    for (let i = 0; i < 60000; i++) h = crypto.createHash("sha256").update(h).digest();
    let keep = [];
    for (let i = 0; i < 600000; i++) { keep.push({ i, s: "x" + i }); if (keep.length > 50000) keep = []; }
    const u = process.cpuUsage(t0);
    process.stdout.write(String((u.user + u.system) / 1000));`;
  const argv = pinning ? ["taskset", "-c", pinning.server, process.execPath, "-e", work] : [process.execPath, "-e", work];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 30_000 });
  const ms = Number(r.stdout?.trim());
  return r.status === 0 && Number.isFinite(ms) && ms > 0 ? ms : null;
}
