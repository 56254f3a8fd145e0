// With WebSocket upgrades refused on the way (a proxy that answers them 503,
// as some corporate proxies do), the SDK polls GET /api/v1/events and the app
// gets the same events; when upgrades work again it goes back to sockets.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, eventually } from "./harness/api";
import { connectClient, type TestClient } from "./harness/clients";
import { startProxy, type Proxy } from "./harness/proxy";
import { startServer, type Server } from "./harness/server";
import { mintToken, uid } from "./harness/tokens";

let server: Server;
let proxy: Proxy;
const clients: TestClient[] = [];

beforeAll(async () => {
  server = await startServer({ name: "fallback" });
  proxy = await startProxy(server.port);
});
afterAll(async () => {
  for (const c of clients) c.herald.close();
  await proxy?.close();
  await server?.stop();
});

const deals = (c: TestClient) => c.events.filter((e) => e.name === "deal:won");

describe("polling fallback", () => {
  it("upgrades refused: polling delivers the same events; upgrades allowed again: back to sockets, nothing lost or repeated", async () => {
    const org = uid("org");
    const userId = uid("u");
    const producer = api(server.url, await mintToken({ sub: uid("svc"), org, role: "service" }));
    const publish = async (from: number, to: number) => {
      for (let n = from; n < to; n++) {
        await producer.call("POST", "/api/v1/realtime/broadcast", { event: "deal:won", data: { n }, target: { userIds: [userId] } });
      }
    };

    proxy.refuseUpgrades(true);
    const c = connectClient(proxy.url, () => mintToken({ sub: userId, org, role: "agent" }), {
      pollAfterFailures: 2,
      polling: { minMs: 500, maxMs: 2000 },
    });
    clients.push(c);
    await eventually("polling", () => c.herald.status === "polling", 60_000);
    await publish(0, 5);
    await eventually("the polled events", () => deals(c).length >= 5, 60_000);
    expect(deals(c).every((e) => e.meta.polled === true)).toBe(true);
    expect(proxy.log.some((r) => r.method === "GET" && r.target.startsWith("/api/v1/events"))).toBe(true);

    proxy.refuseUpgrades(false);
    await eventually("back on sockets", () => c.herald.status === "open", 60_000);
    await publish(5, 10);
    await eventually("the live events", () => deals(c).length >= 10, 60_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(deals(c).map((e) => (e.data as { n: number }).n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(deals(c).slice(5).every((e) => e.meta.polled !== true)).toBe(true);
    expect(c.statuses).toEqual(["polling", "open"]);
  });
});
