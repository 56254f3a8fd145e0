import { describe, expect, it } from "vitest";
import { alertBody, call, setupOrg } from "./helpers";
import { connect, isType } from "./ws-helpers";

describe("realtime smoke", () => {
  it("delivers alert:new to the assignee and to an admin's org stream", async () => {
    const { tokens } = await setupOrg();
    const agent = await connect("/api/v1/ws", { token: tokens.agent });
    const admin = await connect("/api/v1/ws/org", { token: tokens.admin });
    const created = await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ assigneeId: "agent1" }) });
    expect(created.status, created.text).toBe(201);
    const a = await agent.waitFor(isType("alert:new"));
    const b = await admin.waitFor(isType("alert:new"));
    expect(a).toMatchObject({ stream: "user", seq: 1, data: { alert: { id: created.json.id } } });
    expect(b).toMatchObject({ stream: "org", channel: "alerts", data: { alert: { id: created.json.id } } });
    agent.close();
    admin.close();
  });
});
