// The harness itself, with a bare `ws` client: the server answers through the
// proxy, the proxy drops and refuses upgrades, and a restart keeps the state.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { api, eventually } from "./harness/api";
import { startProxy, type Proxy } from "./harness/proxy";
import { startServer, type Server } from "./harness/server";
import { mintToken, uid } from "./harness/tokens";

let server: Server;
let proxy: Proxy;

beforeAll(async () => {
  server = await startServer({ name: "harness" });
  proxy = await startProxy(server.port);
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});

function open(url: string): Promise<{ ws: WebSocket; frames: any[]; closed: Promise<number> }> {
  const ws = new WebSocket(url);
  const frames: any[] = [];
  ws.on("message", (d) => frames.push(JSON.parse(String(d))));
  const closed = new Promise<number>((r) => ws.on("close", (code) => r(code)));
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve({ ws, frames, closed }));
    ws.once("error", reject);
  });
}

describe("harness", () => {
  it("an upgrade through the proxy gets connected; a drop closes it; refused upgrades get 503 until allowed again", async () => {
    const org = uid("org");
    const token = await mintToken({ sub: uid("u"), org, role: "agent" });
    const wsUrl = `${proxy.url.replace("http", "ws")}/api/v1/ws?token=${token}`;
    const a = await open(wsUrl);
    await eventually("connected", () => a.frames.find((f) => f.type === "connected"));
    proxy.dropAll();
    expect(await a.closed).toBe(1006);

    proxy.refuseUpgrades(true);
    await expect(open(wsUrl)).rejects.toThrow(/503/);
    expect(proxy.log.at(-1)).toMatchObject({ upgrade: true, refused: true });
    // Plain HTTP still passes while upgrades are refused.
    const res = await fetch(`${proxy.url}/health`);
    expect(res.status).toBe(200);
    proxy.refuseUpgrades(false);
    const b = await open(wsUrl);
    await eventually("connected again", () => b.frames.find((f) => f.type === "connected"));
    b.ws.close();
  });

  it("a killed server restarts on the same state: the user stream resumes after its seq", async () => {
    const org = uid("org");
    const user = uid("u");
    const token = await mintToken({ sub: user, org, role: "agent" });
    const admin = api(proxy.url, await mintToken({ sub: uid("admin"), org, role: "admin" }));
    const sent = await admin.call<{ userSeqs: Record<string, number> }>("POST", "/api/v1/realtime/broadcast", { event: "deal:won", data: { n: 1 }, target: { userIds: [user] } });
    const seq = sent.userSeqs[user]!;
    expect(seq).toBeGreaterThan(0);

    await server.kill();
    await server.start();
    await admin.call("POST", "/api/v1/realtime/broadcast", { event: "deal:won", data: { n: 2 }, target: { userIds: [user] } });
    const c = await open(`${proxy.url.replace("http", "ws")}/api/v1/ws?token=${token}&since=${seq}`);
    const connected = await eventually("connected", () => c.frames.find((f) => f.type === "connected"));
    expect(connected).toMatchObject({ resumed: true, replayed: 1, seq: seq + 1 });
    expect(c.frames.filter((f) => f.type === "deal:won").map((f) => f.data.n)).toEqual([2]);
    c.ws.close();
  });
});
