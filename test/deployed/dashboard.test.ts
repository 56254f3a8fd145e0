import { describe, expect, it } from "vitest";
import { BASE, call, makeToken, uniqueOrg } from "../helpers";
import { connect, refusedUpgrade } from "../ws-helpers";

// The dashboard is served by this Worker, so its page's origin is the API's own
// origin: with wrangler.toml's shipped vars (ALLOWED_ORIGINS and CORS_ORIGINS empty)
// it must still open sockets and call the API, while other sites stay refused.
describe("the deployed Worker and its own dashboard (same origin)", () => {
  const self = new URL(BASE).origin;

  it("lets a browser on the Worker's own origin open the user stream", async () => {
    const token = await makeToken({ org: uniqueOrg(), sub: "u1", role: "agent" });
    const socket = await connect("/api/v1/ws", { token, headers: { Origin: self } });
    expect(socket.frames[0]?.type).toBe("connected");
    socket.close();
  });

  it("lets an admin on the Worker's own origin open the org stream", async () => {
    const token = await makeToken({ org: uniqueOrg(), sub: "a1", role: "admin" });
    const socket = await connect("/api/v1/ws/org", { token, headers: { Origin: self } });
    expect(socket.frames[0]?.type).toBe("connected");
    socket.close();
  });

  it.each(["https://app.example.com", "http://herald.test", "https://herald.test:8443", "https://evil.herald.test", "null"])(
    "still refuses the other origin %s with close 4403 ORIGIN_NOT_ALLOWED",
    async (origin) => {
      const token = await makeToken({ org: uniqueOrg(), sub: "u1", role: "agent" });
      const r = await refusedUpgrade("/api/v1/ws", { token, headers: { Origin: origin } });
      expect(r.code).toBe(4403);
      expect(r.reason.code).toBe("ORIGIN_NOT_ALLOWED");
    },
  );

  it("serves same-origin REST calls with an Origin header (ticket, alerts) and sends no CORS header they do not need", async () => {
    const token = await makeToken({ org: uniqueOrg(), sub: "u1", role: "agent" });
    const ticket = await call("POST", "/api/v1/realtime/ticket", { token, headers: { Origin: self } });
    expect(ticket.status).toBe(201);
    expect(typeof ticket.json.ticket).toBe("string");
    const alerts = await call("GET", "/api/v1/alerts", { token, headers: { Origin: self } });
    expect(alerts.status).toBe(200);
    expect(alerts.headers.get("Access-Control-Allow-Origin")).toBeNull();

    const socket = await connect("/api/v1/ws", { query: { ticket: ticket.json.ticket }, headers: { Origin: self } });
    expect(socket.frames[0]?.type).toBe("connected");
    socket.close();
  });
});

describe("the deployed Worker and dev tokens", () => {
  it("has no POST /api/dev/token: 404 NOT_FOUND, no token, whatever the body", async () => {
    for (const body of [{}, { role: "admin", org: "acme" }, { role: "root" }]) {
      const res = await call("POST", "/api/dev/token", { body });
      expect(res.status).toBe(404);
      expect(res.json.error.code).toBe("NOT_FOUND");
      expect(res.text).not.toMatch(/eyJ/);
    }
    const bare = await call("POST", "/api/dev/token");
    expect(bare.status).toBe(404);
    expect(bare.json.error.code).toBe("NOT_FOUND");
  });
});
