import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, asc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { alertAssignments, alerts, routingRules, users, type EscalationPolicy, type RoutingRuleRow } from "../src/db/schema";
import { Escalations } from "../src/realtime/escalations";
import { ESCALATIONS_PER_ALARM, type OrgHub } from "../src/realtime/org-hub";
import { formatSla } from "../src/services/routing/escalate";
import type { Alert } from "../src/schemas/alerts";
import type { AlertEventData, EventFrame, ServerFrame } from "../src/protocol";
import { alertBody, call, makeToken, setupOrg, uniqueOrg } from "./helpers";
import { orgBeside, orgD1, orgDb } from "./shard-helpers";
import { connect, eventually } from "./ws-helpers";

// Escalation (docs/ROUTING.md, "Escalation"): the org hub's alarm fires at
// assignment + SLA; a still-PENDING alert goes to the next agent with a
// conditional update (an acknowledge that came first wins), an `escalated`
// assignment and `alert:escalated`; the chain ends at maxLevels or when nobody
// is left, once. Every test uses its own org.

const orgHubOf = (org: string) => env.ORG_HUB.getByName(org);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alarmOf = (org: string) => runInDurableObject(orgHubOf(org), (_i, state) => state.storage.getAlarm());

/** Waits until the clock is past `ms`. */
async function untilPast(ms: number): Promise<void> {
  while (Date.now() <= ms) await sleep(Math.min(100, ms - Date.now() + 1));
}

/** An org (admin1, agent1, agent2, member1) plus agent3, a rule with `policy`, and admin1 away (so it is never escalated to). */
async function setup(policy: EscalationPolicy, strategy: RoutingRuleRow["strategy"] = "least_loaded", orgId?: string) {
  const { org, tokens } = await setupOrg(orgId);
  const db = await orgDb(org);
  const put = await call("PUT", "/api/v1/users/agent3", { token: tokens.admin, body: { role: "agent" } });
  expect(put.status, put.text).toBeLessThan(300);
  const admin = await call("PUT", "/api/v1/users/admin1", { token: tokens.admin, body: { role: "admin" } });
  expect(admin.status, admin.text).toBeLessThan(300);
  await db.update(users).set({ availability: "away" }).where(and(eq(users.orgId, org), eq(users.id, "admin1")));
  const now = new Date();
  const ruleId = `rule-${crypto.randomUUID().slice(0, 8)}`;
  await db
    .insert(routingRules)
    .values({ id: ruleId, orgId: org, name: "Everyone", position: 0, version: 1, strategy, escalation: policy, createdBy: "admin1", createdAt: now, updatedAt: now });
  return { org, tokens, ruleId, agent3: await makeToken({ org, sub: "agent3", role: "agent" }) };
}

/**
 * A HIGH alert assigned to agent1 (the routed assignment, level 0) and its
 * escalation scheduled in the org hub at assignment + SLA, as routing does.
 */
async function routedAlert(org: string, token: string, ruleId: string, slaSeconds: number) {
  const res = await call("POST", "/api/v1/alerts", { token, body: alertBody({ assigneeId: "agent1" }) });
  expect(res.status, res.text).toBe(201);
  const alert = res.json as { id: string; assignedAt: string; updatedAt: string };
  const assignedAt = Date.parse(alert.assignedAt);
  await (await orgDb(org)).insert(alertAssignments).values({
    id: `asg-${crypto.randomUUID()}`,
    orgId: org,
    alertId: alert.id,
    kind: "routed",
    agentId: "agent1",
    previousAgentId: null,
    ruleId,
    ruleName: "Everyone",
    ruleVersion: 1,
    strategy: "least_loaded",
    reason: "test",
    level: 0,
    actorId: "herald",
    createdAt: new Date(assignedAt),
  });
  const dueAt = assignedAt + slaSeconds * 1000;
  await orgHubOf(org).scheduleEscalation(alert.id, { ruleId, level: 0, dueAt, assigneeId: "agent1", priority: "HIGH", since: Date.parse(alert.updatedAt) });
  return { id: alert.id, dueAt };
}

const assignmentsOf = async (org: string, alertId: string) =>
  (await orgDb(org))
    .select()
    .from(alertAssignments)
    .where(eq(alertAssignments.alertId, alertId))
    .orderBy(asc(alertAssignments.createdAt), asc(alertAssignments.level));

const alertRow = async (org: string, alertId: string) => (await (await orgDb(org)).select().from(alerts).where(eq(alerts.id, alertId)))[0]!;

const escalatedOf = (alertId: string) => (f: ServerFrame) =>
  f.type === "alert:escalated" && (f as EventFrame<AlertEventData>).data.alert.id === alertId;

interface Notice {
  type: string;
  title: string;
  message: string | null;
  priority: string;
  actionUrl: string | null;
  data: { alertId?: string };
}

async function notices(token: string, alertId: string, type: string) {
  const res = await call("GET", "/api/v1/notifications?limit=100", { token });
  expect(res.status, res.text).toBe(200);
  return (res.json.items as Notice[]).filter((n) => n.type === type && n.data.alertId === alertId);
}

/** The email deliveries' rendered payloads of a user in an org. */
/** Events of the org not marked published yet. */
async function unpublishedEvents(org: string): Promise<number> {
  const row = await (await orgD1(org)).prepare("SELECT count(*) AS n FROM realtime_events WHERE org_id = ? AND published_at IS NULL").bind(org).first<{ n: number }>();
  return row!.n;
}

async function emailPayloads(org: string, userId: string) {
  const { results } = await (await orgD1(org)).prepare("SELECT payload FROM deliveries WHERE org_id = ? AND user_id = ? AND channel = 'email'")
    .bind(org, userId)
    .all<{ payload: string }>();
  return results.map((r) => JSON.parse(r.payload) as { subject: string; text: string; html: string });
}

describe("escalation on the org hub's alarm", () => {
  it("arms the alarm at exactly assignment + SLA; early it does nothing; at due it reassigns, records, publishes and notifies once", async () => {
    const { org, tokens, ruleId } = await setup({ slaSeconds: { HIGH: 2 }, to: "pool", poolAgentIds: ["agent3", "agent2"], maxLevels: 1 });
    const feed = await connect("/api/v1/ws/org", { token: tokens.admin });
    const agent2Stream = await connect("/api/v1/ws", { token: tokens.agent2 });
    const agent1Stream = await connect("/api/v1/ws", { token: tokens.agent });
    // agent3 (first of the pool) is away: the pool's next qualifying agent is agent2.
    await (await orgDb(org)).update(users).set({ availability: "away" }).where(and(eq(users.orgId, org), eq(users.id, "agent3")));
    await (await orgDb(org)).update(users).set({ name: "Avery Agent" }).where(and(eq(users.orgId, org), eq(users.id, "agent1")));
    await (await orgDb(org)).update(users).set({ email: "agent2@example.com" }).where(and(eq(users.orgId, org), eq(users.id, "agent2")));
    const { id, dueAt } = await routedAlert(org, tokens.admin, ruleId, 2);

    expect(await alarmOf(org)).toBe(dueAt);
    expect(await orgHubOf(org).pendingEscalation(id)).toMatchObject({ level: 0, dueAt, assigneeId: "agent1", ruleId });

    // Early: nothing happens, the alarm stays at due.
    await runDurableObjectAlarm(orgHubOf(org));
    expect((await alertRow(org, id)).assigneeId).toBe("agent1");
    expect(await assignmentsOf(org, id)).toHaveLength(1);
    expect(await alarmOf(org)).toBe(dueAt);

    await untilPast(dueAt);
    await runDurableObjectAlarm(orgHubOf(org)); // it may have fired already: harmless
    await eventually(async () => (await alertRow(org, id)).assigneeId === "agent2", "the escalation reassigned the alert");

    const row = await alertRow(org, id);
    expect(row.status).toBe("PENDING");
    const records = await assignmentsOf(org, id);
    expect(records.map((r) => [r.kind, r.agentId, r.previousAgentId, r.level])).toEqual([
      ["routed", "agent1", null, 0],
      ["escalated", "agent2", "agent1", 1],
    ]);
    expect(records[1]).toMatchObject({ ruleId, ruleName: "Everyone", ruleVersion: 1, actorId: "system:escalation" });
    const history = await call("GET", `/api/v1/alerts/${id}/history`, { token: tokens.admin });
    expect((history.json.items ?? history.json).some((h: { action: string; assigneeId: string }) => h.action === "escalated" && h.assigneeId === "agent2")).toBe(true);

    // The org feed, the new assignee and the previous one see alert:escalated with the assignment.
    for (const s of [feed, agent2Stream, agent1Stream]) {
      const frame = await s.waitFor<EventFrame<AlertEventData>>(escalatedOf(id));
      expect(frame.data.alert.assigneeId).toBe("agent2");
      expect(frame.data.assignment).toMatchObject({ kind: "escalated", agentId: "agent2", previousAgentId: "agent1", level: 1, ruleId });
      expect(frame.data.change).toMatchObject({ previousAssigneeId: "agent1" });
    }
    // agent2 is notified with the escalation's own notification (not the assignment's), by the channels HIGH calls for.
    await eventually(async () => (await notices(tokens.agent2, id, "alert.escalated")).length === 1, "agent2 notified");
    const title = "Escalated to you: Jane Doe is likely to sell — not acknowledged by Avery Agent within 2 s";
    expect((await notices(tokens.agent2, id, "alert.escalated"))[0]).toMatchObject({
      title,
      message: "A HIGH alert about Jane Doe, escalated to level 1",
      priority: "HIGH",
      actionUrl: `/alerts/${id}`,
    });
    expect(await notices(tokens.agent2, id, "alert.assigned")).toHaveLength(0);
    await eventually(async () => (await emailPayloads(org, "agent2")).length === 1, "agent2's email delivery");
    const [email] = await emailPayloads(org, "agent2");
    expect(email!.subject).toBe(`[HIGH] ${title}`);
    expect(email!.text).toContain("A HIGH alert about Jane Doe, escalated to level 1");
    expect(email!.html).toContain("Escalated to you: Jane Doe is likely to sell");
    // Published from the org hub's alarm: its events are marked published in the background too (PublishedMarks).
    await eventually(async () => (await unpublishedEvents(org)) === 0, "the escalation's events marked published");

    // maxLevels 1: the next SLA ends the chain once, the alert stays with agent2.
    const next = await orgHubOf(org).pendingEscalation(id);
    expect(next).toMatchObject({ level: 1, assigneeId: "agent2" });
    expect(await alarmOf(org)).toBe(next!.dueAt);
    await untilPast(next!.dueAt);
    await runDurableObjectAlarm(orgHubOf(org));
    await eventually(async () => (await assignmentsOf(org, id)).length === 3, "the chain's end recorded");
    await sleep(300);
    expect((await assignmentsOf(org, id)).map((r) => [r.kind, r.agentId, r.level])).toEqual([
      ["routed", "agent1", 0],
      ["escalated", "agent2", 1],
      ["escalated", null, 1],
    ]);
    expect((await alertRow(org, id)).assigneeId).toBe("agent2");
    expect(await orgHubOf(org).pendingEscalation(id)).toBeNull();
    await feed.waitForCount(escalatedOf(id), 2);
    expect(await notices(tokens.agent2, id, "alert.escalated")).toHaveLength(1);
    for (const s of [feed, agent2Stream, agent1Stream]) s.close();
  }, 20_000);

  it("end to end: a rule (REST) routes an alert on create, the hub arms its alarm at assignment + SLA, and the SLA escalates it to another agent", async () => {
    const { org, tokens } = await setupOrg();
    for (const id of ["agent3", "admin1"]) {
      const put = await call("PUT", `/api/v1/users/${id}`, { token: tokens.admin, body: { role: id === "admin1" ? "admin" : "agent" } });
      expect(put.status, put.text).toBeLessThan(300);
    }
    const away = await call("PUT", "/api/v1/me/availability", { token: tokens.admin, body: { availability: "away" } });
    expect(away.status, away.text).toBe(200);
    const rule = await call("POST", "/api/v1/routing/rules", {
      token: tokens.admin,
      body: { name: "Everyone", match: {}, strategy: "least_loaded", escalation: { slaSeconds: { HIGH: 10 }, to: "next_agent", maxLevels: 1 } },
    });
    expect(rule.status, rule.text).toBe(201);
    const created = await call("POST", "/api/v1/alerts", { token: tokens.service, body: alertBody() });
    expect(created.status, created.text).toBe(201);
    const alert = created.json as { id: string; assigneeId: string | null; assignedAt: string };
    expect(alert.assigneeId).not.toBeNull();

    const pending = await orgHubOf(org).pendingEscalation(alert.id);
    expect(pending).toMatchObject({ level: 0, assigneeId: alert.assigneeId, ruleId: rule.json.id });
    // Armed at exactly the assignment (the create's time, the row's assignedAt) + SLA.
    expect(pending!.dueAt).toBe(Date.parse(alert.assignedAt) + 10_000);
    expect(await alarmOf(org)).toBe(pending!.dueAt);

    // Fast-forward (the API's shortest SLA is 10 s): the same escalation, due now.
    const dueNow = Date.now() + 100;
    await orgHubOf(org).scheduleEscalation(alert.id, { ...pending!, dueAt: dueNow });
    await untilPast(dueNow);
    await runDurableObjectAlarm(orgHubOf(org));
    await eventually(async () => (await assignmentsOf(org, alert.id)).some((r) => r.kind === "escalated"), "escalated");
    const records = await call("GET", `/api/v1/alerts/${alert.id}/assignments`, { token: tokens.admin });
    expect(records.status, records.text).toBe(200);
    const items = records.json.items as { kind: string; agentId: string | null; previousAgentId: string | null; level: number }[];
    expect(items.map((r) => [r.kind, r.level])).toEqual([
      ["routed", 0],
      ["escalated", 1],
    ]);
    expect(items[1]!.previousAgentId).toBe(alert.assigneeId);
    expect(items[1]!.agentId).not.toBe(alert.assigneeId);
    expect(["agent1", "agent2", "agent3"]).toContain(items[1]!.agentId);
    expect((await alertRow(org, alert.id)).assigneeId).toBe(items[1]!.agentId);
  }, 15_000);

  it("the escalation's notification respects the new assignee's preferences by type", async () => {
    const { org, tokens, ruleId } = await setup({ slaSeconds: { HIGH: 1 }, to: "pool", poolAgentIds: ["agent2"], maxLevels: 1 });
    await (await orgDb(org)).update(users).set({ email: "agent2@example.com" }).where(and(eq(users.orgId, org), eq(users.id, "agent2")));
    const prefs = await call("PUT", "/api/v1/me/preferences", { token: tokens.agent2, body: { types: { "alert.escalated": { email: false } } } });
    expect(prefs.status, prefs.text).toBe(200);
    const { id } = await routedAlert(org, tokens.admin, ruleId, 1);
    await eventually(async () => (await notices(tokens.agent2, id, "alert.escalated")).length === 1, "agent2 notified in-app", 5000);
    expect(await emailPayloads(org, "agent2")).toHaveLength(0);
  }, 10_000);

  it("a reassignment through the rules starts the SLA at exactly its assignment time", async () => {
    const { org, tokens, ruleId } = await setup({ slaSeconds: { HIGH: 600 }, to: "next_agent", maxLevels: 1 });
    const { id } = await routedAlert(org, tokens.admin, ruleId, 600);
    const moved = await call("POST", `/api/v1/alerts/${id}/reassign`, { token: tokens.service, body: { route: true } });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.json.assigneeId).not.toBe("agent1");
    const pending = await orgHubOf(org).pendingEscalation(id);
    expect(pending).toMatchObject({ level: 0, assigneeId: moved.json.assigneeId, ruleId, since: Date.parse(moved.json.updatedAt) });
    expect(pending!.dueAt).toBe(Date.parse(moved.json.assignedAt) + 600_000);
  });

  it("an acknowledge before due cancels the escalation: the alarm reassigns nothing", async () => {
    const { org, tokens, ruleId } = await setup({ slaSeconds: { HIGH: 1 }, to: "next_agent", maxLevels: 3 });
    const { id, dueAt } = await routedAlert(org, tokens.admin, ruleId, 1);
    const ack = await call("PATCH", `/api/v1/alerts/${id}/status`, { token: tokens.agent, body: { status: "ACKNOWLEDGED" } });
    expect(ack.status, ack.text).toBe(200);
    await eventually(async () => (await orgHubOf(org).pendingEscalation(id)) === null, "the acknowledge cancelled the escalation");
    await untilPast(dueAt);
    await runDurableObjectAlarm(orgHubOf(org));
    await sleep(200);
    expect(await alertRow(org, id)).toMatchObject({ assigneeId: "agent1", status: "ACKNOWLEDGED" });
    expect(await assignmentsOf(org, id)).toHaveLength(1);
  });

  it("a manual reassignment cancels the escalation; a late event from before the escalation's assignment does not", async () => {
    const { org, tokens, ruleId } = await setup({ slaSeconds: { HIGH: 60 }, to: "next_agent", maxLevels: 3 });
    const { id } = await routedAlert(org, tokens.admin, ruleId, 60);
    const alert = (await call("GET", `/api/v1/alerts/${id}`, { token: tokens.admin })).json;
    // A redelivered older event (same assignee) or one older than the escalation: ignored.
    await orgHubOf(org).publishMany([
      { event: { id: `evt-old-${crypto.randomUUID()}`, type: "alert:assigned", ts: Date.now(), data: { alert: { ...alert, assigneeId: "agent9", updatedAt: new Date(0).toISOString() } } }, userIds: [] },
    ]);
    expect(await orgHubOf(org).pendingEscalation(id)).not.toBeNull();
    const moved = await call("POST", `/api/v1/alerts/${id}/assign`, { token: tokens.admin, body: { agentId: "agent2" } });
    expect(moved.status, moved.text).toBe(200);
    await eventually(async () => (await orgHubOf(org).pendingEscalation(id)) === null, "the reassignment cancelled the escalation");
  });

  it("a chain with maxLevels 2 over three agents escalates twice, to two different agents, then ends once and never loops", async () => {
    const { org, tokens, ruleId } = await setup({ slaSeconds: { HIGH: 1 }, to: "next_agent", maxLevels: 2 });
    const { id } = await routedAlert(org, tokens.admin, ruleId, 1);
    await eventually(async () => (await assignmentsOf(org, id)).length >= 4, "two escalations and the end", 8000);
    await sleep(2500); // more than an SLA: nothing more happens
    const records = await assignmentsOf(org, id);
    expect(records.map((r) => [r.kind, r.level])).toEqual([
      ["routed", 0],
      ["escalated", 1],
      ["escalated", 2],
      ["escalated", 2],
    ]);
    const [, first, second, last] = records;
    expect(new Set([first!.agentId, second!.agentId])).toEqual(new Set(["agent2", "agent3"]));
    expect(second!.previousAgentId).toBe(first!.agentId);
    expect(last!.agentId).toBeNull();
    expect(last!.reason).toMatch(/2 escalation/);
    expect((await alertRow(org, id)).assigneeId).toBe(second!.agentId);
    expect(await orgHubOf(org).pendingEscalation(id)).toBeNull();
  }, 20_000);

  it("nobody left: the chain ends at once with one record, and the alert stays with its assignee", async () => {
    const { org, tokens, ruleId } = await setup({ slaSeconds: { HIGH: 1 }, to: "pool", poolAgentIds: ["agent1", "nobody"], maxLevels: 3 });
    const { id } = await routedAlert(org, tokens.admin, ruleId, 1);
    await eventually(async () => (await assignmentsOf(org, id)).length === 2, "the end recorded", 5000);
    await sleep(1500);
    const records = await assignmentsOf(org, id);
    expect(records.map((r) => [r.kind, r.agentId, r.level])).toEqual([
      ["routed", "agent1", 0],
      ["escalated", null, 0],
    ]);
    expect(records[1]!.reason).toMatch(/no agent left/);
    expect((await alertRow(org, id)).assigneeId).toBe("agent1");
  }, 10_000);

  it("pool: the first agent of the pool not tried yet who is available and under capacity", async () => {
    const { org, tokens, ruleId } = await setup({ slaSeconds: { HIGH: 1 }, to: "pool", poolAgentIds: ["agent1", "agent2", "member1", "agent3"], maxLevels: 3 });
    // agent2 is at capacity (one open alert, capacity 1); member1 is no agent; agent1 already has it.
    await (await orgDb(org)).update(users).set({ capacity: 1 }).where(and(eq(users.orgId, org), eq(users.id, "agent2")));
    const busy = await call("POST", "/api/v1/alerts", { token: tokens.admin, body: alertBody({ assigneeId: "agent2" }) });
    expect(busy.status, busy.text).toBe(201);
    const { id } = await routedAlert(org, tokens.admin, ruleId, 1);
    await eventually(async () => (await assignmentsOf(org, id)).length === 2, "escalated", 5000);
    const [, escalated] = await assignmentsOf(org, id);
    expect(escalated).toMatchObject({ kind: "escalated", agentId: "agent3", previousAgentId: "agent1", level: 1 });
    expect(escalated!.reason).toMatch(/pool/);
  }, 10_000);

  it("an acknowledge that reached D1 just before the alarm wins, even before its event reached the hub", async () => {
    const { org, tokens, ruleId } = await setup({ slaSeconds: { HIGH: 1 }, to: "next_agent", maxLevels: 3 });
    const { id, dueAt } = await routedAlert(org, tokens.admin, ruleId, 1);
    // The acknowledge's write, without its event (still on its way to the hub).
    await (await orgDb(org)).update(alerts).set({ status: "ACKNOWLEDGED", acknowledgedAt: new Date() }).where(eq(alerts.id, id));
    await untilPast(dueAt);
    await runDurableObjectAlarm(orgHubOf(org));
    await eventually(async () => (await orgHubOf(org).pendingEscalation(id)) === null, "the escalation was dropped");
    expect(await alertRow(org, id)).toMatchObject({ assigneeId: "agent1", status: "ACKNOWLEDGED" });
    expect(await assignmentsOf(org, id)).toHaveLength(1);
  });

  it("a deleted or disabled rule drops the escalation", async () => {
    const { org, tokens, ruleId } = await setup({ slaSeconds: { HIGH: 1 }, to: "next_agent", maxLevels: 3 });
    const disabled = await routedAlert(org, tokens.admin, ruleId, 1);
    await (await orgDb(org)).update(routingRules).set({ enabled: false }).where(eq(routingRules.id, ruleId));
    await untilPast(disabled.dueAt);
    await runDurableObjectAlarm(orgHubOf(org));
    await eventually(async () => (await orgHubOf(org).pendingEscalation(disabled.id)) === null, "the disabled rule's escalation was dropped");

    await (await orgDb(org)).update(routingRules).set({ enabled: true }).where(eq(routingRules.id, ruleId));
    const deleted = await routedAlert(org, tokens.admin, ruleId, 1);
    await (await orgDb(org)).delete(routingRules).where(eq(routingRules.id, ruleId));
    await untilPast(deleted.dueAt);
    await runDurableObjectAlarm(orgHubOf(org));
    await eventually(async () => (await orgHubOf(org).pendingEscalation(deleted.id)) === null, "the deleted rule's escalation was dropped");
    for (const { id } of [disabled, deleted]) {
      expect((await alertRow(org, id)).assigneeId).toBe("agent1");
      expect(await assignmentsOf(org, id)).toHaveLength(1);
    }
  }, 10_000);

  it("one alarm runs at most ESCALATIONS_PER_ALARM escalations and re-arms for now; the next run takes the rest", async () => {
    const org = uniqueOrg("esc-bound");
    const stub = orgHubOf(org);
    const total = ESCALATIONS_PER_ALARM + 10;
    const pendingCount = (sql: SqlStorage) => sql.exec<{ n: number }>("SELECT count(*) AS n FROM escalations").one().n;
    const first = await runInDurableObject(stub, async (hub: OrgHub, state) => {
      // Written straight to the hub's table, all due already, with no alarm armed: only the runs below process them.
      // Their alerts do not exist in D1, so each run drops them (one D1 read each): what is counted is how many one run takes.
      const part = new Escalations(state.storage.sql);
      const dueAt = Date.now() - 1000;
      for (let i = 0; i < total; i++) part.schedule(`alr-gone-${String(i).padStart(3, "0")}`, { ruleId: "r", level: 0, dueAt, assigneeId: "agent1", priority: "HIGH" });
      expect(await state.storage.getAlarm()).toBeNull();
      await hub.alarm();
      // Read before anything else can run in the hub (the re-armed alarm may fire at once).
      const left = pendingCount(state.storage.sql);
      return { left, alarm: await state.storage.getAlarm(), at: Date.now() };
    });
    expect(first.left).toBe(total - ESCALATIONS_PER_ALARM);
    expect(first.alarm).not.toBeNull();
    expect(first.alarm!).toBeLessThanOrEqual(first.at);

    await runDurableObjectAlarm(stub); // it may have fired already: harmless
    await eventually(async () => (await runInDurableObject(stub, (_h, state) => pendingCount(state.storage.sql))) === 0, "the second run took the rest");
  }, 15_000);

  it("isolation: another org's hub never escalates this org's alert, nor with this org's rule", async () => {
    const a = await setup({ slaSeconds: { HIGH: 1 }, to: "next_agent", maxLevels: 3 });
    // On a's shard, so only the org check keeps b's hub off a's alert.
    const b = await setup({ slaSeconds: { HIGH: 1 }, to: "next_agent", maxLevels: 3 }, "least_loaded", await orgBeside(a.org));
    const res = await call("POST", "/api/v1/alerts", { token: a.tokens.admin, body: alertBody({ assigneeId: "agent1" }) });
    const dueAt = Date.now() + 500;
    await orgHubOf(b.org).scheduleEscalation(res.json.id, { ruleId: a.ruleId, level: 0, dueAt, assigneeId: "agent1", priority: "HIGH" });
    await untilPast(dueAt);
    await runDurableObjectAlarm(orgHubOf(b.org));
    await eventually(async () => (await orgHubOf(b.org).pendingEscalation(res.json.id)) === null, "dropped");
    expect((await alertRow(a.org, res.json.id)).assigneeId).toBe("agent1");
    expect(await assignmentsOf(a.org, res.json.id)).toHaveLength(0);
  });
});

describe("Escalations (the hub part)", () => {
  /** Runs `fn` on the SQLite storage of a Durable Object no other test uses. */
  const withPart = <T>(fn: (part: Escalations, sql: SqlStorage) => T) =>
    runInDurableObject(env.USER_HUB.getByName(`parts/${crypto.randomUUID()}`), (_i, state) => fn(new Escalations(state.storage.sql), state.storage.sql));
  const base = { ruleId: "r1", level: 0, assigneeId: "agent1", priority: "HIGH" as const };
  const alertOf = (id: string, patch: Partial<Alert>) => ({ id, status: "PENDING", assigneeId: "agent1", updatedAt: new Date(2_000).toISOString(), ...patch }) as Alert;

  it("keeps one per alert; nextAt is the earliest after schedules, replacements and cancels; due is ordered and bounded", async () => {
    await withPart((part, sql) => {
      expect(part.nextAt()).toBeUndefined();
      part.schedule("a", { ...base, dueAt: 3_000 });
      part.schedule("b", { ...base, dueAt: 1_000 });
      part.schedule("c", { ...base, dueAt: 2_000 });
      expect(part.nextAt()).toBe(1_000);
      part.schedule("b", { ...base, level: 1, dueAt: 5_000 }); // replaced: later
      expect(part.nextAt()).toBe(2_000);
      expect(part.get("b")).toMatchObject({ level: 1, dueAt: 5_000 });
      part.cancel("c");
      expect(part.nextAt()).toBe(3_000);
      expect(part.due(4_000, 10).map((e) => e.alertId)).toEqual(["a"]);
      part.schedule("d", { ...base, dueAt: 3_500 });
      expect(part.due(10_000, 2).map((e) => e.alertId)).toEqual(["a", "d"]);
      // A fresh part over the same table reads what is there.
      expect(new Escalations(sql).nextAt()).toBe(3_000);
      part.cancel("a");
      part.cancel("b");
      part.cancel("d");
      expect(part.nextAt()).toBeUndefined();
    });
  });

  it("observe: leaving PENDING or another assignee cancels; the same assignee or an event older than the assignment does not", async () => {
    await withPart((part) => {
      for (const id of ["same", "acked", "moved", "stale"]) part.schedule(id, { ...base, dueAt: 9_000, since: 2_000 });
      part.observe(alertOf("same", {}));
      part.observe(alertOf("acked", { status: "ACKNOWLEDGED" }));
      part.observe(alertOf("moved", { assigneeId: "agent2" }));
      part.observe(alertOf("stale", { assigneeId: "agent2", updatedAt: new Date(1_000).toISOString() }));
      part.observe(alertOf("unknown", { status: "RESOLVED" }));
      expect(["same", "acked", "moved", "stale"].map((id) => part.get(id) !== undefined)).toEqual([true, false, false, true]);
    });
  });
});

describe("formatSla (the escalation notification's words)", () => {
  it("says seconds, minutes and hours as an admin set them", () => {
    expect([2, 45, 60, 600, 3600, 5400, 5430, 86400].map(formatSla)).toEqual(["2 s", "45 s", "1 min", "10 min", "1 h", "1 h 30 min", "1 h 30 min 30 s", "24 h"]);
  });
});
