// An alert created over REST reaches, over real sockets to the real Worker,
// the assignee's SDK client (user stream) and an admin's org subscription.
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import type { Alert } from "../../packages/sdk/src/index";
import { api, eventually } from "./harness/api";
import { connectClient, type TestClient } from "./harness/clients";
import { startServer, type Server } from "./harness/server";
import { mintToken, uid } from "./harness/tokens";

let server: Server;
const clients: TestClient[] = [];

beforeAll(async () => {
  server = await startServer({ name: "delivery" });
});
afterAll(async () => {
  for (const c of clients) c.herald.close();
  await server?.stop();
});

describe("delivery", () => {
  it("an alert created over REST reaches the assignee's client and an admin's org subscription, typed", async () => {
    const org = uid("org");
    const agentId = uid("agent");
    const agent = connectClient(server.url, await mintToken({ sub: agentId, org, role: "agent" }));
    const admin = connectClient(server.url, () => mintToken({ sub: uid("admin"), org, role: "admin" }));
    clients.push(agent, admin);

    const assigned: Alert[] = [];
    agent.herald.on("alert:new", ({ alert }) => {
      expectTypeOf(alert).toEqualTypeOf<Alert>();
      assigned.push(alert);
    });
    const feed: { alert: Alert; channel?: string }[] = [];
    admin.herald.on("alert:new", (data, meta) => feed.push({ alert: data.alert, channel: meta.channel }));
    const subs = await admin.herald.subscribe("alerts");
    expect(subs).toContainEqual({ channel: "alerts", scope: {} });
    await eventually("the agent's socket is open", () => agent.herald.status === "open");

    const producer = api(server.url, await mintToken({ sub: uid("svc"), org, role: "service" }));
    const created = await producer.call<Alert>("POST", "/api/v1/alerts", {
      alertType: "churn_risk",
      priority: "HIGH",
      title: "Jane Doe is likely to churn",
      assigneeId: agentId,
    });

    await eventually("the assignee's alert:new", () => assigned.length > 0);
    expect(assigned[0]).toMatchObject({ id: created.id, title: "Jane Doe is likely to churn", assigneeId: agentId, priority: "HIGH" });
    await eventually("the admin's org alert:new", () => feed.length > 0);
    expect(feed[0]!.alert.id).toBe(created.id);
    expect(feed[0]!.channel).toBe("alerts");
    // Exactly once each, although the admin's client holds both streams.
    await new Promise((r) => setTimeout(r, 500));
    expect(agent.events.filter((e) => e.name === "alert:new")).toHaveLength(1);
    expect(admin.events.filter((e) => e.name === "alert:new")).toHaveLength(1);
  });
});
