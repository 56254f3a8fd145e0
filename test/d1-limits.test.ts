import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import { getConfig } from "../src/config";
import { chunk, D1_MAX_BOUND_PARAMETERS, rowsPerInsert } from "../src/db/limits";
import { alertRecipients, notifications } from "../src/db/schema";
import { newId } from "../src/lib/ids";
import { deliverToHubs, type OutboundEvent } from "../src/outbox";
import { appDeps } from "../src/deps";
import { alertBody, BASE, call, makeToken, uniqueOrg } from "./helpers";
import { orgD1 } from "./shard-helpers";

/**
 * D1 binds at most 100 parameters per statement. These tests drive every
 * path whose statements grow with a list users control, at the largest size
 * users can reach, through the API.
 */

/** Puts `n` people of one role in an org's directory (with emails, so email deliveries are rendered and stored too). */
async function seedUsers(org: string, prefix: string, n: number, role: "admin" | "agent" | "member") {
  const rows = Array.from({ length: n }, (_, i) => {
    const id = `${prefix}-${String(i).padStart(4, "0")}`;
    return { id, email: `${id}@example.com`, name: `Person ${i}` };
  });
  const now = Date.now();
  await (await orgD1(org)).prepare(
    `INSERT INTO users (org_id, id, email, name, phone, role, departments, created_at, updated_at)
     SELECT ?1, value ->> 'id', value ->> 'email', value ->> 'name', NULL, ?2, '[]', ?3, ?3 FROM json_each(?4)`,
  )
    .bind(org, role, now, JSON.stringify(rows))
    .run();
  return rows.map((r) => r.id);
}

/** Counts in `org`'s shard. */
async function countRows(org: string, sql: string, ...params: unknown[]): Promise<number> {
  const row = await (await orgD1(org)).prepare(sql).bind(...params).first<{ n: number }>();
  return row!.n;
}

/** Per user: how many notifications they have in the org. */
async function notificationsPerUser(org: string): Promise<Map<string, number>> {
  const { results } = await (await orgD1(org)).prepare("SELECT user_id, count(*) AS n FROM notifications WHERE org_id = ? GROUP BY user_id")
    .bind(org)
    .all<{ user_id: string; n: number }>();
  return new Map(results.map((r) => [r.user_id, r.n]));
}

describe("the test databases enforce D1's bound-parameter limit", () => {
  const shards = appDeps(env).shards.shards.map((s) => [s.binding, s.d1] as const);
  it.each(shards)("%s refuses a statement with 101 parameters and accepts one with 100, so the tests below can fail", async (_binding, d1) => {
    expect(D1_MAX_BOUND_PARAMETERS).toBe(100);
    const statement = (n: number) =>
      d1.prepare(`SELECT count(*) AS n FROM (SELECT 1) WHERE 1 IN (${Array.from({ length: n }, () => "?").join(",")})`).bind(
        ...Array.from({ length: n }, (_, i) => i + 1),
      );
    await expect(statement(101).first()).rejects.toThrow(/too many SQL variables/);
    expect(await statement(100).first<{ n: number }>()).toEqual({ n: 1 });
  });
});

describe("sizes users can reach stay within D1's limits", () => {
  it("creates an unassigned alert in an org with 1,000 admins: 201, every admin notified exactly once, every event published", async () => {
    const org = uniqueOrg("admins");
    const admins = await seedUsers(org, "adm", 999, "admin");
    const token = await makeToken({ org, sub: "boss", role: "admin", email: "boss@example.com" });
    admins.push("boss");

    const res = await call("POST", "/api/v1/alerts", { token, body: alertBody({ priority: "HIGH" }) });
    expect(res.status, res.text).toBe(201);
    const alertId = res.json.id as string;

    const perUser = await notificationsPerUser(org);
    expect(perUser.size).toBe(1000);
    for (const id of admins) expect(perUser.get(id), id).toBe(1);
    // The alert:new event and one notification:new per admin, all delivered and marked published.
    expect(await countRows(org, "SELECT count(*) AS n FROM realtime_events WHERE org_id = ? AND source = ?", org, `alert:${alertId}`)).toBe(1001);
    // Marked published in the background, right after the response (PublishedMarks).
    await vi.waitFor(async () => expect(await countRows(org, "SELECT count(*) AS n FROM realtime_events WHERE org_id = ? AND published_at IS NULL", org)).toBe(0));
    // HIGH routes to email: one rendered email per admin, queued.
    expect(await countRows(org, "SELECT count(*) AS n FROM deliveries WHERE org_id = ? AND channel = 'email' AND status = 'queued'", org)).toBe(1000);
    // Each admin's device would see it: their user stream has the event (polling reads the same rows).
    const admin = await makeToken({ org, sub: admins[500]!, role: "admin" });
    const polled = await call("GET", "/api/v1/events", { token: admin });
    expect(polled.status).toBe(200);
    expect(polled.json.items.map((e: { type: string }) => e.type)).toContain("notification:new");

    // The idempotent path (a retry after a lost answer) reads the same events back within the limit too.
    const again = await call("POST", "/api/v1/alerts", { token, body: alertBody({ priority: "HIGH" }), headers: { "Idempotency-Key": "big-org-1" } });
    expect(again.status, again.text).toBe(201);
    const replay = await call("POST", "/api/v1/alerts", { token, body: alertBody({ priority: "HIGH" }), headers: { "Idempotency-Key": "big-org-1" } });
    expect(replay.status, replay.text).toBe(201);
    expect(replay.json.id).toBe(again.json.id);
    expect(new Set((await notificationsPerUser(org)).values())).toEqual(new Set([2]));
  }, 120_000);

  it("notifies at most MAX_ADMIN_NOTIFICATIONS admins, the most recently seen, and still publishes the alert on the org channel", async () => {
    const org = uniqueOrg("cap");
    const admins = await seedUsers(org, "adm", 5, "admin");
    // adm-0000 was seen longest ago, adm-0004 most recently; none of them is the caller (a service).
    for (const [i, id] of admins.entries()) {
      await (await orgD1(org)).prepare("UPDATE users SET last_seen_at = ? WHERE org_id = ? AND id = ?").bind(Date.now() - (5 - i) * 60_000, org, id).run();
    }
    const token = await makeToken({ org, sub: "scorer", role: "service" });
    expect(getConfig(env).maxAdminNotifications).toBe(1000);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const res = await createApp().fetch(
      new Request(`${BASE}/api/v1/alerts`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify(alertBody()),
      }),
      { ...env, MAX_ADMIN_NOTIFICATIONS: "3" },
    );
    expect(res.status).toBe(201);
    const alert = (await res.json()) as { id: string };
    expect([...(await notificationsPerUser(org)).keys()].sort()).toEqual(["adm-0002", "adm-0003", "adm-0004"]);
    expect(warn.mock.calls.some(([m]) => String(m).includes("MAX_ADMIN_NOTIFICATIONS"))).toBe(true);
    expect(
      await countRows(
        org,
        "SELECT count(*) AS n FROM realtime_event_targets t JOIN realtime_events e ON e.id = t.event_id WHERE e.source = ? AND e.type = 'alert:new' AND t.channel = 'alerts'",
        `alert:${alert.id}`,
      ),
    ).toBe(1);
    warn.mockRestore();
  });

  it(`broadcasts to MAX_BROADCAST_USERS (${getConfig(env).maxBroadcastUsers}) users: every target recorded once, the event published`, async () => {
    const org = uniqueOrg("bcast");
    const max = getConfig(env).maxBroadcastUsers;
    const token = await makeToken({ org, sub: "svc", role: "service" });
    const userIds = Array.from({ length: max }, (_, i) => `u-${i}`);
    const res = await call("POST", "/api/v1/realtime/broadcast", { token, body: { event: "deal:won", data: { amount: 1 }, target: { userIds } } });
    expect(res.status, res.text).toBe(201);
    expect(Object.keys(res.json.userSeqs)).toHaveLength(max);
    expect(await countRows(org, "SELECT count(*) AS n FROM realtime_event_targets WHERE event_id = ?", res.json.id)).toBe(max);
    await vi.waitFor(async () => expect(await countRows(org, "SELECT count(*) AS n FROM realtime_events WHERE id = ? AND published_at IS NOT NULL", res.json.id)).toBe(1));
  }, 60_000);

  it("creates an alert with the maximum 100 recipients and an assignee: each one notified once, each one sees it", async () => {
    const org = uniqueOrg("recips");
    const people = await seedUsers(org, "agent", 101, "agent");
    const token = await makeToken({ org, sub: "boss", role: "admin" });
    const [assigneeId, ...recipients] = people;
    const res = await call("POST", "/api/v1/alerts", { token, body: alertBody({ assigneeId, recipients }) });
    expect(res.status, res.text).toBe(201);
    expect(res.json.recipients).toHaveLength(100);
    const perUser = await notificationsPerUser(org);
    expect(perUser.size).toBe(101);
    expect(new Set(perUser.values())).toEqual(new Set([1]));
    expect(await countRows(org, "SELECT count(*) AS n FROM alert_recipients WHERE alert_id = ?", res.json.id)).toBe(100);
    const last = await makeToken({ org, sub: recipients.at(-1)!, role: "agent" });
    expect((await call("GET", `/api/v1/alerts/${res.json.id}`, { token: last })).status).toBe(200);
  }, 60_000);

  it("notifies the maximum 100 userIds in one POST /api/v1/notifications", async () => {
    const org = uniqueOrg("ntf");
    const userIds = await seedUsers(org, "m", 100, "member");
    const token = await makeToken({ org, sub: "svc", role: "service" });
    const res = await call("POST", "/api/v1/notifications", {
      token,
      body: { userIds, type: "deal.won", title: "Deal won", priority: "HIGH", data: { amount: 12500 } },
      headers: { "Idempotency-Key": "ntf-100" },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json.ids).toHaveLength(100);
    expect(new Set((await notificationsPerUser(org)).values())).toEqual(new Set([1]));
    // The retry path re-reads their events and deliveries by id.
    const replay = await call("POST", "/api/v1/notifications", {
      token,
      body: { userIds, type: "deal.won", title: "Deal won", priority: "HIGH", data: { amount: 12500 } },
      headers: { "Idempotency-Key": "ntf-100" },
    });
    expect(replay.status, replay.text).toBe(201);
    expect(replay.json.ids).toEqual(res.json.ids);
  }, 60_000);

  it("applies a bulk action to 100 alerts", async () => {
    const org = uniqueOrg("bulk");
    const token = await makeToken({ org, sub: "boss", role: "admin" });
    // Two producers: the test rate limit is 100 requests per caller per minute.
    const producers = [await makeToken({ org, sub: "scorer-a", role: "service" }), await makeToken({ org, sub: "scorer-b", role: "service" })];
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      const res = await call("POST", "/api/v1/alerts", { token: producers[i % 2], body: alertBody({ priority: "LOW", title: `alert ${i}` }) });
      expect(res.status, res.text).toBe(201);
      ids.push(res.json.id);
    }
    const res = await call("POST", "/api/v1/alerts/bulk", { token, body: { ids, action: "acknowledge" } });
    expect(res.status, res.text).toBe(200);
    expect(res.json.succeeded).toBe(100);
    expect(await countRows(org, "SELECT count(*) AS n FROM alerts WHERE org_id = ? AND status = 'ACKNOWLEDGED'", org)).toBe(100);
  }, 120_000);

  it("polls with the maximum 50 channels and a dept/queue scope", async () => {
    const org = uniqueOrg("poll");
    const token = await makeToken({ org, sub: "svc", role: "service" });
    const reader = await makeToken({ org, sub: "reader", role: "member" });
    const channels = Array.from({ length: 50 }, (_, i) => `ch-${i}`);
    const sent = await call("POST", "/api/v1/realtime/broadcast", {
      token,
      body: { event: "kpi:updated", data: { v: 1 }, target: { channel: "ch-49", scope: { dept: "sales" } } },
    });
    expect(sent.status, sent.text).toBe(201);
    const res = await call("GET", `/api/v1/events?channels=${channels.join(",")}&dept=sales&queue=q1`, { token: reader });
    expect(res.status, res.text).toBe(200);
    expect(res.json.items.map((e: { id: string }) => e.id)).toEqual([sent.json.id]);
  });

  it("acknowledges 100 polled events at once", async () => {
    const org = uniqueOrg("ack");
    const token = await makeToken({ org, sub: "svc", role: "service" });
    const reader = await makeToken({ org, sub: "reader", role: "member" });
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      const res = await call("POST", "/api/v1/realtime/broadcast", { token, body: { event: "tick:tock", data: { i }, target: { userIds: ["reader"] } } });
      expect(res.status, res.text).toBe(201);
      ids.push(res.json.id);
    }
    const res = await call("POST", "/api/v1/events/ack", { token: reader, body: { ids } });
    expect(res.status, res.text).toBe(200);
    expect(res.json.acknowledged).toBe(100);
    expect((await call("GET", "/api/v1/events", { token: reader })).json.items).toHaveLength(0);
  }, 120_000);
});

describe("the shared helpers and knobs", () => {
  it("cuts lists and sizes multi-row inserts from the 100-parameter limit", () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(rowsPerInsert(alertRecipients)).toBe(25);
    expect(rowsPerInsert(notifications)).toBe(Math.floor(100 / 17));
  });

  it("keeps at most HUB_CALL_CONCURRENCY user-hub calls in flight, and still reaches every user", async () => {
    const org = uniqueOrg("conc");
    let inFlight = 0;
    let most = 0;
    const counted = <T>(call: () => Promise<T>) => async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        return await call();
      } finally {
        inFlight--;
      }
    };
    const USER_HUB = {
      getByName(name: string) {
        const stub = env.USER_HUB.getByName(name);
        return {
          publishMany: (...args: Parameters<typeof stub.publishMany>) => counted(() => stub.publishMany(...args))(),
          refreshUnread: () => counted(() => stub.refreshUnread())(),
        };
      },
    } as unknown as Env["USER_HUB"];
    const now = Date.now();
    const events: OutboundEvent[] = Array.from({ length: 20 }, (_, i) => ({
      id: newId("evt", now),
      orgId: org,
      type: "deal:won",
      data: { i },
      ts: now,
      userIds: [`u-${i}`],
    }));
    const reports = await deliverToHubs({ ...env, USER_HUB, HUB_CALL_CONCURRENCY: "3" }, events, { orgId: org, userIds: ["u-0", "other-1", "other-2"] });
    expect(most).toBe(3);
    expect(reports.map((r) => Object.keys(r.userSeqs))).toEqual(events.map((e) => e.userIds));
  });

  it("refuses out-of-range values of the new knobs with CONFIG_INVALID", () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    for (const bad of [{ MAX_JSON_DEPTH: "0" }, { OUTBOX_MAX_ATTEMPTS: "0" }, { HUB_CALL_CONCURRENCY: "0" }, { MAX_ADMIN_NOTIFICATIONS: "5001" }]) {
      expect(() => getConfig({ ...env, ...bad }), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
    }
    vi.restoreAllMocks();
  });
});
