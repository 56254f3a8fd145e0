// Exact resume over real sockets: a proxy drops the connection while events
// are published, and the server process is killed and restarted on the same
// state; the app sees every event once, in order.
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
  server = await startServer({ name: "resume" });
  proxy = await startProxy(server.port);
});
afterAll(async () => {
  for (const c of clients) c.herald.close();
  await proxy?.close();
  await server?.stop();
});

const numbers = (c: TestClient, name: string) => c.events.filter((e) => e.name === name).map((e) => (e.data as { n: number }).n);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe("resume", () => {
  it("the proxy drops the connection while 50 events are published: every event arrives once, in order", async () => {
    const org = uid("org");
    const userId = uid("u");
    // The app's second device too: both hold the stream and both must see everything once.
    const a = connectClient(proxy.url, () => mintToken({ sub: userId, org, role: "agent" }));
    const b = connectClient(proxy.url, () => mintToken({ sub: userId, org, role: "agent" }));
    clients.push(a, b);
    await eventually("both sockets open", () => a.herald.status === "open" && b.herald.status === "open");
    // The producer talks to the server directly: only the clients' connections go through the proxy.
    const producer = api(server.url, await mintToken({ sub: uid("svc"), org, role: "service" }));

    const drops = new Set([5, 17, 18, 30, 44]);
    for (let n = 0; n < 50; n++) {
      if (drops.has(n)) proxy.dropAll();
      await producer.call("POST", "/api/v1/realtime/broadcast", { event: "deal:won", data: { n }, target: { userIds: [userId] } });
    }
    for (const c of [a, b]) {
      await eventually("all 50 events", () => numbers(c, "deal:won").length >= 50, 60_000);
    }
    // Time for any late duplicate (a replay overlapping a live frame) to show.
    await new Promise((r) => setTimeout(r, 1000));
    for (const c of [a, b]) {
      expect(numbers(c, "deal:won")).toEqual(range(0, 50));
      const ids = c.events.filter((e) => e.name === "deal:won").map((e) => e.meta.id);
      expect(new Set(ids).size).toBe(50);
      const seqs = c.events.filter((e) => e.name === "deal:won").map((e) => e.meta.seq!);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(c.statuses.filter((s) => s === "open").length).toBeGreaterThan(1);
    }
  });

  it("the server is killed and restarted on the same state: clients resume with nothing lost", async () => {
    const org = uid("org");
    const userId = uid("u");
    const user = connectClient(proxy.url, () => mintToken({ sub: userId, org, role: "agent" }), { pollAfterFailures: 0 });
    const admin = connectClient(proxy.url, () => mintToken({ sub: uid("admin"), org, role: "admin" }), { pollAfterFailures: 0 });
    clients.push(user, admin);
    await admin.herald.subscribe("kpi");
    await eventually("sockets open", () => user.herald.status === "open" && admin.herald.status === "open");
    const producer = api(server.url, await mintToken({ sub: uid("svc"), org, role: "service" }));
    const publish = async (from: number, to: number) => {
      for (let n = from; n < to; n++) {
        await producer.call("POST", "/api/v1/realtime/broadcast", { event: "deal:won", data: { n }, target: { userIds: [userId] } });
        await producer.call("POST", "/api/v1/realtime/broadcast", { event: "kpi:updated", data: { n }, target: { channel: "kpi" } });
      }
    };
    await publish(0, 5);
    await eventually("the first events", () => numbers(user, "deal:won").length === 5 && numbers(admin, "kpi:updated").length === 5);

    // Upgrades are refused until the server has the next events, so these are missed and must come from the replay.
    proxy.refuseUpgrades(true);
    await server.kill();
    await eventually("clients noticed the drop", () => user.herald.status === "connecting" && admin.herald.status === "connecting", 30_000);
    await server.start();
    await publish(5, 12);
    proxy.refuseUpgrades(false);

    await eventually("every event after the restart", () => numbers(user, "deal:won").length >= 12 && numbers(admin, "kpi:updated").length >= 12, 90_000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(numbers(user, "deal:won")).toEqual(range(0, 12));
    expect(numbers(admin, "kpi:updated")).toEqual(range(0, 12));
    expect(user.herald.status).toBe("open");
    expect(user.errors).toEqual([]);
  });
});
