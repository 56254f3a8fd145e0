import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { appDeps } from "../src/deps";
import { alertBody, call, makeToken, setupOrg, uniqueOrg } from "./helpers";
import { orgBeside, orgD1 } from "./shard-helpers";

// The REST routes the dashboard reads beyond the alert and notification basics
// (packages/sdk/src/rest.ts: users.list, alerts.deliveries, alerts.volume).

type Org = Awaited<ReturnType<typeof setupOrg>>;

function expectError(res: { status: number; json: any; text: string }, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.json?.error?.code, res.text).toBe(code);
}

async function get(token: string, path: string) {
  const res = await call("GET", path, { token });
  expect(res.status, res.text).toBe(200);
  return res.json;
}

async function putUser(org: Org, id: string, body: Record<string, unknown>) {
  const res = await call("PUT", `/api/v1/users/${id}`, { token: org.tokens.admin, body });
  expect([200, 201], res.text).toContain(res.status);
}

async function createAlert(token: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const res = await call("POST", "/api/v1/alerts", { token, body: alertBody(overrides) });
  expect(res.status, res.text).toBe(201);
  return res.json.id as string;
}

describe("GET /api/v1/users", () => {
  /** An org whose directory holds, by name: "ada" (agent1), "Ada Admin" (admin1), "Zed" (agent2), then unnamed by id. */
  async function directory() {
    const org = await setupOrg();
    await putUser(org, "agent1", { name: "ada", email: "ada@corp.example" });
    await putUser(org, "agent2", { name: "Zed" });
    await putUser(org, "admin1", { name: "Ada Admin", email: "admin1@example.com", role: "admin" });
    await putUser(org, "ghost-b", {});
    await putUser(org, "ghost-a", { email: "ghost_a@corp.example" });
    return org;
  }
  const ORDER = ["agent1", "admin1", "agent2", "ghost-a", "ghost-b", "member1"];

  it("lists the org's directory by name case-insensitively, then id, unnamed users last", async () => {
    const org = await directory();
    const page = await get(org.tokens.admin, "/api/v1/users");
    expect(page.items.map((u: any) => u.id)).toEqual(ORDER);
    expect(page.nextCursor).toBeNull();
    expect(page.items[0]).toMatchObject({
      id: "agent1",
      organizationId: org.org,
      name: "ada",
      email: "ada@corp.example",
      phone: null,
      role: "agent",
      departments: [],
    });
    expect(typeof page.items[0].createdAt).toBe("string");
  });

  it("pages with the cursor through named and unnamed users without gaps or repeats", async () => {
    const org = await directory();
    for (const limit of [1, 2, 4]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: any = await get(org.tokens.admin, `/api/v1/users?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        expect(page.items.length).toBeLessThanOrEqual(limit);
        seen.push(...page.items.map((u: any) => u.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 20);
      expect(seen, `limit ${limit}`).toEqual(ORDER);
    }
  });

  it("filters by role (a comma list) and by text in the id, name or email, case-insensitively", async () => {
    const org = await directory();
    const ids = async (query: string) => (await get(org.tokens.admin, `/api/v1/users?${query}`)).items.map((u: any) => u.id);
    expect(await ids("role=agent")).toEqual(["agent1", "agent2"]);
    expect(await ids("role=admin,member")).toEqual(["admin1", "ghost-a", "ghost-b", "member1"]);
    expect(await ids("q=ADA")).toEqual(["agent1", "admin1"]);
    expect(await ids("q=corp.example")).toEqual(["agent1", "ghost-a"]);
    expect(await ids("q=ghost")).toEqual(["ghost-a", "ghost-b"]);
    expect(await ids("q=ghost&role=agent")).toEqual([]);
    // LIKE wildcards are literal text.
    expect(await ids("q=%25")).toEqual([]);
    expect(await ids("q=_a@")).toEqual(["ghost-a"]);
  });

  it("is for admins and services: agents and members get 403 FORBIDDEN", async () => {
    const org = await directory();
    expect((await get(org.tokens.service, "/api/v1/users")).items.map((u: any) => u.id)).toEqual(ORDER);
    expectError(await call("GET", "/api/v1/users", { token: org.tokens.agent }), 403, "FORBIDDEN");
    expectError(await call("GET", "/api/v1/users?limit=500", { token: org.tokens.member }), 403, "FORBIDDEN");
  });

  it("never lists another organization's users", async () => {
    const org = await directory();
    // On the same shard, so only the org check keeps them apart.
    const other = await orgBeside(org.org);
    const otherAdmin = await makeToken({ org: other, sub: "boss", role: "admin", name: "Boss" });
    const res = await get(otherAdmin, "/api/v1/users");
    expect(res.items.map((u: any) => u.id)).toEqual(["boss"]);
    expect((await get(org.tokens.admin, "/api/v1/users?q=boss")).items).toEqual([]);
  });

  it.each([
    ["limit=0", "VALIDATION_FAILED"],
    ["limit=101", "VALIDATION_FAILED"],
    ["role=root", "VALIDATION_FAILED"],
    ["role=", "VALIDATION_FAILED"],
    ["cursor=not-a-cursor", "INVALID_CURSOR"],
  ])("refuses ?%s with 400 %s", async (query, code) => {
    const org = await setupOrg();
    expectError(await call("GET", `/api/v1/users?${query}`, { token: org.tokens.admin }), 400, code);
  });
});

describe("GET /api/v1/alerts/{id}/deliveries", () => {
  /** An org where agent1 and member1 have emails and a HIGH alert names them as recipients (one email each). */
  async function alertWithDeliveries() {
    const org = await setupOrg();
    await putUser(org, "agent1", { email: "agent1@example.com" });
    await putUser(org, "member1", { email: "member1@example.com" });
    const alertId = await createAlert(org.tokens.admin, { priority: "HIGH", recipients: ["agent1", "member1"] });
    return { org, alertId };
  }

  it("lists every recipient's deliveries to admins and services, with the notification and the user", async () => {
    const { org, alertId } = await alertWithDeliveries();
    const res = await get(org.tokens.admin, `/api/v1/alerts/${alertId}/deliveries`);
    expect(res.truncated).toBe(false);
    expect(res.items.map((d: any) => d.userId).sort()).toEqual(["agent1", "member1"]);
    const mine = (await get(org.tokens.agent, "/api/v1/notifications")).items.find((n: any) => n.data?.alertId === alertId);
    expect(mine).toBeDefined();
    const agentDelivery = res.items.find((d: any) => d.userId === "agent1");
    expect(agentDelivery).toMatchObject({ channel: "email", address: "agent1@example.com", notificationId: mine.id, attempts: expect.any(Number) });
    expect(["queued", "sent"]).toContain(agentDelivery.status);
    const own = await get(org.tokens.agent, `/api/v1/notifications/${mine.id}/deliveries`);
    expect(own.items[0].id).toBe(agentDelivery.id);
    expect((await get(org.tokens.service, `/api/v1/alerts/${alertId}/deliveries`)).items).toHaveLength(2);
  });

  it("shows agents and members only their own deliveries, and none of a notification they deleted", async () => {
    const { org, alertId } = await alertWithDeliveries();
    const agent = await get(org.tokens.agent, `/api/v1/alerts/${alertId}/deliveries`);
    expect(agent.items.map((d: any) => d.userId)).toEqual(["agent1"]);
    const member = await get(org.tokens.member, `/api/v1/alerts/${alertId}/deliveries`);
    expect(member.items.map((d: any) => d.userId)).toEqual(["member1"]);

    const notificationId = member.items[0].notificationId;
    expect((await call("DELETE", `/api/v1/notifications/${notificationId}`, { token: org.tokens.member })).status).toBeLessThan(300);
    expect((await get(org.tokens.member, `/api/v1/alerts/${alertId}/deliveries`)).items).toEqual([]);
    expect((await get(org.tokens.admin, `/api/v1/alerts/${alertId}/deliveries`)).items).toHaveLength(2);
  });

  it("includes the deliveries of later notifications (an assignment), oldest first", async () => {
    const { org, alertId } = await alertWithDeliveries();
    await putUser(org, "agent2", { email: "agent2@example.com" });
    const assigned = await call("POST", `/api/v1/alerts/${alertId}/assign`, { token: org.tokens.admin, body: { agentId: "agent2" } });
    expect(assigned.status, assigned.text).toBe(200);
    const res = await get(org.tokens.admin, `/api/v1/alerts/${alertId}/deliveries`);
    expect(res.items.map((d: any) => d.userId).slice(-1)).toEqual(["agent2"]);
    const times = res.items.map((d: any) => Date.parse(d.createdAt));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it("is 404 ALERT_NOT_FOUND for an alert the caller cannot see, another org's alert, or no alert", async () => {
    const { org, alertId } = await alertWithDeliveries();
    expectError(await call("GET", `/api/v1/alerts/${alertId}/deliveries`, { token: org.tokens.agent2 }), 404, "ALERT_NOT_FOUND");
    const stranger = await makeToken({ org: uniqueOrg(), sub: "admin1", role: "admin" });
    expectError(await call("GET", `/api/v1/alerts/${alertId}/deliveries`, { token: stranger }), 404, "ALERT_NOT_FOUND");
    expectError(await call("GET", "/api/v1/alerts/alr_nope/deliveries", { token: org.tokens.admin }), 404, "ALERT_NOT_FOUND");
  });

  it("lists the oldest 500 and says truncated when there are more; another alert's (even an id it prefixes) never mix in", async () => {
    const org = await setupOrg();
    const alertId = await createAlert(org.tokens.admin, { priority: "LOW", recipients: ["member1"] });
    const t0 = Date.now() - 60_000;
    const d1 = await orgD1(org.org);
    // 501 skipped deliveries (the queue consumer leaves those alone) of 501 notifications of this alert,
    // one of the same alert under a longer id, and one of another org.
    await d1.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
       INSERT INTO notifications (id, org_id, user_id, type, title, priority, source, created_at)
       SELECT 'ntf_bulk_' || ?1 || '_' || i, ?2, 'user-' || i, 'alert.new', 't', 'LOW', 'alert:' || ?1 || ':bulk:' || i, ?3 + i FROM n`,
    )
      .bind(alertId, org.org, t0)
      .run();
    await d1.batch([
      d1.prepare(
        `INSERT INTO notifications (id, org_id, user_id, type, title, priority, source, created_at) VALUES
         ('ntf_longer_' || ?1, ?2, 'user-x', 'alert.new', 't', 'LOW', 'alert:' || ?1 || 'x:new', ?3),
         ('ntf_other_' || ?1, 'some-other-org', 'user-y', 'alert.new', 't', 'LOW', 'alert:' || ?1 || ':new', ?3)`,
      ).bind(alertId, org.org, t0),
      d1.prepare(
        `INSERT INTO deliveries (id, org_id, dedupe_key, notification_id, user_id, channel, status, created_at, updated_at)
         SELECT 'dlv_' || id, org_id, 'dk_' || id, id, user_id, 'email', 'skipped', created_at, created_at FROM notifications
         WHERE id LIKE 'ntf_bulk_' || ?1 || '_%' OR id IN ('ntf_longer_' || ?1, 'ntf_other_' || ?1)`,
      ).bind(alertId),
    ]);
    const res = await get(org.tokens.admin, `/api/v1/alerts/${alertId}/deliveries`);
    expect(res.items).toHaveLength(500);
    expect(res.truncated).toBe(true);
    expect(res.items[0]).toMatchObject({ id: `dlv_ntf_bulk_${alertId}_0`, userId: "user-0", status: "skipped" });
    expect(res.items.some((d: any) => d.userId === "user-x" || d.userId === "user-y")).toBe(false);
  });
});

describe("the notifications index by cause (migration 0004)", () => {
  it.each(appDeps(env).shards.shards.map((s) => [s.binding, s.d1] as const))(
    "serves a lookup of an alert's notifications across users by (org_id, source) range (%s)",
    async (_binding, d1) => {
      const plan = await d1
        .prepare("EXPLAIN QUERY PLAN SELECT id FROM notifications WHERE org_id = ? AND source >= ? AND source < ?")
        .bind("acme", "alert:alr_1:", "alert:alr_1;")
        .all<{ detail: string }>();
      expect(plan.results.map((r) => r.detail).join("\n")).toMatch(/USING (COVERING )?INDEX notifications_org_source_idx \(org_id=\? AND source>\? AND source<\?\)/);
    },
  );
});

describe("GET /api/v1/alerts/volume", () => {
  const H = 3_600_000;
  const D = 24 * H;

  /** Creates alerts through the API, then moves their creation time (the API always stamps now). */
  async function alertsAt(token: string, org: string, times: number[], overrides: Record<string, unknown> = {}) {
    for (const t of times) {
      const id = await createAlert(token, overrides);
      await (await orgD1(org)).prepare("UPDATE alerts SET created_at = ? WHERE id = ? AND org_id = ?").bind(t, id, org).run();
    }
  }

  it("counts per UTC hour, oldest first, with empty hours as zeros and the window rounded to whole hours", async () => {
    const org = await setupOrg();
    const base = Date.parse("2026-03-04T10:00:00Z");
    await alertsAt(org.tokens.admin, org.org, [base + 15 * 60_000, base + 59 * 60_000, base + 2 * H, base + 4 * H, base - 1]);
    const res = await get(org.tokens.admin, "/api/v1/alerts/volume?since=2026-03-04T10:30:00Z&until=2026-03-04T13:10:00Z");
    expect(res).toEqual({
      bucket: "hour",
      since: "2026-03-04T10:00:00.000Z",
      until: "2026-03-04T14:00:00.000Z",
      items: [
        { start: "2026-03-04T10:00:00.000Z", count: 2 },
        { start: "2026-03-04T11:00:00.000Z", count: 0 },
        { start: "2026-03-04T12:00:00.000Z", count: 1 },
        { start: "2026-03-04T13:00:00.000Z", count: 0 },
      ],
    });
    // until is exclusive: a boundary stays where it is.
    const exact = await get(org.tokens.admin, "/api/v1/alerts/volume?since=2026-03-04T10:00:00Z&until=2026-03-04T12:00:00Z");
    expect(exact.items.map((i: any) => i.count)).toEqual([2, 0]);
    // Offsets are instants: 11:30+01:00 is 10:30 UTC.
    const offset = await get(org.tokens.admin, "/api/v1/alerts/volume?since=2026-03-04T11:30:00%2B01:00&until=2026-03-04T11:00:00Z");
    expect(offset.items).toEqual([{ start: "2026-03-04T10:00:00.000Z", count: 2 }]);
  });

  it("counts per UTC day", async () => {
    const org = await setupOrg();
    const day = Date.parse("2026-02-10T00:00:00Z");
    await alertsAt(org.tokens.admin, org.org, [day + 1, day + D - 1, day + 2 * D + 5 * H]);
    const res = await get(org.tokens.admin, "/api/v1/alerts/volume?bucket=day&since=2026-02-10T12:00:00Z&until=2026-02-13T00:00:00Z");
    expect(res.since).toBe("2026-02-10T00:00:00.000Z");
    expect(res.until).toBe("2026-02-13T00:00:00.000Z");
    expect(res.items).toEqual([
      { start: "2026-02-10T00:00:00.000Z", count: 2 },
      { start: "2026-02-11T00:00:00.000Z", count: 0 },
      { start: "2026-02-12T00:00:00.000Z", count: 1 },
    ]);
  });

  it("defaults to the 24 hours ending with the current one (bucket=day: 30 days), counting what was just created", async () => {
    const org = await setupOrg();
    await createAlert(org.tokens.admin);
    await createAlert(org.tokens.admin);
    const hourly = await get(org.tokens.admin, "/api/v1/alerts/volume");
    expect(hourly.bucket).toBe("hour");
    expect(hourly.items).toHaveLength(24);
    expect(hourly.items.at(-1).count).toBe(2);
    expect(Date.parse(hourly.until)).toBeGreaterThan(Date.now() - 1000);
    expect(Date.parse(hourly.until) - Date.parse(hourly.since)).toBe(24 * H);
    expect(Date.parse(hourly.since) % H).toBe(0);
    const daily = await get(org.tokens.admin, "/api/v1/alerts/volume?bucket=day");
    expect(daily.items).toHaveLength(30);
    expect(daily.items.at(-1).count).toBe(2);
    expect(Date.parse(daily.since) % D).toBe(0);
    const untilOnly = await get(org.tokens.admin, "/api/v1/alerts/volume?until=2026-01-01T05:30:00Z");
    expect(untilOnly.since).toBe("2025-12-31T06:00:00.000Z");
    expect(untilOnly.until).toBe("2026-01-01T06:00:00.000Z");
  });

  it("counts only what the caller can see (as /alerts/stats) and only its org", async () => {
    const org = await setupOrg();
    const t = Date.parse("2026-05-01T08:10:00Z");
    await alertsAt(org.tokens.admin, org.org, [t], { assigneeId: "agent1" });
    await alertsAt(org.tokens.admin, org.org, [t], { recipients: ["agent1", "member1"] });
    await alertsAt(org.tokens.admin, org.org, [t, t]);
    const other = await setupOrg(await orgBeside(org.org));
    await alertsAt(other.tokens.admin, other.org, [t, t, t]);
    const q = "/api/v1/alerts/volume?since=2026-05-01T08:00:00Z&until=2026-05-01T09:00:00Z";
    const count = async (token: string) => (await get(token, q)).items[0].count;
    expect(await count(org.tokens.admin)).toBe(4);
    expect(await count(org.tokens.service)).toBe(4);
    expect(await count(org.tokens.agent)).toBe(2);
    expect(await count(org.tokens.member)).toBe(1);
    expect(await count(org.tokens.agent2)).toBe(0);
    const stats = await get(org.tokens.agent, "/api/v1/alerts/stats?since=2026-05-01T08:00:00Z&until=2026-05-01T09:00:00Z");
    expect(stats.total).toBe(2);
  });

  it.each([
    ["more than 1000 hourly buckets", "since=2026-01-01T00:00:00Z&until=2026-02-11T17:00:00Z", /1001 hour buckets; at most 1000/],
    ["more than 1000 daily buckets", "bucket=day&since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z", /at most 1000/],
    ["since after until", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", /since must be before until/],
    ["since equal to until", "since=2026-01-01T00:00:00Z&until=2026-01-01T00:00:00Z", /since must be before until/],
    ["since in the future (until defaults to now)", "since=2999-01-01T00:00:00Z", /since must be before until/],
    ["an unknown bucket", "bucket=week", /bucket/],
    ["a date that is not ISO 8601", "since=yesterday", /since/],
  ])("refuses %s with 400 VALIDATION_FAILED and a clear message", async (_what, query, message) => {
    const org = await setupOrg();
    const res = await call("GET", `/api/v1/alerts/volume?${query}`, { token: org.tokens.admin });
    expectError(res, 400, "VALIDATION_FAILED");
    expect(JSON.stringify(res.json.error)).toMatch(message);
  });

  it("takes exactly 1000 buckets", async () => {
    const org = await setupOrg();
    const res = await get(org.tokens.admin, "/api/v1/alerts/volume?since=2026-01-01T00:00:00Z&until=2026-02-11T16:00:00Z");
    expect(res.items).toHaveLength(1000);
  });
});
