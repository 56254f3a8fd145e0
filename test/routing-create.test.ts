import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { alerts, routingRules, users, type RoutingRuleRow } from "../src/db/schema";
import { orgDeps } from "../src/deps";
import { orgHub } from "../src/outbox";
import { MetaTable } from "../src/realtime/meta";
import { RouterTable } from "../src/realtime/router";
import { CreateAlertBody } from "../src/schemas/alerts";
import { createAlert } from "../src/services/alerts";
import { loadRoutingInputs } from "../src/services/routing/route";
import { reassignAlert } from "../src/services/routing/route";
import { and, eq } from "drizzle-orm";
import { alertBody, call, makeToken, uniqueOrg } from "./helpers";
import { orgBeside, orgD1, orgDb } from "./shard-helpers";
import { connect } from "./ws-helpers";

type RuleInput = Partial<Omit<RoutingRuleRow, "orgId" | "createdAt" | "updatedAt" | "createdBy">> & Pick<RoutingRuleRow, "strategy">;
type Profile = Partial<Pick<typeof users.$inferSelect, "territories" | "skills" | "capacity" | "availability" | "name">>;

/** An org with an admin, a service and the given agents (with their profiles), plus the given rules. */
async function routingOrg(agents: Record<string, Profile>, rules: RuleInput[] = [], org = uniqueOrg("rt")) {
  const admin = await makeToken({ org, sub: "admin1", role: "admin" });
  const service = await makeToken({ org, sub: "scorer", role: "service" });
  for (const id of Object.keys(agents)) {
    const res = await call("PUT", `/api/v1/users/${id}`, { token: admin, body: { role: "agent" } });
    expect(res.status, res.text).toBeLessThan(300);
  }
  // The admin is in the directory too (an agent candidate), but away: these tests route to the named agents.
  expect((await call("PUT", "/api/v1/users/admin1", { token: admin, body: { role: "admin" } })).status).toBeLessThan(300);
  await setProfile(org, "admin1", { availability: "away" });
  for (const [id, profile] of Object.entries(agents)) if (Object.keys(profile).length > 0) await setProfile(org, id, profile);
  await addRules(org, rules);
  return { org, admin, service };
}

async function setProfile(org: string, id: string, profile: Profile) {
  await (await orgDb(org)).update(users).set(profile).where(and(eq(users.orgId, org), eq(users.id, id)));
}

async function addRules(org: string, rules: RuleInput[]) {
  const now = new Date();
  const db = await orgDb(org);
  for (const [i, r] of rules.entries()) {
    await db
      .insert(routingRules)
      .values({
        id: r.id ?? `rul-${org}-${i}`,
        orgId: org,
        name: r.name ?? `Rule ${i}`,
        position: r.position ?? i,
        version: r.version ?? 1,
        enabled: r.enabled ?? true,
        match: r.match ?? {},
        strategy: r.strategy,
        params: r.params ?? {},
        escalation: r.escalation ?? null,
        fallthrough: r.fallthrough ?? true,
        createdBy: "admin1",
        createdAt: now,
        updatedAt: now,
      });
  }
}

async function create(token: string, overrides: Record<string, unknown> = {}, headers?: Record<string, string>) {
  const res = await call("POST", "/api/v1/alerts", { token, body: alertBody(overrides), headers });
  expect(res.status, res.text).toBe(201);
  return res.json as { id: string; assigneeId: string | null; assignedAt: string | null };
}

async function assignmentsOf(org: string, alertId: string) {
  const { results } = await (await orgD1(org)).prepare("SELECT * FROM alert_assignments WHERE alert_id = ? ORDER BY created_at, id").bind(alertId).all<Record<string, unknown>>();
  return results;
}

/** Counts `orgId`'s rows in its shard (the statement's one parameter is the org). */
async function count(sql: string, orgId: string) {
  return (await (await orgD1(orgId)).prepare(sql).bind(orgId).first<{ n: number }>())!.n;
}

describe("routing on create: strategies", () => {
  it("round_robin rotates through the agents by id and records a routed assignment with the reason", async () => {
    const { org, service } = await routingOrg({ a1: {}, a2: {}, a3: {} }, [{ id: "rr", name: "Rotation", strategy: "round_robin" }]);
    const got: (string | null)[] = [];
    for (let i = 0; i < 4; i++) got.push((await create(service)).assigneeId);
    expect(got).toEqual(["a1", "a2", "a3", "a1"]);
    const first = await create(service);
    const [record] = await assignmentsOf(org, first.id);
    expect(record).toMatchObject({ kind: "routed", agent_id: "a2", rule_id: "rr", rule_name: "Rotation", rule_version: 1, strategy: "round_robin", level: 0, actor_id: "scorer" });
    expect(record!.reason).toMatch(/Rule "Rotation" \(round_robin\): 3 of 4 agents qualified/); // the away admin counts among the candidates
    const history = await call("GET", `/api/v1/alerts/${first.id}/history`, { token: service });
    expect(history.json.items.map((h: { action: string }) => h.action)).toEqual(["created", "assigned"]);
    expect(history.json.items[1].note).toBe(record!.reason);
    expect(first.assignedAt).not.toBeNull();
  });

  it("says where a create's time went in Server-Timing, and how long the routing decision took only when the rules decided", async () => {
    const { service, admin } = await routingOrg({ a1: {} }, [{ strategy: "least_loaded" }]);
    const spans = /^read;dur=\d+\.\d, commit;dur=\d+\.\d, publish;dur=\d+\.\d/;
    const routed = await call("POST", "/api/v1/alerts", { token: service, body: alertBody() });
    expect(routed.status).toBe(201);
    expect(routed.headers.get("Server-Timing")).toMatch(spans);
    expect(routed.headers.get("Server-Timing")).toMatch(/, route;dur=\d+\.\d;desc="routing decision"$/);
    const given = await call("POST", "/api/v1/alerts", { token: admin, body: alertBody({ assigneeId: "a1" }) });
    expect(given.status).toBe(201);
    expect(given.headers.get("Server-Timing")).toMatch(spans);
    expect(given.headers.get("Server-Timing")).not.toContain("route;");
  });

  it("least_loaded gives the alert to the agent with the fewest open alerts", async () => {
    const { service, admin } = await routingOrg({ a1: {}, a2: {} }, [{ strategy: "least_loaded" }]);
    // a1 gets one by hand; the rules then prefer a2.
    expect((await call("POST", "/api/v1/alerts", { token: admin, body: alertBody({ assigneeId: "a1" }) })).status).toBe(201);
    expect((await create(service)).assigneeId).toBe("a2");
    expect((await create(service)).assigneeId).toBe("a1");
  });

  it("an org without rules costs the org hub no routing writes; the first routing later counts what was assigned meanwhile", async () => {
    const { org, admin, service } = await routingOrg({ a1: {}, a2: {} });
    for (let i = 0; i < 3; i++) expect((await call("POST", "/api/v1/alerts", { token: admin, body: alertBody({ assigneeId: "a1" }) })).status).toBe(201);
    // Without routing nothing was created unassigned, and the hub kept no open loads for it.
    expect((await create(service)).assigneeId).toBeNull();
    const tracked = () =>
      runInDurableObject(orgHub(env, org), (_i, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM routing_open").one().n);
    expect(await tracked()).toBe(0);
    // Nor does a create there read the org's directory for routing.
    expect((await loadRoutingInputs(await orgDb(org), org)).agents).toEqual([]);
    // A rule arrives: the first routing reads the loads from D1 (a1 holds 3), so a2 gets it, and from then on events are followed.
    await addRules(org, [{ strategy: "least_loaded" }]);
    expect((await create(service)).assigneeId).toBe("a2");
    expect(await tracked()).toBe(4);
    expect((await loadRoutingInputs(await orgDb(org), org)).agents.map((a) => a.id)).toEqual(["a1", "a2", "admin1"]);
  });

  it("counts the open alerts D1 already had before the hub's first routing (seeded once)", async () => {
    const { org, service } = await routingOrg({ a1: {}, a2: {} }, [{ strategy: "least_loaded" }]);
    const now = new Date();
    // Written straight to D1: no event ever told the hub about these.
    const row = (id: string, assigneeId: string, status: "PENDING" | "RESOLVED") => ({
      id,
      orgId: org,
      alertType: "LIKELY_TO_SELL",
      priority: "HIGH" as const,
      status,
      title: "old",
      assigneeId,
      createdBy: "scorer",
      createdAt: now,
      updatedAt: now,
    });
    await (await orgDb(org)).insert(alerts).values([row(`alr-${org}-1`, "a1", "PENDING"), row(`alr-${org}-2`, "a1", "PENDING"), row(`alr-${org}-3`, "a2", "RESOLVED")]);
    expect((await create(service)).assigneeId).toBe("a2");
    expect((await orgHub(env, org).routingState(["a1", "a2"])).map((s) => s.load)).toEqual([2, 1]);
  });

  it("skills routes to an agent with the alert's type among their skills", async () => {
    const { service } = await routingOrg({ a1: { skills: ["LIKELY_TO_SELL"] }, a2: { skills: ["CHURN_RISK"] } }, [{ strategy: "skills" }]);
    expect((await create(service, { alertType: "CHURN_RISK" })).assigneeId).toBe("a2");
    expect((await create(service, { alertType: "LIKELY_TO_SELL" })).assigneeId).toBe("a1");
  });

  it("territory routes by the most specific prefix of the alert's territory field", async () => {
    const { service } = await routingOrg({ a1: { territories: ["9"] }, a2: { territories: ["941"] }, a3: { territories: ["10"] } }, [
      { strategy: "territory", params: { territoryField: "zip" } },
    ]);
    expect((await create(service, { data: { zip: "94107" } })).assigneeId).toBe("a2");
    expect((await create(service, { data: { zip: "95000" } })).assigneeId).toBe("a1");
    expect((await create(service, { data: { zip: "10001" } })).assigneeId).toBe("a3");
  });

  it("specific_agent and pool route to the named agents only", async () => {
    const { service } = await routingOrg({ a1: {}, a2: {}, a3: {} }, [
      { strategy: "specific_agent", params: { agentId: "a3" }, match: { priorities: ["CRITICAL"] } },
      { strategy: "pool", params: { agentIds: ["a2", "a3"] } },
    ]);
    expect((await create(service, { priority: "CRITICAL" })).assigneeId).toBe("a3");
    // The pool is least-loaded first: a2 has none, a3 has one.
    expect((await create(service)).assigneeId).toBe("a2");
  });
});

describe("routing on create: rules, queue and notifications", () => {
  it("tries rules in order and falls through; without fallthrough the alert is queued with the reason", async () => {
    const { org, service, admin } = await routingOrg({ a1: { capacity: 1 }, a2: {} }, [
      { id: "r-leads", name: "Leads", strategy: "specific_agent", params: { agentId: "a1" }, fallthrough: true },
      { id: "r-any", name: "Anyone", strategy: "round_robin", match: { priorities: ["HIGH"] }, fallthrough: false },
    ]);
    expect((await create(service)).assigneeId).toBe("a1");
    // a1 is full now: "Leads" falls through to "Anyone".
    expect((await create(service)).assigneeId).toBe("a2");
    // LOW: "Leads" matches but a1 is full, "Anyone" does not match: queued by no rule.
    const low = await create(service, { priority: "LOW" });
    expect(low.assigneeId).toBeNull();
    const [queued] = await assignmentsOf(org, low.id);
    expect(queued).toMatchObject({ kind: "queued", agent_id: null, rule_id: null });
    expect(queued!.reason).toMatch(/"Anyone" did not match/);
    await setProfile(org, "a2", { availability: "away" });
    // a2 goes away: "Anyone" matches, finds nobody and does not fall through: queued by it.
    const stopped = await create(service);
    expect(stopped.assigneeId).toBeNull();
    const [record] = await assignmentsOf(org, stopped.id);
    expect(record).toMatchObject({ kind: "queued", rule_id: "r-any", rule_name: "Anyone" });
    expect(record!.reason).toMatch(/does not fall through/);
    // The queue view.
    const queue = await call("GET", "/api/v1/alerts?unassigned=true", { token: admin });
    expect(queue.status).toBe(200);
    expect(queue.json.items.map((a: { id: string }) => a.id).sort()).toEqual([low.id, stopped.id].sort());
    const assigned = await call("GET", "/api/v1/alerts?unassigned=false", { token: admin });
    expect(assigned.json.items).toHaveLength(2);
  });

  it("an org with rules but no eligible agent queues the alert and notifies no admin; an org without rules still does", async () => {
    const { org, service, admin } = await routingOrg({ a1: { availability: "offline" } }, [{ strategy: "least_loaded" }]);
    const board = await connect("/api/v1/ws/org", { token: admin });
    const queued = await create(service);
    expect(queued.assigneeId).toBeNull();
    // Admins see it on the org feed, with the queued record.
    const event = (await board.waitFor((f) => f.type === "alert:new")) as unknown as { data: { assignment: { kind: string; alertId: string } } };
    expect(event.data.assignment).toMatchObject({ kind: "queued", alertId: queued.id });
    board.close();
    expect(await count("SELECT count(*) AS n FROM notifications WHERE org_id = ?", org)).toBe(0);
    const [record] = await assignmentsOf(org, queued.id);
    expect(record).toMatchObject({ kind: "queued", agent_id: null });
    expect(record!.reason).toMatch(/0 of 2 agents qualified \(2 away or offline\)/);

    const plain = await routingOrg({ a1: {} });
    const unrouted = await create(plain.service);
    expect(unrouted.assigneeId).toBeNull();
    expect(await count("SELECT count(*) AS n FROM notifications WHERE org_id = ? AND user_id = 'admin1'", plain.org)).toBe(1);
    expect(await assignmentsOf(plain.org, unrouted.id)).toEqual([]);
  });

  it("an unreachable org hub never loses the alert: it is created queued with the reason", async () => {
    const { org } = await routingOrg({ a1: {} }, [{ strategy: "least_loaded" }]);
    const failing = { ...(await orgDeps(env, org)), routing: { route: () => Promise.reject(new Error("hub down")), release: async () => {} } };
    const { body } = await createAlert(failing, { sub: "scorer", org, role: "service" }, CreateAlertBody.parse(alertBody()));
    expect(body.assigneeId).toBeNull();
    const [record] = await assignmentsOf(org, body.id);
    expect(record).toMatchObject({ kind: "queued", agent_id: null });
    expect(record!.reason).toMatch(/Routing was unavailable/);
    expect(await count("SELECT count(*) AS n FROM notifications WHERE org_id = ?", org)).toBe(0);
  });

  it("the routed assignee is notified exactly once and gets alert:new and alert:assigned with the assignment", async () => {
    const { org, service } = await routingOrg({ a1: {} }, [{ strategy: "least_loaded" }]);
    const socket = await connect("/api/v1/ws", { token: await makeToken({ org, sub: "a1", role: "agent" }) });
    const alert = await create(service);
    expect(alert.assigneeId).toBe("a1");
    const assigned = await socket.waitFor((f) => f.type === "alert:assigned");
    expect((assigned as unknown as { data: { assignment: { kind: string; agentId: string } } }).data.assignment).toMatchObject({ kind: "routed", agentId: "a1" });
    await socket.waitFor((f) => f.type === "alert:new");
    expect(await count("SELECT count(*) AS n FROM notifications WHERE org_id = ?", org)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM notifications WHERE org_id = ? AND user_id = 'a1'", org)).toBe(1);
    socket.close();
  });

  it("prefers an online agent: the one with a socket open gets the alert", async () => {
    const { org, service } = await routingOrg({ a1: {}, a2: {}, a3: {} }, [{ strategy: "least_loaded" }]);
    const socket = await connect("/api/v1/ws/org", { token: await makeToken({ org, sub: "a3", role: "agent" }) });
    expect((await create(service)).assigneeId).toBe("a3");
    socket.close();
  });
});

describe("routing on create: capacity and fairness under concurrency", () => {
  it("50 concurrent creates for a pool of 5 agents with capacity 8: nobody above capacity, the rest queued", async () => {
    const agents = Object.fromEntries(["p1", "p2", "p3", "p4", "p5"].map((id) => [id, { capacity: 8 }]));
    const { org, service } = await routingOrg(agents, [{ strategy: "pool", params: { agentIds: Object.keys(agents) }, fallthrough: false }]);
    const created = await Promise.all(Array.from({ length: 50 }, () => create(service)));
    const loads = new Map<string, number>();
    for (const a of created) if (a.assigneeId) loads.set(a.assigneeId, (loads.get(a.assigneeId) ?? 0) + 1);
    expect([...loads.values()].every((n) => n <= 8)).toBe(true);
    expect([...loads.values()].reduce((a, b) => a + b, 0)).toBe(40);
    expect(created.filter((a) => a.assigneeId === null)).toHaveLength(10);
    expect(await count("SELECT count(*) AS n FROM alert_assignments WHERE org_id = ? AND kind = 'queued'", org)).toBe(10);
    const state = await orgHub(env, org).routingState(Object.keys(agents));
    expect(state.map((s) => s.load)).toEqual([8, 8, 8, 8, 8]);
  }, 30_000);

  it("round_robin with ample capacity: 50 concurrent creates over 5 agents, loads differ by at most one", async () => {
    const agents = Object.fromEntries(["q1", "q2", "q3", "q4", "q5"].map((id) => [id, {}]));
    const { service } = await routingOrg(agents, [{ strategy: "round_robin" }]);
    const created = await Promise.all(Array.from({ length: 50 }, () => create(service)));
    const loads = new Map<string, number>();
    for (const a of created) loads.set(a.assigneeId!, (loads.get(a.assigneeId!) ?? 0) + 1);
    expect(loads.size).toBe(5);
    expect(Math.max(...loads.values()) - Math.min(...loads.values())).toBeLessThanOrEqual(1);
  }, 30_000);
});

describe("routing actions", () => {
  it("preview names the agent a create then gets, and writes nothing", async () => {
    const { org, service, admin } = await routingOrg({ a1: { name: "Ann", territories: ["CA"] }, a2: { territories: ["OR"] } }, [
      { id: "geo", name: "Geo", strategy: "territory", escalation: { slaSeconds: { HIGH: 600 }, to: "next_agent", maxLevels: 1 } },
    ]);
    const body = alertBody({ data: { territory: "CA-94" } });
    const preview = await call("POST", "/api/v1/routing/preview", { token: admin, body });
    expect(preview.status, preview.text).toBe(200);
    expect(preview.json).toMatchObject({
      agentId: "a1",
      agent: { id: "a1", name: "Ann", territories: ["CA"], availability: "available" },
      rule: { id: "geo", name: "Geo", version: 1, strategy: "territory" },
      escalation: { slaSeconds: { HIGH: 600 } },
    });
    expect(await count("SELECT count(*) AS n FROM alerts WHERE org_id = ?", org)).toBe(0);
    expect((await orgHub(env, org).routingState(["a1"]))[0]!.load).toBe(0);
    const created = await create(service, { data: { territory: "CA-94" } });
    expect(created.assigneeId).toBe(preview.json.agentId);
    expect((await call("POST", "/api/v1/routing/preview", { token: await makeToken({ org, sub: "a1", role: "agent" }), body })).status).toBe(403);
  });

  it("reassign to a named agent (manual) or by the rules excluding the current assignee (routed); 409 when closed", async () => {
    const { org, admin, service } = await routingOrg({ a1: {}, a2: {}, a3: {} }, [{ strategy: "round_robin" }]);
    const loads = async () => (await orgHub(env, org).routingState(["a1", "a2", "a3"])).map((s) => s.load);
    const alert = await create(service);
    expect(alert.assigneeId).toBe("a1");
    expect(await loads()).toEqual([1, 0, 0]);
    const manual = await call("POST", `/api/v1/alerts/${alert.id}/reassign`, { token: admin, body: { agentId: "a3", note: "VIP" } });
    expect(manual.status, manual.text).toBe(200);
    expect(manual.json.assigneeId).toBe("a3");
    // The hub follows the alert:assigned event: the open alert moved from a1 to a3, who is notified.
    expect(await loads()).toEqual([0, 0, 1]);
    expect(await count("SELECT count(*) AS n FROM notifications WHERE org_id = ? AND user_id = 'a3' AND type = 'alert.assigned'", org)).toBe(1);
    const routed = await call("POST", `/api/v1/alerts/${alert.id}/reassign`, { token: service, body: { route: true } });
    expect(routed.status, routed.text).toBe(200);
    expect(routed.json.assigneeId).not.toBe("a3");
    const kinds = (await assignmentsOf(org, alert.id)).map((r) => [r.kind, r.agent_id, r.previous_agent_id]);
    expect(kinds).toEqual([
      ["routed", "a1", null],
      ["manual", "a3", "a1"],
      ["routed", routed.json.assigneeId, "a3"],
    ]);
    const bad = await call("POST", `/api/v1/alerts/${alert.id}/reassign`, { token: admin, body: { agentId: "a1", route: true } });
    expect(bad.status).toBe(400);
    expect((await call("PATCH", `/api/v1/alerts/${alert.id}/status`, { token: admin, body: { status: "DISMISSED" } })).status).toBe(200);
    expect(await loads()).toEqual([0, 0, 0]);
    const closed = await call("POST", `/api/v1/alerts/${alert.id}/reassign`, { token: admin, body: { agentId: "a2" } });
    expect(closed.status).toBe(409);
    expect(closed.json.error.code).toBe("INVALID_TRANSITION");
  });

  it("a reassign by the rules that loses its race gives its reservation back at once: loads and rotation as before", async () => {
    const { org, service } = await routingOrg({ a1: {}, a2: {}, a3: {} }, [{ strategy: "round_robin" }]);
    const loads = async () => (await orgHub(env, org).routingState(["a1", "a2", "a3"])).map((s) => s.load);
    const alert = await create(service);
    expect(alert.assigneeId).toBe("a1");
    expect(await loads()).toEqual([1, 0, 0]);
    const real = await orgDeps(env, org);
    let decided: string | null = null;
    const racing: typeof real = {
      ...real,
      routing: {
        ...real.routing,
        route: async (orgId, request) => {
          const decision = await real.routing.route(orgId, request);
          decided = decision.agentId;
          // Between the decision and the write, an acknowledge reaches D1 (its event not yet at the hub).
          await real.db.update(alerts).set({ status: "ACKNOWLEDGED", acknowledgedAt: new Date() }).where(eq(alerts.id, alert.id));
          return decision;
        },
      },
    };
    await expect(reassignAlert(racing, { sub: "scorer", org, role: "service" }, alert.id, { route: true })).rejects.toMatchObject({ status: 409, code: "CONFLICT" });
    expect(decided).toBe("a2");
    // Right after the 409, not after ROUTING_RESERVATION_SECONDS: a1 still holds it, a2 holds nothing.
    expect(await loads()).toEqual([1, 0, 0]);
    // The rotation did not move either: the next routed alert goes to a2, not past it to a3.
    expect((await create(service)).assigneeId).toBe("a2");
  });

  it("bulk-assign gives queued alerts to an agent or through the rules, a result per id", async () => {
    const { org, admin, service } = await routingOrg({ a1: { availability: "away" }, a2: { availability: "away" } }, [{ strategy: "least_loaded" }]);
    const queued = [await create(service), await create(service), await create(service)];
    expect(queued.every((a) => a.assigneeId === null)).toBe(true);
    const toA1 = await call("POST", "/api/v1/routing/bulk-assign", { token: admin, body: { ids: [queued[0]!.id, "alr-missing"], agentId: "a1" } });
    expect(toA1.status, toA1.text).toBe(200);
    expect(toA1.json).toMatchObject({ succeeded: 1, failed: 1, results: [{ ok: true, alert: { assigneeId: "a1" } }, { ok: false, error: { code: "ALERT_NOT_FOUND" } }] });
    // Nobody available: routing fails per id; then a2 comes back.
    const none = await call("POST", "/api/v1/routing/bulk-assign", { token: admin, body: { ids: [queued[1]!.id], route: true } });
    expect(none.json.results[0]).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    await setProfile(org, "a2", { availability: "available" });
    const routed = await call("POST", "/api/v1/routing/bulk-assign", { token: service, body: { ids: [queued[1]!.id, queued[2]!.id], route: true } });
    expect(routed.json.succeeded).toBe(2);
    expect(routed.json.results.map((r: { alert: { assigneeId: string } }) => r.alert.assigneeId)).toEqual(["a2", "a2"]);
    const dup = await call("POST", "/api/v1/routing/bulk-assign", { token: admin, body: { ids: ["x", "x"], route: true } });
    expect(dup.status).toBe(400);
  });

  it("isolation: another org's agents are never chosen and its alerts are 404", async () => {
    const mine = await routingOrg({ m1: { availability: "away" } }, [{ strategy: "least_loaded" }]);
    // On the same shard, so only the org check keeps them apart.
    const theirs = await routingOrg({ t1: {} }, [{ strategy: "least_loaded" }], await orgBeside(mine.org, "rt"));
    expect((await create(mine.service)).assigneeId).toBeNull();
    const foreign = await create(theirs.service);
    expect(foreign.assigneeId).toBe("t1");
    const res = await call("POST", `/api/v1/alerts/${foreign.id}/reassign`, { token: mine.admin, body: { route: true } });
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe("ALERT_NOT_FOUND");
    const bulk = await call("POST", "/api/v1/routing/bulk-assign", { token: mine.admin, body: { ids: [foreign.id], agentId: "m1" } });
    expect(bulk.json.results[0]).toMatchObject({ ok: false, error: { code: "ALERT_NOT_FOUND" } });
  });

  it("an idempotent replay returns the first alert and reserves once", async () => {
    const { org, service } = await routingOrg({ a1: {}, a2: {} }, [{ strategy: "round_robin" }]);
    const headers = { "Idempotency-Key": "create-once" };
    const first = await create(service, {}, headers);
    const again = await create(service, {}, headers);
    expect(again.id).toBe(first.id);
    const twins = await Promise.all([create(service, { title: "twin" }, { "Idempotency-Key": "twin" }), create(service, { title: "twin" }, { "Idempotency-Key": "twin" })]);
    expect(twins[0]!.id).toBe(twins[1]!.id);
    const state = await orgHub(env, org).routingState(["a1", "a2"]);
    expect(state.reduce((n, s) => n + s.load, 0)).toBe(2);
    expect(await count("SELECT count(*) AS n FROM alert_assignments WHERE org_id = ?", org)).toBe(2);
  });
});

describe("RouterTable.undo (the hub part)", () => {
  /** Runs `fn` on the SQLite storage of a Durable Object no other test uses. */
  const withPart = <T>(fn: (part: RouterTable) => T) =>
    runInDurableObject(env.USER_HUB.getByName(`parts/${crypto.randomUUID()}`), (_i, state) =>
      fn(new RouterTable(state.storage.sql, new MetaTable(state.storage.sql), () => 60_000)),
    );
  const open = (id: string, agent: string, at: number) => ({ id, status: "PENDING" as const, assigneeId: agent, updatedAt: new Date(at).toISOString() });

  it("puts back a reassignment's entry, cursor and last assignment; a new alert's entry goes", async () => {
    await withPart((part) => {
      part.observe(open("x", "a1", 1_000));
      part.assigned("rr", "a1", 1_000);
      const r = part.reserveFor("x", "a2", "rr", 2_000);
      expect([part.load("a1"), part.load("a2"), part.cursor("rr"), part.lastAssignedAt("a2")]).toEqual([0, 1, "a2", 2_000]);
      part.undo(r);
      expect([part.load("a1"), part.load("a2"), part.cursor("rr"), part.lastAssignedAt("a2")]).toEqual([1, 0, "a1", null]);
      expect(part.entry("x")).toEqual({ agentId: "a1", updatedAt: 1_000, confirmed: true, reservedAt: null });
      // The assignment's event after all: it confirms as usual.
      part.observe(open("x", "a2", 3_000));
      expect([part.load("a1"), part.load("a2")]).toEqual([0, 1]);

      const fresh = part.reserveFor("y", "a3", "rr", 4_000);
      part.undo(fresh);
      expect(part.entry("y")).toBeNull();
      expect(part.cursor("rr")).toBe("a1");
    });
  });

  it("leaves what moved since: an entry an event confirmed, a cursor another decision moved", async () => {
    await withPart((part) => {
      part.observe(open("x", "a1", 1_000));
      const r = part.reserveFor("x", "a2", "rr", 2_000);
      part.observe({ ...open("x", "a1", 2_500), status: "ACKNOWLEDGED" }); // the change that won the race reached the hub first
      part.reserveFor("z", "a3", "rr", 2_600); // another decision moved the cursor
      part.undo(r);
      expect(part.entry("x")).toMatchObject({ agentId: "a1", updatedAt: 2_500, confirmed: true });
      expect(part.cursor("rr")).toBe("a3");
      expect(part.lastAssignedAt("a2")).toBeNull();
    });
  });
});
