import { describe, expect, it } from "vitest";
import type { RoutingRuleRow } from "../src/db/schema";
import { decide, type AgentCandidate, type RoutableAlert, type RoutingState } from "../src/routing/decide";

const T0 = new Date("2026-01-01T00:00:00Z");

function rule(over: Partial<RoutingRuleRow> & Pick<RoutingRuleRow, "strategy">): RoutingRuleRow {
  return {
    id: over.id ?? `rul-${over.strategy}`,
    orgId: "acme",
    name: over.name ?? over.strategy,
    position: 0,
    version: 1,
    enabled: true,
    match: {},
    params: {},
    escalation: null,
    fallthrough: true,
    createdBy: "admin1",
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function agent(id: string, over: Partial<AgentCandidate> = {}): AgentCandidate {
  return { id, name: null, role: "agent", territories: [], skills: [], capacity: null, availability: "available", ...over };
}

function state(o: { loads?: Record<string, number>; online?: string[]; last?: Record<string, number>; cursors?: Record<string, string> } = {}): RoutingState {
  return {
    load: (id) => o.loads?.[id] ?? 0,
    online: (id) => o.online?.includes(id) ?? false,
    lastAssignedAt: (id) => o.last?.[id] ?? null,
    cursor: (id) => o.cursors?.[id] ?? null,
  };
}

const alert = (over: Partial<RoutableAlert> = {}): RoutableAlert => ({
  id: "alr-1",
  alertType: "LIKELY_TO_SELL",
  priority: "HIGH",
  confidence: 0.9,
  data: {},
  ...over,
});

const agents = [agent("a1"), agent("a2"), agent("a3")];

describe("routing decision: strategies", () => {
  it("round_robin takes the next agent after the cursor by id, wrapping", () => {
    const r = rule({ strategy: "round_robin" });
    const base = { alert: alert(), rules: [r], agents, defaultCapacity: 25 };
    expect(decide({ ...base, state: state() }).agentId).toBe("a1");
    expect(decide({ ...base, state: state({ cursors: { [r.id]: "a1" } }) }).agentId).toBe("a2");
    expect(decide({ ...base, state: state({ cursors: { [r.id]: "a3" } }) }).agentId).toBe("a1");
    // The cursor agent left: the next id after it still counts.
    expect(decide({ ...base, agents: [agent("a1"), agent("a3")], state: state({ cursors: { [r.id]: "a2" } }) }).agentId).toBe("a3");
  });

  it("least_loaded takes the fewest open alerts, then the lowest load relative to capacity", () => {
    const r = rule({ strategy: "least_loaded" });
    const d = decide({ alert: alert(), rules: [r], agents, state: state({ loads: { a1: 3, a2: 1, a3: 2 } }), defaultCapacity: 25 });
    expect(d.agentId).toBe("a2");
    expect(d.reason).toMatch(/fewest open alerts/);
    const rel = decide({
      alert: alert(),
      rules: [r],
      agents: [agent("a1", { capacity: 4 }), agent("a2", { capacity: 10 })],
      state: state({ loads: { a1: 2, a2: 2 } }),
      defaultCapacity: 25,
    });
    expect(rel.agentId).toBe("a2");
  });

  it("skills takes only agents with the alert's type among their skills", () => {
    const d = decide({
      alert: alert({ alertType: "CHURN_RISK" }),
      rules: [rule({ strategy: "skills" })],
      agents: [agent("a1", { skills: ["LIKELY_TO_SELL"] }), agent("a2", { skills: ["CHURN_RISK"] }), agent("a3", { skills: ["CHURN_RISK"] })],
      state: state({ loads: { a2: 5, a3: 1 } }),
      defaultCapacity: 25,
    });
    expect(d.agentId).toBe("a3");
    expect(d.reason).toContain("2 of 3 agents qualified");
  });

  it("territory prefers the longest territory prefix, reading params.territoryField", () => {
    const d = decide({
      alert: alert({ data: { zip: "94107" } }),
      rules: [rule({ strategy: "territory", params: { territoryField: "zip" } })],
      agents: [agent("a1", { territories: ["9"] }), agent("a2", { territories: ["941"] }), agent("a3", { territories: ["10"] })],
      state: state(),
      defaultCapacity: 25,
    });
    expect(d.agentId).toBe("a2");
    expect(d.reason).toContain("2 of 3 agents qualified");
    expect(d.reason).toMatch(/most specific territory/);
  });

  it("specific_agent takes params.agentId only", () => {
    const r = rule({ strategy: "specific_agent", params: { agentId: "a3" }, fallthrough: false });
    expect(decide({ alert: alert(), rules: [r], agents, state: state(), defaultCapacity: 25 }).agentId).toBe("a3");
    const away = decide({ alert: alert(), rules: [r], agents: [agent("a1"), agent("a3", { availability: "away" })], state: state(), defaultCapacity: 25 });
    expect(away.agentId).toBeNull();
  });

  it("pool takes the least loaded of params.agentIds; any strategy is restricted by agentIds", () => {
    const pool = rule({ strategy: "pool", params: { agentIds: ["a2", "a3"] } });
    expect(decide({ alert: alert(), rules: [pool], agents, state: state({ loads: { a2: 2, a3: 1 } }), defaultCapacity: 25 }).agentId).toBe("a3");
    const rr = rule({ strategy: "round_robin", params: { agentIds: ["a3"] } });
    expect(decide({ alert: alert(), rules: [rr], agents, state: state(), defaultCapacity: 25 }).agentId).toBe("a3");
  });
});

describe("routing decision: rules", () => {
  it("tries enabled rules in position order; the first that matches and finds an agent wins", () => {
    const rules = [
      rule({ id: "r2", name: "Second", position: 2, strategy: "specific_agent", params: { agentId: "a2" } }),
      rule({ id: "r1", name: "First", position: 1, strategy: "specific_agent", params: { agentId: "a1" }, match: { priorities: ["CRITICAL"] } }),
      rule({ id: "r0", name: "Disabled", position: 0, strategy: "specific_agent", params: { agentId: "a3" }, enabled: false }),
    ];
    const d = decide({ alert: alert(), rules, agents, state: state(), defaultCapacity: 25 });
    expect(d.agentId).toBe("a2");
    expect(d.rule).toEqual({ id: "r2", name: "Second", version: 1, strategy: "specific_agent" });
    expect(d.reason).toContain('"First" did not match');
    expect(decide({ alert: alert({ priority: "CRITICAL" }), rules, agents, state: state(), defaultCapacity: 25 }).agentId).toBe("a1");
  });

  it("matches on types, priorities, confidence, territories by prefix and data (any of an array)", () => {
    const match = { alertTypes: ["LIKELY_TO_SELL"], priorities: ["HIGH" as const], minConfidence: 0.7, territories: ["CA"], data: { channel: ["web", "phone"] } };
    const r = rule({ strategy: "least_loaded", match, fallthrough: false });
    const ok = alert({ data: { territory: "CA-94", channel: "phone" } });
    const run = (a: RoutableAlert) => decide({ alert: a, rules: [r], agents, state: state(), defaultCapacity: 25 });
    expect(run(ok).agentId).toBe("a1");
    expect(run({ ...ok, alertType: "OTHER" }).agentId).toBeNull();
    expect(run({ ...ok, priority: "LOW" }).agentId).toBeNull();
    expect(run({ ...ok, confidence: 0.5 }).agentId).toBeNull();
    expect(run({ ...ok, confidence: null }).agentId).toBeNull();
    expect(run({ ...ok, data: { territory: "OR", channel: "web" } }).agentId).toBeNull();
    expect(run({ ...ok, data: { territory: "CA", channel: "email" } }).agentId).toBeNull();
    expect(run({ ...ok, data: { channel: "web" } }).reason).toMatch(/no territory/);
  });

  it("fallthrough false stops at the rule and queues; true tries the next", () => {
    const stop = rule({ id: "r1", name: "Leads team", position: 1, strategy: "pool", params: { agentIds: ["a1"] }, fallthrough: false });
    const next = rule({ id: "r2", name: "Anyone", position: 2, strategy: "least_loaded" });
    const busy = state({ loads: { a1: 25 } });
    const stopped = decide({ alert: alert(), rules: [stop, next], agents, state: busy, defaultCapacity: 25 });
    expect(stopped.agentId).toBeNull();
    expect(stopped.rule?.id).toBe("r1");
    expect(stopped.reason).toMatch(/Leads team.*0 of 1 agents qualified \(1 at capacity\).*does not fall through/);
    const fell = decide({ alert: alert(), rules: [{ ...stop, fallthrough: true }, next], agents, state: busy, defaultCapacity: 25 });
    expect(fell.agentId).toBe("a2");
    expect(fell.rule?.id).toBe("r2");
  });

  it("queues with a reason when no rule matches or there is none", () => {
    const none = decide({ alert: alert(), rules: [], agents, state: state(), defaultCapacity: 25 });
    expect(none).toEqual({ agentId: null, rule: null, reason: expect.stringMatching(/No enabled routing rule/), escalation: null });
    const nomatch = decide({ alert: alert(), rules: [rule({ strategy: "round_robin", match: { alertTypes: ["X"] } })], agents, state: state(), defaultCapacity: 25 });
    expect(nomatch.agentId).toBeNull();
    expect(nomatch.reason).toMatch(/did not match/);
  });

  it("returns the assigning rule's escalation policy", () => {
    const escalation = { slaSeconds: { HIGH: 60 }, to: "next_agent" as const, maxLevels: 2 };
    const d = decide({ alert: alert(), rules: [rule({ strategy: "least_loaded", escalation })], agents, state: state(), defaultCapacity: 25 });
    expect(d.escalation).toEqual(escalation);
  });

  it("onlyRule restricts to one rule; exclude removes agents", () => {
    const rules = [rule({ id: "r1", position: 1, strategy: "least_loaded" }), rule({ id: "r2", position: 2, strategy: "round_robin" })];
    const d = decide({ alert: alert(), rules, agents, state: state(), defaultCapacity: 25, onlyRule: "r2", exclude: new Set(["a1"]) });
    expect(d.rule?.id).toBe("r2");
    expect(d.agentId).toBe("a2");
  });
});

describe("routing decision: eligibility and order", () => {
  it("capacity: an agent at capacity never qualifies; null capacity means the default", () => {
    const r = rule({ strategy: "least_loaded" });
    const d = decide({
      alert: alert(),
      rules: [r],
      agents: [agent("a1", { capacity: 2 }), agent("a2")],
      state: state({ loads: { a1: 2, a2: 3 } }),
      defaultCapacity: 3,
    });
    expect(d.agentId).toBeNull();
    expect(d.reason).toContain("2 at capacity");
    const zero = decide({ alert: alert(), rules: [r], agents: [agent("a1", { capacity: 0 })], state: state(), defaultCapacity: 3 });
    expect(zero.agentId).toBeNull();
  });

  it("availability: away and offline agents never qualify; members and services are never candidates", () => {
    const d = decide({
      alert: alert(),
      rules: [rule({ strategy: "least_loaded" })],
      agents: [
        agent("a1", { availability: "away" }),
        agent("a2", { availability: "offline" }),
        agent("m1", { role: "member" }),
        agent("s1", { role: "service" }),
        agent("ad", { role: "admin" }),
      ],
      state: state(),
      defaultCapacity: 25,
    });
    expect(d.agentId).toBe("ad");
    expect(d.reason).toContain("1 of 3 agents qualified");
  });

  it("online agents come before offline ones, whatever the strategy says", () => {
    const d = decide({ alert: alert(), rules: [rule({ strategy: "least_loaded" })], agents, state: state({ loads: { a3: 5 }, online: ["a3"] }), defaultCapacity: 25 });
    expect(d.agentId).toBe("a3");
    expect(d.reason).toMatch(/online while the others are not/);
  });

  it("ties break by the agent assigned longest ago (never assigned first), then by id", () => {
    const r = rule({ strategy: "least_loaded" });
    const last = decide({ alert: alert(), rules: [r], agents, state: state({ last: { a1: 200, a2: 100, a3: 300 } }), defaultCapacity: 25 });
    expect(last.agentId).toBe("a2");
    expect(last.reason).toMatch(/assigned longest ago/);
    const never = decide({ alert: alert(), rules: [r], agents, state: state({ last: { a1: 200 } }), defaultCapacity: 25 });
    expect(never.agentId).toBe("a2");
    expect(never.reason).toMatch(/ties broken by id/);
  });

  it("is deterministic: the same input in any agent order gives the same decision", () => {
    const r = rule({ strategy: "territory" });
    const many = Array.from({ length: 12 }, (_, i) => agent(`a${String(i).padStart(2, "0")}`, { territories: [i % 2 ? "CA" : "CA-9"] }));
    const st = state({ loads: { a00: 1, a02: 1 }, last: { a04: 5 } });
    const first = decide({ alert: alert({ data: { territory: "CA-94" } }), rules: [r], agents: many, state: st, defaultCapacity: 25 });
    for (let k = 0; k < 5; k++) {
      const shuffled = [...many].sort(() => Math.random() - 0.5);
      expect(decide({ alert: alert({ data: { territory: "CA-94" } }), rules: [r], agents: shuffled, state: st, defaultCapacity: 25 })).toEqual(first);
    }
    expect(first.agentId).toBe("a06");
  });
});
