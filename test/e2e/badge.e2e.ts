// The inbox badge on two devices of one user stays equal to the REST counts:
// notifications while one device is offline, a read on one device, read-all
// on the other.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, eventually } from "./harness/api";
import { connectClient, type TestClient } from "./harness/clients";
import { startProxy, type Proxy } from "./harness/proxy";
import { startServer, type Server } from "./harness/server";
import { mintToken, uid } from "./harness/tokens";

let server: Server;
let proxyA: Proxy;
let proxyB: Proxy;
const clients: TestClient[] = [];

beforeAll(async () => {
  server = await startServer({ name: "badge" });
  proxyA = await startProxy(server.port);
  proxyB = await startProxy(server.port);
});
afterAll(async () => {
  for (const c of clients) c.herald.close();
  await proxyA?.close();
  await proxyB?.close();
  await server?.stop();
});

describe("badge", () => {
  it("two devices' badges equal the REST counts through notify-while-offline, read on one, read-all on the other", async () => {
    const org = uid("org");
    const userId = uid("u");
    const userApi = api(server.url, await mintToken({ sub: userId, org, role: "agent" }));
    const admin = api(server.url, await mintToken({ sub: uid("admin"), org, role: "admin" }));
    const notify = (title: string) =>
      admin.call<{ notifications?: { id: string }[] }>("POST", "/api/v1/notifications", { userIds: [userId], type: "task", title, channels: ["in_app", "realtime"] });
    const restUnread = async () => (await userApi.call<{ unread: number }>("GET", "/api/v1/notifications/counts")).unread;
    const token = () => mintToken({ sub: userId, org, role: "agent" });
    const a = connectClient(proxyA.url, token, { pollAfterFailures: 0 });
    const b = connectClient(proxyB.url, token, { pollAfterFailures: 0 });
    clients.push(a, b);
    const badgesEqualRest = async () => {
      const rest = await restUnread();
      return a.herald.inbox.unreadCount === rest && b.herald.inbox.unreadCount === rest ? rest : false;
    };

    await eventually("both open", () => a.herald.status === "open" && b.herald.status === "open");
    await notify("first");
    expect(await eventually("badges = REST = 1", async () => (await badgesEqualRest()) === 1)).toBe(true);

    // Device B goes offline (its network drops and stays down) while three more arrive.
    proxyB.refuseUpgrades(true);
    proxyB.dropAll();
    await eventually("B offline", () => b.herald.status === "connecting");
    for (const t of ["second", "third", "fourth"]) await notify(t);
    await eventually("A's badge follows", async () => a.herald.inbox.unreadCount === 4 && (await restUnread()) === 4);
    expect(b.herald.inbox.unreadCount).toBe(1);
    proxyB.refuseUpgrades(false);
    await eventually("B back and equal", async () => b.herald.status === "open" && (await badgesEqualRest()) === 4, 60_000);
    expect(b.events.filter((e) => e.name === "notification:new")).toHaveLength(4);

    // Read on device A.
    const list = await userApi.call<{ items: { id: string; readAt: string | null }[] }>("GET", "/api/v1/notifications");
    await a.herald.inbox.markRead(list.items[0]!.id);
    expect(await eventually("badges = REST = 3", async () => (await badgesEqualRest()) === 3)).toBe(true);

    // Read-all on device B.
    await b.herald.inbox.markAllRead();
    await eventually("badges = REST = 0", async () => (await badgesEqualRest()) === 0 && a.herald.inbox.unreadCount === 0);
    expect(a.herald.inbox.unreadCount).toBe(0);
    expect(b.herald.inbox.unreadCount).toBe(0);
  });
});
