import { describe, expect, it } from "vitest";
import { alertBody, call, setupOrg } from "./helpers";

describe("smoke", () => {
  it("creates and lists", async () => {
    const { tokens } = await setupOrg();
    const created = await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody({ recipients: ["member1"] }) });
    expect(created.status, created.text).toBe(201);
    const list = await call("GET", "/api/v1/alerts", { token: tokens.member });
    expect(list.status, list.text).toBe(200);
    expect(list.json.items).toHaveLength(1);
    const st = await call("PATCH", `/api/v1/alerts/${created.json.id}/status`, { token: tokens.admin, body: { status: "ACKNOWLEDGED", note: "on it" } });
    expect(st.status, st.text).toBe(200);
    const h = await call("GET", `/api/v1/alerts/${created.json.id}/history`, { token: tokens.admin });
    expect(h.json.items.map((i: any) => i.action)).toEqual(["created", "status"]);
  });
});
