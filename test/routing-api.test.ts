import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { alertAssignments, alerts } from "../src/db/schema";
import { AssignmentSchema } from "../src/protocol";
import { appDeps } from "../src/deps";
import { RoutingAgentPageSchema } from "../src/schemas/routing";
import { listRoutingAgents } from "../src/services/routing/agents";
import { assignmentRow, recordAssignment, toAssignment } from "../src/services/routing/assignments";
import { alertBody, call, makeToken, setupOrg, uniqueOrg } from "./helpers";
import { orgBeside, orgDb } from "./shard-helpers";
import { connect, eventually } from "./ws-helpers";

async function createAlert(token: string, overrides: Record<string, unknown> = {}) {
  const res = await call("POST", "/api/v1/alerts", { token, body: alertBody(overrides) });
  expect(res.status, res.text).toBe(201);
  return res.json as { id: string };
}

describe("agent profiles in the directory", () => {
  it("PUT /users/{id} sets territories, skills, capacity and availability; GET returns them; unsent fields stay", async () => {
    const { tokens } = await setupOrg();
    const put = await call("PUT", "/api/v1/users/agent1", {
      token: tokens.admin,
      body: { territories: ["CA", "94", "us-west"], skills: ["LIKELY_TO_SELL", "CHURN_RISK"], capacity: 3, availability: "away" },
    });
    expect(put.status, put.text).toBe(200);
    expect(put.json).toMatchObject({ role: "agent", territories: ["CA", "94", "us-west"], skills: ["LIKELY_TO_SELL", "CHURN_RISK"], capacity: 3, availability: "away" });
    const renamed = await call("PUT", "/api/v1/users/agent1", { token: tokens.admin, body: { name: "Ann" } });
    expect(renamed.json).toMatchObject({ name: "Ann", territories: ["CA", "94", "us-west"], capacity: 3, availability: "away" });
    const cleared = await call("PUT", "/api/v1/users/agent1", { token: tokens.admin, body: { capacity: null, territories: [] } });
    expect(cleared.json).toMatchObject({ capacity: null, territories: [] });
    const fresh = await call("GET", "/api/v1/users/agent2", { token: tokens.admin });
    expect(fresh.json).toMatchObject({ territories: [], skills: [], capacity: null, availability: "available" });
  });

  it.each([
    ["51 territories", { territories: Array.from({ length: 51 }, (_, i) => `T${i}`) }, "territories"],
    ["a territory of 33 characters", { territories: ["A".repeat(33)] }, "territories.0"],
    ["an empty territory", { territories: [""] }, "territories.0"],
    ["a territory with a space", { territories: ["San Francisco"] }, "territories.0"],
    ["duplicate territories", { territories: ["CA", "CA"] }, "territories"],
    ["51 skills", { skills: Array.from({ length: 51 }, (_, i) => `TYPE_${i}`) }, "skills"],
    ["a skill that is no alert type", { skills: ["likely to sell"] }, "skills.0"],
    ["capacity -1", { capacity: -1 }, "capacity"],
    ["capacity 10001", { capacity: 10_001 }, "capacity"],
    ["capacity 2.5", { capacity: 2.5 }, "capacity"],
    ["an unknown availability", { availability: "busy" }, "availability"],
  ])("refuses %s with 400 VALIDATION_FAILED", async (_name, body, path) => {
    const admin = await makeToken({ org: uniqueOrg(), role: "admin" });
    const res = await call("PUT", "/api/v1/users/a1", { token: admin, body });
    expect(res.status, res.text).toBe(400);
    expect(res.json.error.code).toBe("VALIDATION_FAILED");
    expect(res.json.error.details.issues.map((i: { path: string }) => i.path)).toContain(path);
  });

  it("accepts the bounds: 50 territories of 32 characters, capacity 0 and 10000", async () => {
    const admin = await makeToken({ org: uniqueOrg(), role: "admin" });
    const territories = Array.from({ length: 50 }, (_, i) => `${i}`.padStart(32, "x"));
    for (const capacity of [0, 10_000]) {
      const res = await call("PUT", "/api/v1/users/a1", { token: admin, body: { territories, capacity } });
      expect(res.status, res.text).toBeLessThan(300);
      expect(res.json.capacity).toBe(capacity);
    }
  });
});

describe("PUT /api/v1/me/availability", () => {
  it("lets an agent, a member and an admin set their own availability and answers their directory entry", async () => {
    const { org, tokens } = await setupOrg();
    for (const [token, id] of [[tokens.agent, "agent1"], [tokens.member, "member1"], [tokens.admin, "admin1"]] as const) {
      const res = await call("PUT", "/api/v1/me/availability", { token, body: { availability: "away" } });
      expect(res.status, res.text).toBe(200);
      expect(res.json).toMatchObject({ id, organizationId: org, availability: "away" });
    }
    const back = await call("PUT", "/api/v1/me/availability", { token: tokens.agent, body: { availability: "available" } });
    expect(back.json.availability).toBe("available");
    // An admin-set profile is untouched by it.
    expect((await call("GET", "/api/v1/users/agent1", { token: tokens.admin })).json).toMatchObject({ role: "agent", availability: "available" });
  });

  it("creates the directory entry from the token's claims when there is none", async () => {
    const org = uniqueOrg();
    const token = await makeToken({ org, sub: "newbie", role: "agent", email: "newbie@example.com", name: "New Bie" });
    const res = await call("PUT", "/api/v1/me/availability", { token, body: { availability: "offline" } });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ id: "newbie", role: "agent", email: "newbie@example.com", name: "New Bie", availability: "offline" });
  });

  it("refuses a service with 403 and a bad value with 400", async () => {
    const { tokens } = await setupOrg();
    const svc = await call("PUT", "/api/v1/me/availability", { token: tokens.service, body: { availability: "away" } });
    expect(svc.status).toBe(403);
    expect(svc.json.error.code).toBe("FORBIDDEN");
    for (const body of [{ availability: "busy" }, {}, { availability: "away", extra: 1 }]) {
      const res = await call("PUT", "/api/v1/me/availability", { token: tokens.agent, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.code).toBe("VALIDATION_FAILED");
    }
  });
});

describe("assignment records", () => {
  it("assignmentRow builds the row (pure) and toAssignment gives the protocol shape", () => {
    const now = new Date("2026-11-30T10:00:00Z");
    const row = assignmentRow({
      orgId: "o1",
      alertId: "alr_1",
      kind: "routed",
      agentId: "agent1",
      rule: { id: "rrl_1", name: "West", version: 3, strategy: "territory" },
      reason: "territory CA",
      actorId: "scorer",
      now,
    });
    expect(row).toMatchObject({ orgId: "o1", previousAgentId: null, ruleId: "rrl_1", ruleName: "West", ruleVersion: 3, strategy: "territory", level: 0, createdAt: now });
    expect(row.id).toMatch(/^asg_/);
    const queued = assignmentRow({ orgId: "o1", alertId: "alr_1", kind: "queued", agentId: null, reason: "nobody", actorId: "scorer", level: 0 });
    expect(queued).toMatchObject({ ruleId: null, ruleName: null, ruleVersion: null, strategy: null });
    const shape = toAssignment(row);
    expect(AssignmentSchema.parse(shape)).toEqual(shape);
    expect(shape).toMatchObject({ id: row.id, kind: "routed", createdAt: "2026-11-30T10:00:00.000Z" });
  });

  it("GET /alerts/{id}/assignments lists them oldest first for whoever may see the alert; 404 for others and other orgs", async () => {
    const { org, tokens } = await setupOrg();
    const alert = await createAlert(tokens.service, { assigneeId: "agent1" });
    const t0 = Date.now() - 60_000;
    const rows = [
      assignmentRow({ orgId: org, alertId: alert.id, kind: "escalated", agentId: "agent1", previousAgentId: "agent2", level: 1, reason: "SLA passed", actorId: "system:escalation", now: new Date(t0 + 2000) }),
      assignmentRow({ orgId: org, alertId: alert.id, kind: "routed", agentId: "agent2", rule: { id: "rrl_x", name: "Anyone", version: 1, strategy: "least_loaded" }, reason: "least loaded", actorId: "scorer", now: new Date(t0) }),
    ];
    const db = await orgDb(org);
    await db.delete(alertAssignments).where(eq(alertAssignments.alertId, alert.id));
    await db.batch([recordAssignment(db, rows[0]!), recordAssignment(db, rows[1]!)]);

    for (const token of [tokens.admin, tokens.service, tokens.agent]) {
      const res = await call("GET", `/api/v1/alerts/${alert.id}/assignments`, { token });
      expect(res.status, res.text).toBe(200);
      expect(res.json.truncated).toBe(false);
      expect(res.json.items.map((a: { kind: string }) => a.kind)).toEqual(["routed", "escalated"]);
      expect(res.json.items[0]).toEqual(toAssignment(rows[1]!));
    }
    // agent2 neither holds it nor is a recipient; another org's admin does not see it.
    const other = await makeToken({ org: uniqueOrg(), sub: "admin1", role: "admin" });
    for (const token of [tokens.agent2, tokens.member, other]) {
      const res = await call("GET", `/api/v1/alerts/${alert.id}/assignments`, { token });
      expect(res.status, res.text).toBe(404);
      expect(res.json.error.code).toBe("ALERT_NOT_FOUND");
    }
    const none = await createAlert(tokens.service, { assigneeId: "agent1" });
    expect((await call("GET", `/api/v1/alerts/${none.id}/assignments`, { token: tokens.admin })).json.items).toEqual([]);
  });
});

describe("GET /api/v1/routing/agents", () => {
  it("lists agents and admins with profile, effective capacity, open load from D1 and online from presence", async () => {
    const { tokens } = await setupOrg();
    await call("PUT", "/api/v1/users/agent1", { token: tokens.admin, body: { territories: ["CA"], skills: ["LIKELY_TO_SELL"], capacity: 4 } });
    await call("PUT", "/api/v1/me/availability", { token: tokens.agent2, body: { availability: "away" } });
    const open = [await createAlert(tokens.service, { assigneeId: "agent1" }), await createAlert(tokens.service, { assigneeId: "agent1" })];
    await createAlert(tokens.service, { assigneeId: "agent2" });
    const done = await createAlert(tokens.service, { assigneeId: "agent1" });
    expect((await call("PATCH", `/api/v1/alerts/${done.id}/status`, { token: tokens.admin, body: { status: "RESOLVED" } })).status).toBe(200);
    expect((await call("PATCH", `/api/v1/alerts/${open[1]!.id}/status`, { token: tokens.admin, body: { status: "ACKNOWLEDGED" } })).status).toBe(200);

    const socket = await connect("/api/v1/ws/org", { token: tokens.agent });
    try {
      let res!: Awaited<ReturnType<typeof call>>;
      await eventually(async () => {
        res = await call("GET", "/api/v1/routing/agents", { token: tokens.service });
        return res.json?.items?.find((a: { id: string }) => a.id === "agent1")?.online === true;
      }, "agent1 online");
      expect(res.status).toBe(200);
      expect(res.json.nextCursor).toBeNull();
      expect(res.json.items.map((a: { id: string }) => a.id)).toEqual(["admin1", "agent1", "agent2"]);
      const [admin, agent1, agent2] = res.json.items;
      expect(agent1).toMatchObject({ role: "agent", territories: ["CA"], skills: ["LIKELY_TO_SELL"], capacity: 4, effectiveCapacity: 4, availability: "available", openLoad: 2, online: true });
      expect(agent2).toMatchObject({ capacity: null, effectiveCapacity: 25, availability: "away", openLoad: 1, online: false });
      expect(admin).toMatchObject({ role: "admin", openLoad: 0 });
    } finally {
      socket.close();
    }
  });

  it("the org hub unreachable: 200 with online null (unknown) for every agent, the rest from D1", async () => {
    const { org, tokens } = await setupOrg();
    await createAlert(tokens.service, { assigneeId: "agent1" });
    const down = { presence: () => Promise.reject(new Error("hub down")) };
    const page = await listRoutingAgents(await orgDb(org), appDeps(env).config, down, { sub: "admin1", org, role: "admin" }, { limit: 50 });
    expect(page.items.map((a) => [a.id, a.online, a.openLoad])).toEqual([
      ["admin1", null, 0],
      ["agent1", null, 1],
      ["agent2", null, 0],
    ]);
    expect(page.nextCursor).toBeNull();
    // The response schema admits it.
    expect(RoutingAgentPageSchema.safeParse(page).success).toBe(true);
  });

  it("pages by id with a cursor; a bad cursor is 400 INVALID_CURSOR; another org's agents are not listed", async () => {
    const { org, tokens } = await setupOrg();
    // On the same shard, so only the org check keeps them apart.
    const other = await setupOrg(await orgBeside(org));
    await call("PUT", "/api/v1/users/zed", { token: other.tokens.admin, body: { role: "agent" } });
    const first = await call("GET", "/api/v1/routing/agents?limit=2", { token: tokens.admin });
    expect(first.json.items.map((a: { id: string }) => a.id)).toEqual(["admin1", "agent1"]);
    const second = await call("GET", `/api/v1/routing/agents?limit=2&cursor=${first.json.nextCursor}`, { token: tokens.admin });
    expect(second.json.items.map((a: { id: string }) => a.id)).toEqual(["agent2"]);
    expect(second.json.nextCursor).toBeNull();
    const bad = await call("GET", "/api/v1/routing/agents?cursor=nope", { token: tokens.admin });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("INVALID_CURSOR");
    for (const token of [tokens.agent, tokens.member]) expect((await call("GET", "/api/v1/routing/agents", { token })).status).toBe(403);
  });
});

describe("GET /api/v1/routing/stats", () => {
  it("counts assignments by kind per agent and rule, the median time to acknowledge and the conversion rate", async () => {
    const { org, tokens } = await setupOrg();
    const t0 = Date.now() - 3_600_000;
    const rule = { id: "rrl_a", name: "Anyone", version: 2, strategy: "least_loaded" as const };
    const mk = () => createAlert(tokens.service, { assigneeId: "agent1" });
    const [a1, a2, a3, a4, a5] = [await mk(), await mk(), await mk(), await mk(), await mk()];
    const row = (alertId: string, agentId: string | null, at: number, kind: "routed" | "manual" | "escalated" | "queued" = "routed") =>
      assignmentRow({ orgId: org, alertId, kind, agentId, rule: kind === "manual" ? null : rule, reason: "test", actorId: "scorer", now: new Date(t0 + at) });
    const rows = [
      row(a1!.id, "agent1", 0), // acknowledged after 10 s, converted
      row(a2!.id, "agent1", 0), // acknowledged after 30 s
      row(a3!.id, "agent1", 0), // acknowledged after 50 s
      row(a4!.id, "agent1", 0), // escalated away after 60 s, then acknowledged by agent2 20 s later and converted
      row(a4!.id, "agent2", 60_000, "escalated"),
      row(a5!.id, null, 0, "queued"),
      row(a5!.id, "agent2", 5_000, "manual"), // never acknowledged
    ];
    // The test owns the org's assignment records: drop whatever creating the alerts recorded.
    const db = await orgDb(org);
    await db.delete(alertAssignments).where(eq(alertAssignments.orgId, org));
    await db.batch([recordAssignment(db, rows[0]!), ...rows.slice(1).map((r) => recordAssignment(db, r))]);
    const set = (id: string, values: Partial<typeof alerts.$inferInsert>) => db.update(alerts).set(values).where(and(eq(alerts.orgId, org), eq(alerts.id, id)));
    await db.batch([
      set(a1!.id, { status: "CONVERTED", acknowledgedAt: new Date(t0 + 10_000), convertedAt: new Date(t0 + 100_000) }),
      set(a2!.id, { status: "ACKNOWLEDGED", acknowledgedAt: new Date(t0 + 30_000) }),
      set(a3!.id, { status: "ACKNOWLEDGED", acknowledgedAt: new Date(t0 + 50_000) }),
      set(a4!.id, { status: "CONVERTED", assigneeId: "agent2", acknowledgedAt: new Date(t0 + 80_000), convertedAt: new Date(t0 + 90_000) }),
    ]);

    const res = await call("GET", "/api/v1/routing/stats", { token: tokens.admin });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ assignments: 7, byKind: { routed: 4, escalated: 1, manual: 1, queued: 1 }, truncated: false });
    const agents = Object.fromEntries(res.json.agents.map((a: { agentId: string }) => [a.agentId, a]));
    expect(agents.agent1).toEqual({
      agentId: "agent1",
      name: null,
      assignments: 4,
      byKind: { routed: 4, manual: 0, escalated: 0 },
      alerts: 4,
      acknowledged: 3,
      medianTimeToAcknowledgeMs: 30_000,
      conversions: 1,
      conversionRate: 0.25,
    });
    expect(agents.agent2).toMatchObject({ assignments: 2, byKind: { routed: 0, manual: 1, escalated: 1 }, alerts: 2, acknowledged: 1, medianTimeToAcknowledgeMs: 20_000, conversions: 1, conversionRate: 0.5 });
    expect(res.json.rules).toEqual([{ ruleId: "rrl_a", name: "Anyone", assignments: 6, byKind: { routed: 4, manual: 0, escalated: 1, queued: 1 } }]);

    // The window excludes what is outside it.
    const narrow = await call("GET", `/api/v1/routing/stats?since=${new Date(t0 + 1000).toISOString()}`, { token: tokens.admin });
    expect(narrow.json.byKind).toEqual({ routed: 0, manual: 1, escalated: 1, queued: 0 });
    expect(narrow.json.agents.map((a: { agentId: string }) => a.agentId)).toEqual(["agent2"]);
    const before = await call("GET", `/api/v1/routing/stats?until=${new Date(t0).toISOString()}`, { token: tokens.admin });
    expect(before.json).toMatchObject({ assignments: 0, agents: [], rules: [] });
  });

  it("takes the median of an even count as the mean of the middle two", async () => {
    const { org, tokens } = await setupOrg();
    const t0 = Date.now() - 600_000;
    const waits = [10_000, 20_000, 40_000, 100_000];
    const created = [];
    for (const _ of waits) created.push(await createAlert(tokens.service, { assigneeId: "agent1" }));
    const db = await orgDb(org);
    await db.delete(alertAssignments).where(eq(alertAssignments.orgId, org));
    const [first, ...rest] = created.flatMap((a, i) => [
      recordAssignment(db, assignmentRow({ orgId: org, alertId: a.id, kind: "manual", agentId: "agent1", reason: "t", actorId: "admin1", now: new Date(t0) })),
      db.update(alerts).set({ status: "ACKNOWLEDGED", acknowledgedAt: new Date(t0 + waits[i]!) }).where(eq(alerts.id, a.id)),
    ]);
    await db.batch([first!, ...rest]);
    const res = await call("GET", "/api/v1/routing/stats", { token: tokens.admin });
    expect(res.json.agents[0]).toMatchObject({ agentId: "agent1", acknowledged: 4, medianTimeToAcknowledgeMs: 30_000, conversionRate: 0 });
  });

  it("is admin only, validates the window, and never shows another org's assignments", async () => {
    const { org, tokens } = await setupOrg();
    // On the same shard, so only the org check keeps the assignments apart.
    const other = await setupOrg(await orgBeside(org));
    const a = await createAlert(tokens.service, { assigneeId: "agent1" });
    const db = await orgDb(org);
    await db.delete(alertAssignments).where(eq(alertAssignments.orgId, org));
    await recordAssignment(db, assignmentRow({ orgId: org, alertId: a.id, kind: "manual", agentId: "agent1", reason: "t", actorId: "admin1" }));
    const theirs = await call("GET", "/api/v1/routing/stats", { token: other.tokens.admin });
    expect(theirs.json).toMatchObject({ assignments: 0, agents: [], rules: [] });
    expect((await call("GET", "/api/v1/routing/stats", { token: tokens.admin })).json.assignments).toBe(1);
    for (const token of [tokens.service, tokens.agent, tokens.member]) expect((await call("GET", "/api/v1/routing/stats", { token })).status).toBe(403);
    const reversed = await call("GET", "/api/v1/routing/stats?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", { token: tokens.admin });
    expect(reversed.status).toBe(400);
    expect(reversed.json.error.code).toBe("VALIDATION_FAILED");
    const count = await db.select().from(alertAssignments).where(eq(alertAssignments.orgId, other.org));
    expect(count).toEqual([]);
  });
});
