import { describe, expect, it } from "vitest";
import type { Http } from "../src/http";
import { restApi } from "../src/rest";

/** A restApi over an Http that records what it was asked and answers `{}`. */
function recorded() {
  const calls: { method: string; path: string; body?: unknown }[] = [];
  const http = {
    request: async (method: string, path: string, body?: unknown) => {
      calls.push({ method, path, ...(body !== undefined && { body }) });
      return {};
    },
  } as unknown as Http;
  return { api: restApi(http), calls };
}

describe("restApi query building", () => {
  it("users.list sends role as a comma list and leaves out what is unset", async () => {
    const { api, calls } = recorded();
    await api.users.list();
    await api.users.list({ q: "ada lovelace", role: ["agent", "admin"], limit: 10 });
    await api.users.list({ role: "member", cursor: "abc" });
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      "GET /api/v1/users",
      "GET /api/v1/users?q=ada+lovelace&role=agent%2Cadmin&limit=10",
      "GET /api/v1/users?role=member&cursor=abc",
    ]);
  });

  it("alerts.volume and alerts.deliveries address the routes the server serves", async () => {
    const { api, calls } = recorded();
    await api.alerts.volume({ bucket: "day", since: "2026-01-01T00:00:00Z" });
    await api.alerts.deliveries("alr_1/2");
    expect(calls.map((c) => c.path)).toEqual([
      "/api/v1/alerts/volume?bucket=day&since=2026-01-01T00%3A00%3A00Z",
      "/api/v1/alerts/alr_1%2F2/deliveries",
    ]);
  });
});
