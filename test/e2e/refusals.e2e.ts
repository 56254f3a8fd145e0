// Refusals as a client meets them: a browser Origin outside ALLOWED_ORIGINS
// (4403) stops the client and says why; the per-user connection limit (4429)
// makes it wait the time the server names, then it gets in.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { eventually } from "./harness/api";
import { connectClient, wsWithOrigin, type TestClient } from "./harness/clients";
import { startProxy, type Proxy } from "./harness/proxy";
import { startServer, sleep, type Server } from "./harness/server";
import { mintToken, uid } from "./harness/tokens";

let server: Server;
let proxy: Proxy;
const clients: TestClient[] = [];
const sockets: WebSocket[] = [];

beforeAll(async () => {
  server = await startServer({
    name: "refusals",
    vars: { ALLOWED_ORIGINS: "https://app.example.com", CORS_ORIGINS: "https://app.example.com", MAX_CONNECTIONS_PER_USER: "2" },
  });
  proxy = await startProxy(server.port);
});
afterAll(async () => {
  for (const c of clients) c.herald.close();
  for (const ws of sockets) ws.terminate();
  await proxy?.close();
  await server?.stop();
});

const upgrades = () => proxy.log.filter((r) => r.upgrade);

describe("refusals", () => {
  it("4403: an Origin outside ALLOWED_ORIGINS stops the client and reports why; it does not retry", async () => {
    const org = uid("org");
    const before = upgrades().length;
    const c = connectClient(proxy.url, () => mintToken({ sub: uid("u"), org, role: "agent" }), { WebSocket: wsWithOrigin("https://evil.example.net") });
    clients.push(c);
    await eventually("the client stops", () => c.herald.status === "closed");
    expect(c.errors).toHaveLength(1);
    expect(c.errors[0]).toMatchObject({ code: "ORIGIN_NOT_ALLOWED", status: 4403 });
    expect(c.tickets).toHaveLength(1);
    // Well past several backoff delays: still the one attempt.
    await sleep(5000);
    expect(upgrades().length - before).toBe(1);
    expect(c.herald.active).toBe(false);
  });

  it("an allowed Origin connects", async () => {
    const c = connectClient(proxy.url, () => mintToken({ sub: uid("u"), org: uid("org"), role: "agent" }), { WebSocket: wsWithOrigin("https://app.example.com") });
    clients.push(c);
    await eventually("open", () => c.herald.status === "open");
  });

  it("4429: over the per-user connection limit the client waits the retryAfter it is given, then connects", async () => {
    const org = uid("org");
    const userId = uid("u");
    const token = await mintToken({ sub: userId, org, role: "agent" });
    // Two other devices hold the user's two allowed sockets.
    for (let i = 0; i < 2; i++) {
      const ws = new WebSocket(`${server.url.replace("http", "ws")}/api/v1/ws`, { headers: { authorization: `Bearer ${token}` } });
      sockets.push(ws);
      await new Promise<void>((resolve, reject) => {
        ws.on("message", (d) => JSON.parse(String(d)).type === "connected" && resolve());
        ws.on("error", reject);
      });
    }
    const before = upgrades().length;
    const c = connectClient(proxy.url, () => mintToken({ sub: userId, org, role: "agent" }), { pollAfterFailures: 0 });
    clients.push(c);
    const refusedAt = await eventually("the first dial", () => (upgrades().length > before ? Date.now() : 0), 30_000, 20);
    // While the limit holds, the client does not hammer: one more dial at most after the named 10 s.
    const other = sockets.shift()!;
    await sleep(3000);
    expect(upgrades().length - before).toBe(1);
    expect(c.herald.status).toBe("connecting");
    other.close();
    await eventually("open after the wait", () => c.herald.status === "open", 60_000);
    const waited = Date.now() - refusedAt;
    // CONNECTION_LIMIT names retryAfter 10 (docs/PROTOCOL.md): the next dial came no sooner.
    expect(waited).toBeGreaterThanOrEqual(9_000);
    expect(upgrades().length - before).toBe(2);
    expect(c.errors).toEqual([]);
  });
});
