import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { alertBody, call, makeToken, setupOrg } from "./helpers";
import { orgBeside, orgD1 } from "./shard-helpers";

type Org = Awaited<ReturnType<typeof setupOrg>>;

async function create(token: string, overrides: Record<string, unknown> = {}, headers?: Record<string, string>) {
  const res = await call("POST", "/api/v1/alerts", { token, body: alertBody(overrides), headers });
  expect(res.status, res.text).toBe(201);
  return res.json;
}

async function countAlerts(org: Org) {
  const res = await call("GET", "/api/v1/alerts?limit=100", { token: org.tokens.admin });
  expect(res.status).toBe(200);
  return res.json.items.length as number;
}

async function rowCount(table: string, orgId: string) {
  const row = await (await orgD1(orgId)).prepare(`SELECT count(*) AS n FROM ${table} WHERE org_id = ?`).bind(orgId).first<{ n: number }>();
  return row!.n;
}

describe("POST /api/v1/alerts", () => {
  it("creates an alert with every field and answers 201 with its location", async () => {
    const org = await setupOrg();
    const res = await call("POST", "/api/v1/alerts", {
      token: org.tokens.service,
      body: alertBody({ assigneeId: "agent1", recipients: ["member1"] }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("Location")).toBe(`/api/v1/alerts/${res.json.id}`);
    expect(res.json).toMatchObject({
      organizationId: org.org,
      alertType: "LIKELY_TO_SELL",
      priority: "HIGH",
      status: "PENDING",
      confidence: 0.87,
      subject: { id: "lead-42", email: "jane@example.com", name: "Jane Doe" },
      data: { score: 0.87, signals: ["visit", "email_open", "valuation"] },
      assigneeId: "agent1",
      recipients: ["member1"],
      modelVersion: "v3.2",
      signalCount: 3,
      createdBy: "scorer",
      acknowledgedAt: null,
      conversionValue: null,
    });
    expect(res.json.id).toMatch(/^alr_[0-9A-Z]{26}$/);
    expect(res.json.assignedAt).toBe(res.json.createdAt);

    const read = await call("GET", `/api/v1/alerts/${res.json.id}`, { token: org.tokens.admin });
    expect(read.json).toEqual(res.json);
  });

  it("defaults priority to MEDIUM, data to {} and recipients to []", async () => {
    const org = await setupOrg();
    const res = await call("POST", "/api/v1/alerts", {
      token: org.tokens.admin,
      body: { alertType: "HOST_DOWN", title: "db-1 is down" },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ priority: "MEDIUM", data: {}, recipients: [], subject: null, confidence: null });
  });

  it.each(["agent", "member"] as const)("refuses a %s with 403 FORBIDDEN and creates nothing", async (role) => {
    const org = await setupOrg();
    const res = await call("POST", "/api/v1/alerts", { token: org.tokens[role], body: alertBody() });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe("FORBIDDEN");
    expect(await countAlerts(org)).toBe(0);
  });

  it.each([
    ["an unknown priority", { priority: "URGENT" }, "priority"],
    ["confidence above 1", { confidence: 1.5 }, "confidence"],
    ["confidence below 0", { confidence: -0.1 }, "confidence"],
    ["confidence as a string", { confidence: "high" }, "confidence"],
    ["an empty title", { title: "   " }, "title"],
    ["a missing alertType", { alertType: undefined }, "alertType"],
    ["an alertType with spaces", { alertType: "likely to sell" }, "alertType"],
    ["data that is an array", { data: [1, 2] }, "data"],
    ["duplicate recipients", { recipients: ["a", "a"] }, "recipients"],
    ["101 recipients", { recipients: Array.from({ length: 101 }, (_, i) => `u${i}`) }, "recipients"],
    ["a subject with no field", { subject: {} }, "subject"],
    ["a subject email that is not an email", { subject: { email: "nope" } }, "subject.email"],
    ["a negative signalCount", { signalCount: -1 }, "signalCount"],
    ["an unknown field", { severity: "high" }, ""],
  ])("rejects %s with 400 VALIDATION_FAILED naming the field", async (_name, overrides, path) => {
    const org = await setupOrg();
    const res = await call("POST", "/api/v1/alerts", { token: org.tokens.admin, body: alertBody(overrides) });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("VALIDATION_FAILED");
    expect(res.json.error.details.target).toBe("json");
    expect(res.json.error.details.issues.map((i: { path: string }) => i.path)).toContain(path);
    expect(await countAlerts(org)).toBe(0);
  });

  it("rejects data above MAX_ALERT_DATA_BYTES with 413 DATA_TOO_LARGE and writes nothing", async () => {
    const org = await setupOrg();
    const limit = Number(env.MAX_ALERT_DATA_BYTES);
    const res = await call("POST", "/api/v1/alerts", {
      token: org.tokens.admin,
      body: alertBody({ data: { blob: "x".repeat(limit) } }),
    });
    expect(res.status).toBe(413);
    expect(res.json.error).toMatchObject({ code: "DATA_TOO_LARGE", details: { limit } });
    expect(await countAlerts(org)).toBe(0);
    expect(await rowCount("alert_history", org.org)).toBe(0);

    const fits = await call("POST", "/api/v1/alerts", {
      token: org.tokens.admin,
      body: alertBody({ data: { blob: "x".repeat(limit - 20) } }),
    });
    expect(fits.status).toBe(201);
  });

  it("refuses an assignee who is not in the directory with 422 UNKNOWN_ASSIGNEE", async () => {
    const org = await setupOrg();
    const res = await call("POST", "/api/v1/alerts", { token: org.tokens.admin, body: alertBody({ assigneeId: "ghost" }) });
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe("UNKNOWN_ASSIGNEE");
    expect(await countAlerts(org)).toBe(0);
  });

  it("stores 60 recipients (more than one insert statement) and each of them sees the alert", async () => {
    const org = await setupOrg();
    const recipients = Array.from({ length: 60 }, (_, i) => `rcpt-${i}`);
    const alert = await create(org.tokens.admin, { recipients });
    expect(alert.recipients).toEqual(recipients);
    expect(await rowCount("alert_recipients", org.org)).toBe(60);
    for (const sub of ["rcpt-0", "rcpt-59"]) {
      const token = await makeToken({ org: org.org, sub, role: "member" });
      const res = await call("GET", `/api/v1/alerts/${alert.id}`, { token });
      expect(res.status).toBe(200);
    }
  });
});

describe("Idempotency-Key on POST /api/v1/alerts", () => {
  it("replays the first response (201, same id, Idempotent-Replayed) and creates one alert", async () => {
    const org = await setupOrg();
    const headers = { "Idempotency-Key": "score-run-7:lead-42" };
    const first = await call("POST", "/api/v1/alerts", { token: org.tokens.service, body: alertBody(), headers });
    const second = await call("POST", "/api/v1/alerts", { token: org.tokens.service, body: alertBody(), headers });
    expect(first.status).toBe(201);
    expect(first.headers.get("Idempotent-Replayed")).toBeNull();
    expect(second.status).toBe(201);
    expect(second.headers.get("Idempotent-Replayed")).toBe("true");
    expect(second.json).toEqual(first.json);
    expect(await countAlerts(org)).toBe(1);
  });

  it("treats the same body with keys in another order as the same request", async () => {
    const org = await setupOrg();
    const headers = { "Idempotency-Key": "k-order" };
    const body = alertBody();
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const first = await call("POST", "/api/v1/alerts", { token: org.tokens.admin, body, headers });
    const second = await call("POST", "/api/v1/alerts", { token: org.tokens.admin, body: reordered, headers });
    expect(second.status).toBe(201);
    expect(second.json.id).toBe(first.json.id);
  });

  it("refuses the same key with a different body with 422 IDEMPOTENCY_KEY_REUSED", async () => {
    const org = await setupOrg();
    const headers = { "Idempotency-Key": "k-reuse" };
    await create(org.tokens.admin, {}, headers);
    const res = await call("POST", "/api/v1/alerts", { token: org.tokens.admin, body: alertBody({ title: "Another" }), headers });
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe("IDEMPOTENCY_KEY_REUSED");
    expect(await countAlerts(org)).toBe(1);
  });

  it("scopes keys per organization", async () => {
    const a = await setupOrg();
    // On the same shard, so only the org check keeps them apart.
    const b = await setupOrg(await orgBeside(a.org));
    const headers = { "Idempotency-Key": "shared-key" };
    const fromA = await create(a.tokens.admin, {}, headers);
    const fromB = await create(b.tokens.admin, {}, headers);
    expect(fromB.id).not.toBe(fromA.id);
    expect(fromB.organizationId).toBe(b.org);
  });

  it("creates exactly one alert when concurrent retries race", async () => {
    const org = await setupOrg();
    const headers = { "Idempotency-Key": "race-1" };
    const results = await Promise.all(
      Array.from({ length: 5 }, () => call("POST", "/api/v1/alerts", { token: org.tokens.admin, body: alertBody(), headers })),
    );
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    expect(new Set(results.map((r) => r.json.id)).size).toBe(1);
    expect(await countAlerts(org)).toBe(1);
  });

  it.each([
    ["a space", "has space"],
    ["256 characters", "k".repeat(256)],
  ])("rejects a key with %s with 400 INVALID_IDEMPOTENCY_KEY", async (_name, key) => {
    const org = await setupOrg();
    const res = await call("POST", "/api/v1/alerts", { token: org.tokens.admin, body: alertBody(), headers: { "Idempotency-Key": key } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("INVALID_IDEMPOTENCY_KEY");
    expect(await countAlerts(org)).toBe(0);
  });

  it("treats an expired key as new", async () => {
    const org = await setupOrg();
    const headers = { "Idempotency-Key": "k-expire" };
    const first = await create(org.tokens.admin, {}, headers);
    await (await orgD1(org.org)).prepare("UPDATE idempotency_keys SET expires_at = ? WHERE org_id = ?").bind(Date.now() - 1000, org.org).run();
    const second = await create(org.tokens.admin, {}, headers);
    expect(second.id).not.toBe(first.id);
    expect(await countAlerts(org)).toBe(2);
  });
});

describe("GET /api/v1/alerts", () => {
  it("shows admins everything, agents their assigned alerts and members the alerts naming them", async () => {
    const org = await setupOrg();
    const assigned = await create(org.tokens.admin, { assigneeId: "agent1", title: "assigned to agent1" });
    const forMember = await create(org.tokens.admin, { recipients: ["member1"], title: "for member1" });
    await create(org.tokens.admin, { title: "nobody's" });

    const ids = async (token: string) => (await call("GET", "/api/v1/alerts", { token })).json.items.map((a: { id: string }) => a.id);
    expect(await ids(org.tokens.admin)).toHaveLength(3);
    expect(await ids(org.tokens.service)).toHaveLength(3);
    expect(await ids(org.tokens.agent)).toEqual([assigned.id]);
    expect(await ids(org.tokens.member)).toEqual([forMember.id]);
    expect(await ids(org.tokens.agent2)).toEqual([]);
  });

  it("pages newest first with an opaque cursor, without gaps or repeats", async () => {
    const org = await setupOrg();
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await create(org.tokens.admin, { title: `alert ${i}` })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    const pageSizes: number[] = [];
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
      const res = await call("GET", `/api/v1/alerts?limit=2${q}`, { token: org.tokens.admin });
      expect(res.status).toBe(200);
      pageSizes.push(res.json.items.length);
      seen.push(...res.json.items.map((a: { id: string }) => a.id));
      cursor = res.json.nextCursor;
    } while (cursor);
    expect(pageSizes).toEqual([2, 2, 1]);
    expect(seen).toEqual([...created].reverse());
  });

  it("returns no nextCursor when the last page is exactly full", async () => {
    const org = await setupOrg();
    for (let i = 0; i < 4; i++) await create(org.tokens.admin);
    const first = await call("GET", "/api/v1/alerts?limit=2", { token: org.tokens.admin });
    const second = await call("GET", `/api/v1/alerts?limit=2&cursor=${first.json.nextCursor}`, { token: org.tokens.admin });
    expect(second.json.items).toHaveLength(2);
    expect(second.json.nextCursor).toBeNull();
    const all = await call("GET", "/api/v1/alerts?limit=100", { token: org.tokens.admin });
    expect(all.json.items).toHaveLength(4);
    expect(all.json.nextCursor).toBeNull();
  });

  it.each([
    ["limit=0", "VALIDATION_FAILED"],
    ["limit=101", "VALIDATION_FAILED"],
    ["limit=ten", "VALIDATION_FAILED"],
    ["status=OPEN", "VALIDATION_FAILED"],
    ["priority=HIGH,URGENT", "VALIDATION_FAILED"],
    ["minConfidence=2", "VALIDATION_FAILED"],
    ["since=yesterday", "VALIDATION_FAILED"],
    ["since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "VALIDATION_FAILED"],
    ["cursor=not-a-cursor", "INVALID_CURSOR"],
    [`cursor=${btoa(JSON.stringify({ t: "x" }))}`, "INVALID_CURSOR"],
  ])("rejects ?%s with 400 %s", async (query, code) => {
    const org = await setupOrg();
    const res = await call("GET", `/api/v1/alerts?${query}`, { token: org.tokens.admin });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(code);
  });

  it("filters by status, priority, type, assignee, confidence, time window and text", async () => {
    const org = await setupOrg();
    const a = await create(org.tokens.admin, { priority: "CRITICAL", alertType: "HOST_DOWN", confidence: 0.99, title: "db-1 down", subject: { id: "db-1" } });
    const b = await create(org.tokens.admin, { priority: "LOW", confidence: 0.2, assigneeId: "agent1", title: "50% off spotted" });
    const c = await create(org.tokens.admin, { priority: "HIGH", subject: { email: "zed@corp.example", name: "Zed" }, title: "Zed may churn" });
    await call("PATCH", `/api/v1/alerts/${c.id}/status`, { token: org.tokens.admin, body: { status: "ACKNOWLEDGED" } });

    const ids = async (q: string) => {
      const res = await call("GET", `/api/v1/alerts?${q}`, { token: org.tokens.admin });
      expect(res.status, res.text).toBe(200);
      return res.json.items.map((x: { id: string }) => x.id).sort();
    };
    expect(await ids("status=ACKNOWLEDGED")).toEqual([c.id]);
    expect(await ids("status=PENDING,ACKNOWLEDGED")).toEqual([a.id, b.id, c.id].sort());
    expect(await ids("priority=CRITICAL,LOW")).toEqual([a.id, b.id].sort());
    expect(await ids("type=HOST_DOWN")).toEqual([a.id]);
    expect(await ids("assigneeId=agent1")).toEqual([b.id]);
    expect(await ids("minConfidence=0.9")).toEqual([a.id]);
    expect(await ids("q=zed%40corp")).toEqual([c.id]);
    expect(await ids("q=db-1")).toEqual([a.id]);
    expect(await ids("q=50%25")).toEqual([b.id]);
    expect(await ids("q=%25")).toEqual([b.id]);
    expect(await ids("q=_")).toEqual([]);
    const future = new Date(Date.now() + 60_000).toISOString();
    const past = new Date(Date.now() - 60_000).toISOString();
    expect(await ids(`since=${future}`)).toEqual([]);
    expect(await ids(`since=${past}&until=${future}`)).toHaveLength(3);
    expect(await ids(`until=${past}`)).toEqual([]);
  });
});

describe("GET /api/v1/alerts/:id", () => {
  it("answers 404 ALERT_NOT_FOUND for unknown ids and for alerts the caller may not see", async () => {
    const org = await setupOrg();
    const alert = await create(org.tokens.admin);
    for (const [token, id] of [
      [org.tokens.admin, "alr_doesnotexist"],
      [org.tokens.member, alert.id],
      [org.tokens.agent, alert.id],
    ] as const) {
      const res = await call("GET", `/api/v1/alerts/${id}`, { token });
      expect(res.status).toBe(404);
      expect(res.json.error.code).toBe("ALERT_NOT_FOUND");
    }
  });
});

describe("PATCH /api/v1/alerts/:id/status", () => {
  it("walks the lifecycle, stamps acknowledgedAt once and records notes in the history", async () => {
    const org = await setupOrg();
    const alert = await create(org.tokens.admin, { assigneeId: "agent1" });
    const move = (status: string, note?: string) =>
      call("PATCH", `/api/v1/alerts/${alert.id}/status`, { token: org.tokens.agent, body: { status, note } });

    const ack = await move("ACKNOWLEDGED", "looking");
    expect(ack.status).toBe(200);
    expect(ack.json.status).toBe("ACKNOWLEDGED");
    expect(ack.json.acknowledgedAt).not.toBeNull();
    const inProgress = await move("IN_PROGRESS");
    expect(inProgress.json.acknowledgedAt).toBe(ack.json.acknowledgedAt);
    const resolved = await move("RESOLVED", "called back");
    expect(resolved.json.resolvedAt).not.toBeNull();
    const reopened = await move("IN_PROGRESS", "customer called again");
    expect(reopened.json).toMatchObject({ status: "IN_PROGRESS", resolvedAt: null });

    const history = await call("GET", `/api/v1/alerts/${alert.id}/history`, { token: org.tokens.agent });
    expect(history.json.items.map((h: any) => [h.action, h.fromStatus, h.toStatus, h.note])).toEqual([
      ["created", null, "PENDING", null],
      ["assigned", null, null, null],
      ["status", "PENDING", "ACKNOWLEDGED", "looking"],
      ["status", "ACKNOWLEDGED", "IN_PROGRESS", null],
      ["status", "IN_PROGRESS", "RESOLVED", "called back"],
      ["status", "RESOLVED", "IN_PROGRESS", "customer called again"],
    ]);
    expect(history.json.items.every((h: any) => typeof h.actorId === "string")).toBe(true);
  });

  it("restores a dismissed alert to PENDING", async () => {
    const org = await setupOrg();
    const alert = await create(org.tokens.admin);
    await call("PATCH", `/api/v1/alerts/${alert.id}/status`, { token: org.tokens.admin, body: { status: "DISMISSED" } });
    const res = await call("PATCH", `/api/v1/alerts/${alert.id}/status`, { token: org.tokens.admin, body: { status: "PENDING" } });
    expect(res.status).toBe(200);
    expect(res.json.status).toBe("PENDING");
    expect(res.json.acknowledgedAt).toBeNull();
  });

  it.each([
    [[], "PENDING"],
    [["RESOLVED"], "ACKNOWLEDGED"],
    [["DISMISSED"], "RESOLVED"],
    [["IN_PROGRESS"], "PENDING"],
    [[], "CONVERTED"],
  ])("after %j refuses %s with 409 INVALID_TRANSITION and changes nothing", async (path, to) => {
    const org = await setupOrg();
    const alert = await create(org.tokens.admin);
    for (const status of path) {
      const ok = await call("PATCH", `/api/v1/alerts/${alert.id}/status`, { token: org.tokens.admin, body: { status } });
      expect(ok.status).toBe(200);
    }
    const before = await call("GET", `/api/v1/alerts/${alert.id}`, { token: org.tokens.admin });
    const res = await call("PATCH", `/api/v1/alerts/${alert.id}/status`, { token: org.tokens.admin, body: { status: to } });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("INVALID_TRANSITION");
    expect(res.json.error.details).toMatchObject({ from: before.json.status, to });
    const after = await call("GET", `/api/v1/alerts/${alert.id}`, { token: org.tokens.admin });
    expect(after.json).toEqual(before.json);
  });

  it("rejects an unknown status, an empty object and an overlong note with 400 VALIDATION_FAILED, and no body at all with 415", async () => {
    const org = await setupOrg();
    const alert = await create(org.tokens.admin);
    for (const body of [{ status: "CLOSED" }, {}, { status: "ACKNOWLEDGED", note: "n".repeat(2001) }]) {
      const res = await call("PATCH", `/api/v1/alerts/${alert.id}/status`, { token: org.tokens.admin, body });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("VALIDATION_FAILED");
    }
    const empty = await call("PATCH", `/api/v1/alerts/${alert.id}/status`, { token: org.tokens.admin });
    expect(empty.status).toBe(415);
    expect(empty.json.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("lets a recipient member acknowledge, and hides the alert from others with 404", async () => {
    const org = await setupOrg();
    const alert = await create(org.tokens.admin, { recipients: ["member1"] });
    const hidden = await call("PATCH", `/api/v1/alerts/${alert.id}/status`, { token: org.tokens.agent, body: { status: "ACKNOWLEDGED" } });
    expect(hidden.status).toBe(404);
    expect(hidden.json.error.code).toBe("ALERT_NOT_FOUND");
    const ok = await call("PATCH", `/api/v1/alerts/${alert.id}/status`, { token: org.tokens.member, body: { status: "ACKNOWLEDGED" } });
    expect(ok.status).toBe(200);
  });
});

describe("POST /api/v1/alerts/:id/assign", () => {
  it("lets an admin assign and reassign, stamping assignedAt and the history", async () => {
    const org = await setupOrg();
    const alert = await create(org.tokens.admin);
    const first = await call("POST", `/api/v1/alerts/${alert.id}/assign`, { token: org.tokens.admin, body: { agentId: "agent1" } });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ assigneeId: "agent1", status: "PENDING" });
    expect(first.json.assignedAt).not.toBeNull();
    const second = await call("POST", `/api/v1/alerts/${alert.id}/assign`, { token: org.tokens.service, body: { agentId: "agent2", note: "rebalance" } });
    expect(second.json.assigneeId).toBe("agent2");
    const history = await call("GET", `/api/v1/alerts/${alert.id}/history`, { token: org.tokens.admin });
    expect(history.json.items.filter((h: any) => h.action === "assigned").map((h: any) => [h.assigneeId, h.note])).toEqual([
      ["agent1", null],
      ["agent2", "rebalance"],
    ]);
  });

  it("lets an agent take an unassigned alert for themselves, once", async () => {
    const org = await setupOrg();
    const alert = await create(org.tokens.admin, { recipients: ["agent1", "agent2"] });
    const taken = await call("POST", `/api/v1/alerts/${alert.id}/assign`, { token: org.tokens.agent, body: { agentId: "agent1" } });
    expect(taken.status).toBe(200);
    expect(taken.json.assigneeId).toBe("agent1");
    const late = await call("POST", `/api/v1/alerts/${alert.id}/assign`, { token: org.tokens.agent2, body: { agentId: "agent2" } });
    expect(late.status).toBe(409);
    expect(late.json.error.code).toBe("ALREADY_ASSIGNED");
  });

  it("gives exactly one of two racing agents the alert", async () => {
    const org = await setupOrg();
    const alert = await create(org.tokens.admin, { recipients: ["agent1", "agent2"] });
    const [a, b] = await Promise.all([
      call("POST", `/api/v1/alerts/${alert.id}/assign`, { token: org.tokens.agent, body: { agentId: "agent1" } }),
      call("POST", `/api/v1/alerts/${alert.id}/assign`, { token: org.tokens.agent2, body: { agentId: "agent2" } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const winner = a.status === 200 ? "agent1" : "agent2";
    const read = await call("GET", `/api/v1/alerts/${alert.id}`, { token: org.tokens.admin });
    expect(read.json.assigneeId).toBe(winner);
    const history = await call("GET", `/api/v1/alerts/${alert.id}/history`, { token: org.tokens.admin });
    expect(history.json.items.filter((h: any) => h.action === "assigned")).toHaveLength(1);
  });

  it("refuses an agent assigning someone else (403), a member (403) and hides others' alerts (404)", async () => {
    const org = await setupOrg();
    const alert = await create(org.tokens.admin);
    const other = await call("POST", `/api/v1/alerts/${alert.id}/assign`, { token: org.tokens.agent, body: { agentId: "agent2" } });
    expect(other.status).toBe(403);
    expect(other.json.error.code).toBe("FORBIDDEN");
    const member = await call("POST", `/api/v1/alerts/${alert.id}/assign`, { token: org.tokens.member, body: { agentId: "member1" } });
    expect(member.status).toBe(403);
    await call("POST", `/api/v1/alerts/${alert.id}/assign`, { token: org.tokens.admin, body: { agentId: "agent2" } });
    const hidden = await call("POST", `/api/v1/alerts/${alert.id}/assign`, { token: org.tokens.agent, body: { agentId: "agent1" } });
    expect(hidden.status).toBe(404);
    expect(hidden.json.error.code).toBe("ALERT_NOT_FOUND");
  });

  it("refuses assignees outside the directory or that are services with 422 UNKNOWN_ASSIGNEE", async () => {
    const org = await setupOrg();
    await call("PUT", "/api/v1/users/bot", { token: org.tokens.admin, body: { role: "service" } });
    const alert = await create(org.tokens.admin);
    for (const agentId of ["ghost", "bot"]) {
      const res = await call("POST", `/api/v1/alerts/${alert.id}/assign`, { token: org.tokens.admin, body: { agentId } });
      expect(res.status).toBe(422);
      expect(res.json.error.code).toBe("UNKNOWN_ASSIGNEE");
    }
    const read = await call("GET", `/api/v1/alerts/${alert.id}`, { token: org.tokens.admin });
    expect(read.json.assigneeId).toBeNull();
  });

  it("refuses a malformed agentId with 400 VALIDATION_FAILED", async () => {
    const org = await setupOrg();
    const alert = await create(org.tokens.admin);
    for (const body of [{}, { agentId: "" }, { agentId: 42 }, { agentId: "has space" }]) {
      const res = await call("POST", `/api/v1/alerts/${alert.id}/assign`, { token: org.tokens.admin, body });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("VALIDATION_FAILED");
    }
  });
});

describe("POST /api/v1/alerts/:id/convert", () => {
  it("records the conversion and makes the alert terminal", async () => {
    const org = await setupOrg();
    const alert = await create(org.tokens.admin, { assigneeId: "agent1" });
    const res = await call("POST", `/api/v1/alerts/${alert.id}/convert`, {
      token: org.tokens.agent,
      body: { conversionValue: 12500, conversionType: "listing_signed" },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: "CONVERTED", conversionValue: 12500, conversionType: "listing_signed" });
    expect(res.json.convertedAt).not.toBeNull();
    expect(res.json.acknowledgedAt).not.toBeNull();

    const again = await call("POST", `/api/v1/alerts/${alert.id}/convert`, {
      token: org.tokens.agent,
      body: { conversionValue: 1, conversionType: "again" },
    });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe("INVALID_TRANSITION");
    const moved = await call("PATCH", `/api/v1/alerts/${alert.id}/status`, { token: org.tokens.admin, body: { status: "RESOLVED" } });
    expect(moved.status).toBe(409);
    const reassigned = await call("POST", `/api/v1/alerts/${alert.id}/assign`, { token: org.tokens.admin, body: { agentId: "agent2" } });
    expect(reassigned.status).toBe(409);
  });

  it("refuses converting a dismissed alert with 409 and bad values with 400", async () => {
    const org = await setupOrg();
    const alert = await create(org.tokens.admin);
    for (const body of [{ conversionValue: -1, conversionType: "x" }, { conversionValue: 10 }, { conversionValue: "10", conversionType: "x" }]) {
      const res = await call("POST", `/api/v1/alerts/${alert.id}/convert`, { token: org.tokens.admin, body });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("VALIDATION_FAILED");
    }
    await call("PATCH", `/api/v1/alerts/${alert.id}/status`, { token: org.tokens.admin, body: { status: "DISMISSED" } });
    const res = await call("POST", `/api/v1/alerts/${alert.id}/convert`, {
      token: org.tokens.admin,
      body: { conversionValue: 10, conversionType: "sale" },
    });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("INVALID_TRANSITION");
  });
});

describe("GET /api/v1/alerts/stats", () => {
  it("counts by type, priority and status, with conversion rate and time to acknowledge", async () => {
    const org = await setupOrg();
    const a = await create(org.tokens.admin, { alertType: "LIKELY_TO_SELL", priority: "HIGH", recipients: ["member1"] });
    const b = await create(org.tokens.admin, { alertType: "LIKELY_TO_SELL", priority: "LOW" });
    await create(org.tokens.admin, { alertType: "HOST_DOWN", priority: "CRITICAL" });
    await call("PATCH", `/api/v1/alerts/${a.id}/status`, { token: org.tokens.admin, body: { status: "ACKNOWLEDGED" } });
    await call("POST", `/api/v1/alerts/${b.id}/convert`, { token: org.tokens.admin, body: { conversionValue: 300, conversionType: "sale" } });

    const res = await call("GET", "/api/v1/alerts/stats", { token: org.tokens.admin });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      total: 3,
      byType: { LIKELY_TO_SELL: 2, HOST_DOWN: 1 },
      byPriority: { HIGH: 1, LOW: 1, CRITICAL: 1 },
      byStatus: { ACKNOWLEDGED: 1, CONVERTED: 1, PENDING: 1 },
      converted: 1,
      conversionValueTotal: 300,
      acknowledged: 2,
      window: { since: null, until: null },
    });
    expect(res.json.conversionRate).toBeCloseTo(1 / 3);
    // The mean over the acknowledged alerts only (the PENDING one has no acknowledgedAt).
    const acked = await Promise.all([a.id, b.id].map(async (id) => (await call("GET", `/api/v1/alerts/${id}`, { token: org.tokens.admin })).json));
    const ackMs = acked.map((x) => Date.parse(x.acknowledgedAt) - Date.parse(x.createdAt));
    expect(res.json.avgTimeToAcknowledgeMs).toBe(Math.round((ackMs[0]! + ackMs[1]!) / 2));

    const member = await call("GET", "/api/v1/alerts/stats", { token: org.tokens.member });
    expect(member.json).toMatchObject({ total: 1, byType: { LIKELY_TO_SELL: 1 } });
  });

  it("is empty over a window with no alerts, and rejects a reversed window", async () => {
    const org = await setupOrg();
    await create(org.tokens.admin);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const res = await call("GET", `/api/v1/alerts/stats?since=${future}`, { token: org.tokens.admin });
    expect(res.json).toMatchObject({ total: 0, converted: 0, conversionRate: 0, avgTimeToAcknowledgeMs: null, byType: {} });
    const bad = await call("GET", `/api/v1/alerts/stats?since=${future}&until=2020-01-01T00:00:00Z`, { token: org.tokens.admin });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("VALIDATION_FAILED");
  });
});

describe("POST /api/v1/alerts/bulk", () => {
  it("acknowledges many alerts and reports each failure with its code", async () => {
    const org = await setupOrg();
    const a = await create(org.tokens.admin);
    const b = await create(org.tokens.admin);
    await call("PATCH", `/api/v1/alerts/${b.id}/status`, { token: org.tokens.admin, body: { status: "RESOLVED" } });
    const res = await call("POST", "/api/v1/alerts/bulk", {
      token: org.tokens.admin,
      body: { ids: [a.id, b.id, "alr_missing"], action: "acknowledge" },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ succeeded: 1, failed: 2 });
    expect(res.json.results.map((r: any) => [r.id, r.ok, r.error?.code ?? r.alert.status])).toEqual([
      [a.id, true, "ACKNOWLEDGED"],
      [b.id, false, "INVALID_TRANSITION"],
      ["alr_missing", false, "ALERT_NOT_FOUND"],
    ]);
  });

  it("dismisses and assigns in bulk", async () => {
    const org = await setupOrg();
    const ids = [(await create(org.tokens.admin)).id, (await create(org.tokens.admin)).id];
    const assigned = await call("POST", "/api/v1/alerts/bulk", { token: org.tokens.admin, body: { ids, action: "assign", agentId: "agent2" } });
    expect(assigned.json.results.every((r: any) => r.ok && r.alert.assigneeId === "agent2")).toBe(true);
    const dismissed = await call("POST", "/api/v1/alerts/bulk", { token: org.tokens.admin, body: { ids, action: "dismiss" } });
    expect(dismissed.json.succeeded).toBe(2);
    expect(dismissed.json.results.every((r: any) => r.alert.status === "DISMISSED")).toBe(true);
  });

  it.each([
    ["no ids", { ids: [], action: "acknowledge" }],
    ["101 ids", { ids: Array.from({ length: 101 }, (_, i) => `alr_${i}`), action: "dismiss" }],
    ["duplicate ids", { ids: ["alr_1", "alr_1"], action: "dismiss" }],
    ["an unknown action", { ids: ["alr_1"], action: "delete" }],
    ["assign without agentId", { ids: ["alr_1"], action: "assign" }],
  ])("rejects %s with 400 VALIDATION_FAILED", async (_name, body) => {
    const org = await setupOrg();
    const res = await call("POST", "/api/v1/alerts/bulk", { token: org.tokens.admin, body });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("VALIDATION_FAILED");
  });
});
