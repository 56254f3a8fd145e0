import { afterEach, beforeEach, expect, it } from "vitest";
import WebSocket from "ws";
import { createHerald } from "../src/index";
import { eventually, FakeHerald } from "./fake-server";

let server: FakeHerald;
beforeEach(async () => {
  server = await new FakeHerald().start();
});
afterEach(async () => {
  await server.stop();
});

/** Node's live handles by kind (timers, sockets): what keeps a process alive. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

it("close() leaves Node no timer or socket of the client's (both streams, heartbeat, a reconnect wait, polling)", async () => {
  await new Promise((r) => setTimeout(r, 50));
  const before = handles();
  const h = createHerald({
    url: server.url,
    token: "t1",
    WebSocket,
    heartbeatMs: 100,
    backoff: { minDelayMs: 2000, maxDelayMs: 2000 },
    random: () => 0.99,
  });
  await eventually(() => h.status === "open");
  await h.subscribe("kpi");
  await eventually(() => server.received.some((r) => r.frame === "PING"));
  // Drop only the org socket: its reconnect now waits ~2 s on a timer.
  for (const c of server.conns) if (c.stream === "org") c.ws.terminate();
  await new Promise((r) => setTimeout(r, 100));
  const during = handles();
  expect(during.Timeout ?? 0).toBeGreaterThan(before.Timeout ?? 0);
  h.close();
  await eventually(() => server.openCount() === 0, 5000, "sockets closed");
  await eventually(() => (handles().Timeout ?? 0) <= (before.Timeout ?? 0), 5000, "timers gone");
  // fetch's idle keep-alive connection to the ticket endpoint is the runtime's pool (unref'd, it does not keep Node alive): close it server-side.
  server.server.closeIdleConnections();
  await eventually(() => (handles().TCPSocketWrap ?? 0) <= (before.TCPSocketWrap ?? 0), 5000, "sockets gone");
  const after = handles();
  expect(after.Timeout ?? 0).toBeLessThanOrEqual(before.Timeout ?? 0);
  expect(h.active).toBe(false);
});

it("close() while polling leaves no timer", async () => {
  await new Promise((r) => setTimeout(r, 50));
  const before = handles();
  const h = createHerald({ url: server.url, token: "t1", WebSocket: null, polling: { minMs: 5000, maxMs: 60000 } });
  expect(h.status).toBe("polling");
  await eventually(() => server.polled.length >= 1);
  h.close();
  await eventually(() => (handles().Timeout ?? 0) <= (before.Timeout ?? 0), 5000, "timers gone");
  expect(h.status).toBe("closed");
});

it("a Node process that closes its client exits by itself (nothing keeps it alive)", async () => {
  const { build } = await import("esbuild");
  const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { spawn } = await import("node:child_process");
  const { createRequire } = await import("node:module");
  const dir = mkdtempSync(join(tmpdir(), "herald-sdk-exit-"));
  try {
    await build({
      entryPoints: [new URL("../src/index.ts", import.meta.url).pathname],
      bundle: true,
      platform: "node",
      format: "esm",
      outfile: join(dir, "herald.mjs"),
      logLevel: "silent",
    });
    const wsPath = createRequire(import.meta.url).resolve("ws");
    writeFileSync(
      join(dir, "child.mjs"),
      `import { createHerald } from "./herald.mjs";
import { createRequire } from "node:module";
const WebSocket = createRequire(import.meta.url)(${JSON.stringify(wsPath)});
const h = createHerald({ url: process.argv[2], token: "t1", WebSocket, heartbeatMs: 50 });
await new Promise((resolve) => h.on("status", (s) => s === "open" && resolve()));
await h.subscribe("kpi");
await h.inbox.refreshCounts();
h.close();
console.log("closed " + Date.now());
`,
    );
    const child = spawn(process.execPath, [join(dir, "child.mjs"), server.url], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => {
      const kill = setTimeout(() => {
        child.kill("SIGKILL");
        resolve(-1);
      }, 20_000);
      child.on("exit", (c) => {
        clearTimeout(kill);
        resolve(c);
      });
    });
    const closedAt = Number(/closed (\d+)/.exec(out)?.[1]);
    expect(err).toBe("");
    expect(code).toBe(0);
    // Exited on its own soon after close(): no socket, timer or retry kept the event loop alive.
    expect(Date.now() - closedAt).toBeLessThan(15_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
