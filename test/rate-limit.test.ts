import { describe, expect, it } from "vitest";
import { call, makeToken, uniqueOrg } from "./helpers";

// vitest.config.ts sets the API_RATE_LIMITER budget to 100 requests per 60 s.
const BUDGET = 100;
const PERIOD_MS = 60_000;

/** Windows are aligned to the wall clock; start well inside one so it cannot roll over mid-test. */
async function awaitFreshWindow() {
  const into = Date.now() % PERIOD_MS;
  if (into > PERIOD_MS - 15_000) await new Promise((r) => setTimeout(r, PERIOD_MS - into + 100));
}

describe("per-caller rate limit", () => {
  it("answers 429 RATE_LIMITED with Retry-After once a caller spends its budget, without touching other callers", { timeout: 30_000 }, async () => {
    await awaitFreshWindow();
    const org = uniqueOrg();
    const busy = await makeToken({ org, sub: "busy", role: "admin" });
    const calm = await makeToken({ org, sub: "calm", role: "admin" });

    const statuses: number[] = [];
    for (let i = 0; i < BUDGET; i++) statuses.push((await call("GET", "/api/v1/alerts?limit=1", { token: busy })).status);
    expect(statuses.every((s) => s === 200)).toBe(true);

    const over = await call("GET", "/api/v1/alerts?limit=1", { token: busy });
    expect(over.status).toBe(429);
    expect(over.json.error.code).toBe("RATE_LIMITED");
    expect(over.headers.get("Retry-After")).toBe("60");

    const refused = await call("POST", "/api/v1/alerts", { token: busy, body: { alertType: "X", title: "over budget" } });
    expect(refused.status).toBe(429);

    expect((await call("GET", "/api/v1/alerts", { token: calm })).status).toBe(200);
    const list = await call("GET", "/api/v1/alerts", { token: calm });
    expect(list.json.items).toHaveLength(0);
  });

  it("does not count requests without a valid token against anyone", async () => {
    const res = await call("GET", "/api/v1/alerts");
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe("AUTH_REQUIRED");
  });
});
