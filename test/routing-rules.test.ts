import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { getConfig } from "../src/config";
import { AppError } from "../src/errors";
import { BASE, call, setupOrg } from "./helpers";

const app = createApp();

/** Calls a fresh app with some vars overridden, as a deployment with that configuration would run. */
async function callWith(overrides: Partial<Env>, method: string, path: string, init: { token: string; body?: unknown }) {
  const headers = new Headers({ Authorization: `Bearer ${init.token}` });
  if (init.body !== undefined) headers.set("Content-Type", "application/json");
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`${BASE}${path}`, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) }),
    { ...env, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
}

describe("routing configuration", () => {
  it("defaults MAX_ROUTING_RULES, ROUTING_DEFAULT_CAPACITY, ROUTING_RESERVATION_SECONDS and ROUTING_MAX_ESCALATION_LEVELS", () => {
    const config = getConfig({
      ...env,
      MAX_ROUTING_RULES: "",
      ROUTING_DEFAULT_CAPACITY: "",
      ROUTING_RESERVATION_SECONDS: "",
      ROUTING_MAX_ESCALATION_LEVELS: "",
    });
    expect(config.routing).toEqual({ maxRules: 50, defaultCapacity: 25, reservationSeconds: 60, maxEscalationLevels: 5 });
    expect(getConfig({ ...env, MAX_ROUTING_RULES: "7", ROUTING_MAX_ESCALATION_LEVELS: "2" }).routing).toMatchObject({ maxRules: 7, maxEscalationLevels: 2 });
  });

  it.each([
    ["MAX_ROUTING_RULES", "0"],
    ["MAX_ROUTING_RULES", "501"],
    ["ROUTING_DEFAULT_CAPACITY", "0"],
    ["ROUTING_DEFAULT_CAPACITY", "10001"],
    ["ROUTING_RESERVATION_SECONDS", "4"],
    ["ROUTING_RESERVATION_SECONDS", "3601"],
    ["ROUTING_MAX_ESCALATION_LEVELS", "0"],
    ["ROUTING_MAX_ESCALATION_LEVELS", "21"],
    ["ROUTING_MAX_ESCALATION_LEVELS", "two"],
  ])("refuses %s=%s (CONFIG_INVALID)", (name, value) => {
    let thrown: unknown;
    try {
      getConfig({ ...env, [name]: value });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect((thrown as AppError).code).toBe("CONFIG_INVALID");
  });
});

const rule = (overrides: Record<string, unknown> = {}) => ({ name: "Anyone", strategy: "least_loaded", ...overrides });

/** An org with an admin token, two agents and a member in the directory. */
async function org() {
  const s = await setupOrg();
  return { ...s, admin: s.tokens.admin };
}

async function create(token: string, body: unknown) {
  const res = await call("POST", "/api/v1/routing/rules", { token, body });
  expect(res.status, res.text).toBe(201);
  return res.json;
}

async function names(token: string): Promise<string[]> {
  const res = await call("GET", "/api/v1/routing/rules", { token });
  expect(res.status, res.text).toBe(200);
  expect(res.json.items.map((r: { position: number }) => r.position)).toEqual(res.json.items.map((_: unknown, i: number) => i + 1));
  return res.json.items.map((r: { name: string }) => r.name);
}

describe("routing rules CRUD", () => {
  it("creates a rule with defaults at version 1, reads it back, lists it; Location names it", async () => {
    const { admin } = await org();
    const res = await call("POST", "/api/v1/routing/rules", { token: admin, body: rule() });
    expect(res.status, res.text).toBe(201);
    expect(res.headers.get("Location")).toBe(`/api/v1/routing/rules/${res.json.id}`);
    expect(res.json).toMatchObject({
      name: "Anyone",
      strategy: "least_loaded",
      position: 1,
      version: 1,
      enabled: true,
      fallthrough: true,
      match: {},
      params: {},
      escalation: null,
      createdBy: "admin1",
    });
    const one = await call("GET", `/api/v1/routing/rules/${res.json.id}`, { token: admin });
    expect(one.status).toBe(200);
    expect(one.json).toEqual(res.json);
    expect(await names(admin)).toEqual(["Anyone"]);
  });

  it("appends without a position, inserts at a given one (the others move down), clamps a position past the end", async () => {
    const { admin } = await org();
    await create(admin, rule({ name: "A" }));
    await create(admin, rule({ name: "B" }));
    await create(admin, rule({ name: "first", position: 1 }));
    await create(admin, rule({ name: "third", position: 3 }));
    await create(admin, rule({ name: "last", position: 99 }));
    expect(await names(admin)).toEqual(["first", "A", "third", "B", "last"]);
  });

  it("PUT replaces the whole rule with the version read, bumps it, and 409 VERSION_CONFLICT on a stale version", async () => {
    const { admin } = await org();
    const created = await create(admin, rule({ name: "Specialists", strategy: "skills", fallthrough: false, match: { alertTypes: ["CHURN_RISK"] } }));
    const put = await call("PUT", `/api/v1/routing/rules/${created.id}`, {
      token: admin,
      body: { name: "Renamed", strategy: "round_robin", version: 1 },
    });
    expect(put.status, put.text).toBe(200);
    // Full replace: what was not sent is back to its default.
    expect(put.json).toMatchObject({ name: "Renamed", strategy: "round_robin", version: 2, fallthrough: true, match: {}, position: 1 });
    expect(Date.parse(put.json.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));

    const stale = await call("PUT", `/api/v1/routing/rules/${created.id}`, { token: admin, body: { name: "Late", strategy: "pool", params: { agentIds: ["agent1"] }, version: 1 } });
    expect(stale.status, stale.text).toBe(409);
    expect(stale.json.error.code).toBe("VERSION_CONFLICT");
    expect(stale.json.error.details).toEqual({ currentVersion: 2 });
    expect((await call("GET", `/api/v1/routing/rules/${created.id}`, { token: admin })).json.name).toBe("Renamed");

    const missing = await call("PUT", `/api/v1/routing/rules/${created.id}`, { token: admin, body: { name: "x", strategy: "least_loaded" } });
    expect(missing.status).toBe(400);
    expect(missing.json.error.code).toBe("VALIDATION_FAILED");
  });

  it("PUT with a position moves the rule (others shift, positions stay 1..n); without one it keeps its place", async () => {
    const { admin } = await org();
    const ids: Record<string, string> = {};
    for (const n of ["A", "B", "C", "D"]) ids[n] = (await create(admin, rule({ name: n }))).id;
    const move = async (n: string, position: number | undefined, version: number) => {
      const res = await call("PUT", `/api/v1/routing/rules/${ids[n]}`, { token: admin, body: rule({ name: n, version, ...(position && { position }) }) });
      expect(res.status, res.text).toBe(200);
      return res.json;
    };
    expect((await move("A", 3, 1)).position).toBe(3);
    expect(await names(admin)).toEqual(["B", "C", "A", "D"]);
    await move("D", 1, 1);
    expect(await names(admin)).toEqual(["D", "B", "C", "A"]);
    expect((await move("B", 50, 1)).position).toBe(4);
    expect(await names(admin)).toEqual(["D", "C", "A", "B"]);
    expect((await move("C", undefined, 1)).position).toBe(2);
    expect(await names(admin)).toEqual(["D", "C", "A", "B"]);
    // A move of others never changed A's version: A was PUT once.
    expect((await call("GET", `/api/v1/routing/rules/${ids.A}`, { token: admin })).json.version).toBe(2);
  });

  it("DELETE answers 204, the later rules close the gap, and a second DELETE is 404", async () => {
    const { admin } = await org();
    const ids = [];
    for (const n of ["A", "B", "C"]) ids.push((await create(admin, rule({ name: n }))).id);
    const del = await call("DELETE", `/api/v1/routing/rules/${ids[0]}`, { token: admin });
    expect(del.status, del.text).toBe(204);
    expect(await names(admin)).toEqual(["B", "C"]);
    const again = await call("DELETE", `/api/v1/routing/rules/${ids[0]}`, { token: admin });
    expect(again.status).toBe(404);
    expect(again.json.error.code).toBe("ROUTING_RULE_NOT_FOUND");
    // A new rule goes after the remaining ones, not after the deleted count.
    await create(admin, rule({ name: "D" }));
    expect(await names(admin)).toEqual(["B", "C", "D"]);
  });

  it("refuses the rule past MAX_ROUTING_RULES with 409 ROUTING_RULES_LIMIT, also under concurrent creates", async () => {
    const { org: orgId, admin } = await org();
    const max = 4;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        callWith({ MAX_ROUTING_RULES: String(max) }, "POST", "/api/v1/routing/rules", { token: admin, body: rule({ name: `R${i}`, position: 1 }) }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(max);
    for (const r of results.filter((r) => r.status !== 201)) {
      expect(r.status).toBe(409);
      expect(r.json.error.code).toBe("ROUTING_RULES_LIMIT");
      expect(r.json.error.details).toEqual({ limit: max });
    }
    expect(await names(admin)).toHaveLength(max);
    expect(orgId).toBeTruthy();
  });

  it("another org's rule is invisible: GET, PUT and DELETE answer 404 ROUTING_RULE_NOT_FOUND and the list is empty", async () => {
    const a = await org();
    const b = await org();
    const theirs = await create(a.admin, rule({ name: "Theirs" }));
    for (const [method, body] of [["GET"], ["PUT", rule({ version: 1 })], ["DELETE"]] as const) {
      const res = await call(method, `/api/v1/routing/rules/${theirs.id}`, { token: b.admin, ...(body && { body }) });
      expect(res.status, `${method} ${res.text}`).toBe(404);
      expect(res.json.error.code).toBe("ROUTING_RULE_NOT_FOUND");
    }
    expect(await names(b.admin)).toEqual([]);
    expect(await names(a.admin)).toEqual(["Theirs"]);
  });
});

describe("routing rule validation", () => {
  it.each([
    ["specific_agent without params.agentId", rule({ strategy: "specific_agent" }), "params.agentId"],
    ["params.agentId on another strategy", rule({ params: { agentId: "agent1" } }), "params.agentId"],
    ["pool without params.agentIds", rule({ strategy: "pool" }), "params.agentIds"],
    ["pool with an empty pool", rule({ strategy: "pool", params: { agentIds: [] } }), "params.agentIds"],
    ["a pool of 101", rule({ strategy: "pool", params: { agentIds: Array.from({ length: 101 }, (_, i) => `a${i}`) } }), "params.agentIds"],
    ["duplicate pool ids", rule({ strategy: "pool", params: { agentIds: ["agent1", "agent1"] } }), "params.agentIds"],
    ["an unknown strategy", rule({ strategy: "random" }), "strategy"],
    ["an unknown field", rule({ colour: "red" }), ""],
    ["an unknown match field", rule({ match: { region: "EU" } }), "match"],
    ["minConfidence above 1", rule({ match: { minConfidence: 1.5 } }), "match.minConfidence"],
    ["an unknown priority", rule({ match: { priorities: ["URGENT"] } }), "match.priorities.0"],
    ["a bad territory", rule({ match: { territories: ["north west"] } }), "match.territories.0"],
    ["an empty name", rule({ name: "  " }), "name"],
    ["position 0", rule({ position: 0 }), "position"],
    ["an SLA of 5 s", rule({ escalation: { slaSeconds: { HIGH: 5 }, to: "next_agent", maxLevels: 1 } }), "escalation.slaSeconds.HIGH"],
    ["an SLA over 7 days", rule({ escalation: { slaSeconds: { LOW: 7 * 86400 + 1 }, to: "next_agent", maxLevels: 1 } }), "escalation.slaSeconds.LOW"],
    ["no SLA at all", rule({ escalation: { slaSeconds: {}, to: "next_agent", maxLevels: 1 } }), "escalation.slaSeconds"],
    ["maxLevels 0", rule({ escalation: { slaSeconds: { HIGH: 60 }, to: "next_agent", maxLevels: 0 } }), "escalation.maxLevels"],
    ["maxLevels above ROUTING_MAX_ESCALATION_LEVELS", rule({ escalation: { slaSeconds: { HIGH: 60 }, to: "next_agent", maxLevels: 6 } }), "escalation.maxLevels"],
    ["to=pool without poolAgentIds", rule({ escalation: { slaSeconds: { HIGH: 60 }, to: "pool", maxLevels: 1 } }), "escalation.poolAgentIds"],
    ["poolAgentIds with next_agent", rule({ escalation: { slaSeconds: { HIGH: 60 }, to: "next_agent", poolAgentIds: ["agent1"], maxLevels: 1 } }), "escalation.poolAgentIds"],
  ])("refuses %s with 400 VALIDATION_FAILED naming the field", async (_name, body, path) => {
    const { admin } = await org();
    const res = await call("POST", "/api/v1/routing/rules", { token: admin, body });
    expect(res.status, res.text).toBe(400);
    expect(res.json.error.code).toBe("VALIDATION_FAILED");
    expect(res.json.error.details.issues.map((i: { path: string }) => i.path)).toContain(path);
    expect(await names(admin)).toEqual([]);
  });

  it("accepts a full rule: match, territory params, escalation to a pool", async () => {
    const { admin } = await org();
    const body = {
      name: "West coast leads",
      match: { alertTypes: ["LIKELY_TO_SELL"], priorities: ["HIGH", "CRITICAL"], minConfidence: 0.7, territories: ["CA", "OR", "94"], data: { channel: ["web", "phone"], vip: true } },
      strategy: "territory",
      params: { territoryField: "state", agentIds: ["agent1", "agent2"] },
      escalation: { slaSeconds: { CRITICAL: 300, HIGH: 1800 }, to: "pool", poolAgentIds: ["admin1", "agent2"], maxLevels: 2 },
      fallthrough: false,
      enabled: false,
    };
    const created = await create(admin, body);
    expect(created).toMatchObject({ ...body, version: 1, position: 1 });
  });

  it("refuses agents that are not agents or admins of the directory with 422 UNKNOWN_ASSIGNEE listing them", async () => {
    const { admin } = await org();
    const other = await org();
    // member1 is a member, scorer a service (not in the directory), other org's agent1 is not ours.
    await create(other.admin, rule());
    for (const [body, bad] of [
      [rule({ strategy: "specific_agent", params: { agentId: "member1" } }), ["member1"]],
      [rule({ strategy: "pool", params: { agentIds: ["agent1", "ghost", "scorer"] } }), ["ghost", "scorer"]],
      [rule({ escalation: { slaSeconds: { HIGH: 60 }, to: "pool", poolAgentIds: ["agent2", "nobody"], maxLevels: 1 } }), ["nobody"]],
    ] as const) {
      const res = await call("POST", "/api/v1/routing/rules", { token: admin, body });
      expect(res.status, res.text).toBe(422);
      expect(res.json.error.code).toBe("UNKNOWN_ASSIGNEE");
      expect(res.json.error.details.agentIds).toEqual(bad);
    }
    expect(await names(admin)).toEqual([]);
    // The same checks on PUT.
    const ok = await create(admin, rule());
    const put = await call("PUT", `/api/v1/routing/rules/${ok.id}`, { token: admin, body: rule({ strategy: "specific_agent", params: { agentId: "ghost" }, version: 1 }) });
    expect(put.status).toBe(422);
    expect(put.json.error.code).toBe("UNKNOWN_ASSIGNEE");
  });

  it("honours a lower ROUTING_MAX_ESCALATION_LEVELS", async () => {
    const { admin } = await org();
    const body = rule({ escalation: { slaSeconds: { HIGH: 60 }, to: "next_agent", maxLevels: 3 } });
    const low = await callWith({ ROUTING_MAX_ESCALATION_LEVELS: "2" }, "POST", "/api/v1/routing/rules", { token: admin, body });
    expect(low.status).toBe(400);
    expect(low.json.error.details.issues[0]).toMatchObject({ path: "escalation.maxLevels", code: "too_big" });
    expect((await call("POST", "/api/v1/routing/rules", { token: admin, body })).status).toBe(201);
  });

  it("is admin only: a service, an agent and a member get 403", async () => {
    const { tokens, admin } = await org();
    const id = (await create(admin, rule())).id;
    for (const token of [tokens.service, tokens.agent, tokens.member]) {
      expect((await call("GET", "/api/v1/routing/rules", { token })).status).toBe(403);
      expect((await call("GET", `/api/v1/routing/rules/${id}`, { token })).status).toBe(403);
      expect((await call("DELETE", `/api/v1/routing/rules/${id}`, { token })).status).toBe(403);
    }
    expect(await names(admin)).toHaveLength(1);
  });
});
