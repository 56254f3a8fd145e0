// The harness itself, with a bare `ws` client: the server answers through the
// proxy, and the proxy drops connections and refuses upgrades (plain HTTP passes).
// A restart on the same state is checked with the SDK in resume.e2e.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { eventually } from "./harness/api";
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
});
