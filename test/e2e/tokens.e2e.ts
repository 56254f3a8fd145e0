// Short-lived tokens: the socket is closed with 4001 at the token's exp, the
// SDK gets a new token from the token function and resumes, and no ticket is
// ever presented twice (tickets issued are counted at fetch, tickets
// presented at the proxy).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, eventually } from "./harness/api";
import { connectClient, ticketsPresented, type TestClient } from "./harness/clients";
import { startProxy, type Proxy } from "./harness/proxy";
import { startServer, type Server } from "./harness/server";
import { mintToken, uid } from "./harness/tokens";

let server: Server;
let proxy: Proxy;
const clients: TestClient[] = [];
const proxies: Proxy[] = [];

beforeAll(async () => {
  server = await startServer({ name: "tokens" });
  proxy = await startProxy(server.port);
});
afterAll(async () => {
  for (const c of clients) c.herald.close();
  await proxy?.close();
  for (const p of proxies) await p.close();
  await server?.stop();
});

describe("tokens", () => {
  it("an expiring token is refreshed through the token function; no ticket is presented twice", async () => {
    const org = uid("org");
    const userId = uid("u");
    let issued = 0;
    // Each token lives 4 s: the socket outlives several of them.
    const tokenFn = () => {
      issued++;
      return mintToken({ sub: userId, org, role: "agent", ttl: 4 });
    };
    const c = connectClient(proxy.url, tokenFn, { pollAfterFailures: 0 });
    clients.push(c);
    await eventually("open", () => c.herald.status === "open");
    const producer = api(server.url, await mintToken({ sub: uid("svc"), org, role: "service" }));

    let n = 0;
    // Keep publishing across at least two expiries (the third token in use).
    while (issued < 3 || n < 10) {
      await producer.call("POST", "/api/v1/realtime/broadcast", { event: "deal:won", data: { n: n++ }, target: { userIds: [userId] } });
      await new Promise((r) => setTimeout(r, 500));
      if (n > 200) throw new Error(`the token function was called ${issued} times in ${n} publishes`);
    }
    await eventually("every event", () => c.events.filter((e) => e.name === "deal:won").length >= n, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(c.events.filter((e) => e.name === "deal:won").map((e) => (e.data as { n: number }).n)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(c.errors).toEqual([]);
    expect(c.herald.status).toBe("open");

    const presented = ticketsPresented(proxy.log.filter((r) => r.upgrade).map((r) => r.target));
    expect(presented.length).toBeGreaterThanOrEqual(3);
    expect(new Set(presented).size).toBe(presented.length);
    // Every ticket presented was issued to this client, and no upgrade went without one.
    for (const t of presented) expect(c.tickets).toContain(t);
    expect(proxy.log.filter((r) => r.upgrade && !/[?&]ticket=/.test(r.target))).toEqual([]);
    expect(proxy.log.some((r) => /[?&]token=/.test(r.target))).toBe(false);
    c.herald.close();
  });

  it('a Node service with auth: "header" sends the token on the upgrade, never in a URL, and refreshes it across expiries and drops', async () => {
    const org = uid("org");
    const userId = uid("u");
    let issued = 0;
    const tokenFn = () => {
      issued++;
      return mintToken({ sub: userId, org, role: "agent", ttl: 4 });
    };
    // A proxy of its own: its log holds this client's upgrades only.
    const own = await startProxy(server.port);
    proxies.push(own);
    const c = connectClient(own.url, tokenFn, { auth: "header", pollAfterFailures: 0 });
    clients.push(c);
    await eventually("open", () => c.herald.status === "open");
    const producer = api(server.url, await mintToken({ sub: uid("svc"), org, role: "service" }));

    let n = 0;
    while (issued < 3 || n < 10) {
      if (n === 3 || n === 7) own.dropAll();
      await producer.call("POST", "/api/v1/realtime/broadcast", { event: "deal:won", data: { n: n++ }, target: { userIds: [userId] } });
      await new Promise((r) => setTimeout(r, 500));
      if (n > 200) throw new Error(`the token function was called ${issued} times in ${n} publishes`);
    }
    await eventually("every event", () => c.events.filter((e) => e.name === "deal:won").length >= n, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(c.events.filter((e) => e.name === "deal:won").map((e) => (e.data as { n: number }).n)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(c.errors).toEqual([]);
    expect(c.tickets).toEqual([]);
    const upgrades = own.log.filter((r) => r.upgrade);
    expect(upgrades.length).toBeGreaterThanOrEqual(3);
    for (const u of upgrades) expect(u.target).not.toMatch(/[?&](ticket|token)=/);
  });
});
