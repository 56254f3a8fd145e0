import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../src/config";
import { newId } from "../src/lib/ids";
import { archiveAndPurge, orgArchivePrefix } from "../src/retention/archive";
import { call, makeToken, uniqueOrg } from "./helpers";
import { orgBeside, orgD1 } from "./shard-helpers";

/**
 * Archive before delete (src/retention/archive.ts): closed alerts with their
 * history, assignments and recipients, and read or archived notifications,
 * go to R2 as gzip NDJSON and leave D1 only once the object is confirmed;
 * GET /api/v1/archive lists and streams them per org. Rows are dated in 2000
 * and purged "at" 2001-01-01, so rows other files create today are never due;
 * each test uses its own age range so the globally-oldest-first batches of
 * one test never pick another's rows first.
 */

const DAY = 86_400_000;
const NOW = new Date(Date.UTC(2001, 0, 1));
const config = { retention: { ...getConfig(env).retention, alertDays: 365, notificationDays: 90 } };

async function insertAlert(org: string, status: string, ageDays: number): Promise<string> {
  const ts = NOW.getTime() - ageDays * DAY;
  const id = newId("alr", ts);
  const d1 = await orgD1(org);
  await d1.batch([
    d1.prepare(
      "INSERT INTO alerts (id, org_id, alert_type, priority, status, title, created_by, created_at, updated_at) VALUES (?, ?, 'TEST', 'HIGH', ?, ?, 'svc', ?, ?)",
    ).bind(id, org, status, `Alert ${status}`, ts, ts),
    d1.prepare(
      "INSERT INTO alert_history (id, alert_id, org_id, actor_id, action, to_status, created_at) VALUES (?, ?, ?, 'svc', 'created', 'PENDING', ?)",
    ).bind(newId("ahe", ts), id, org, ts),
    d1.prepare(
      "INSERT INTO alert_history (id, alert_id, org_id, actor_id, action, from_status, to_status, created_at) VALUES (?, ?, ?, 'agent1', 'status', 'PENDING', ?, ?)",
    ).bind(newId("ahe", ts + 1), id, org, status, ts + 1),
    d1.prepare(
      "INSERT INTO alert_assignments (id, org_id, alert_id, kind, agent_id, reason, actor_id, created_at) VALUES (?, ?, ?, 'manual', 'agent1', 'by hand', 'admin1', ?)",
    ).bind(newId("asg", ts), org, id, ts),
    d1.prepare("INSERT INTO alert_recipients (alert_id, org_id, user_id, created_at) VALUES (?, ?, 'agent1', ?)").bind(id, org, ts),
  ]);
  return id;
}

async function insertNotification(org: string, state: "unread" | "read" | "archived" | "deleted", ageDays: number): Promise<string> {
  const ts = NOW.getTime() - ageDays * DAY;
  const id = newId("ntf", ts);
  await (await orgD1(org)).prepare(
    "INSERT INTO notifications (id, org_id, user_id, type, title, priority, created_at, read_at, archived_at, deleted_at) VALUES (?, ?, 'agent1', 'test', 'Hello', 'LOW', ?, ?, ?, ?)",
  )
    .bind(id, org, ts, state === "read" ? ts + 1 : null, state === "archived" ? ts + 1 : null, state === "deleted" ? ts + 1 : null)
    .run();
  return id;
}

const ids = async (sql: string, org: string) =>
  (await (await orgD1(org)).prepare(sql).bind(org).all<{ id: string }>()).results.map((r) => r.id).sort();
const alertIds = (org: string) => ids("SELECT id FROM alerts WHERE org_id = ?", org);
const notificationIds = (org: string) => ids("SELECT id FROM notifications WHERE org_id = ?", org);
const childCount = async (org: string) => {
  const d1 = await orgD1(org);
  const counts = await Promise.all(
    ["alert_history", "alert_assignments", "alert_recipients"].map((t) =>
      d1.prepare(`SELECT count(*) AS n FROM ${t} WHERE org_id = ?`).bind(org).first<number>("n"),
    ),
  );
  return counts.reduce((a, b) => a! + b!, 0);
};

async function gunzipText(body: ArrayBuffer): Promise<string> {
  return new Response(new Blob([body]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
}

/** Every archive object of `org` of one kind, with its parsed lines. */
async function archived(org: string, kind: string): Promise<{ key: string; lines: Record<string, any>[] }[]> {
  const listed = await env.ARCHIVE.list({ prefix: `${orgArchivePrefix(org)}${kind}/` });
  return Promise.all(
    listed.objects.map(async (o) => {
      const obj = await env.ARCHIVE.get(o.key);
      const text = await gunzipText(await obj!.arrayBuffer());
      expect(text.endsWith("\n")).toBe(true);
      return { key: o.key, lines: text.trimEnd().split("\n").map((l) => JSON.parse(l)) };
    }),
  );
}

/** The real bucket, with `put` or `head` replaced. */
function bucketWith(overrides: Partial<R2Bucket>): R2Bucket {
  const real = env.ARCHIVE;
  return {
    put: real.put.bind(real),
    head: real.head.bind(real),
    get: real.get.bind(real),
    list: real.list.bind(real),
    delete: real.delete.bind(real),
    ...overrides,
  } as R2Bucket;
}

describe("archive before delete", () => {
  it("archives and deletes closed alerts past retention with their children; open and fresh alerts stay", async () => {
    const org = uniqueOrg("arc");
    const closed = [await insertAlert(org, "RESOLVED", 400), await insertAlert(org, "DISMISSED", 401), await insertAlert(org, "CONVERTED", 402)];
    const open = [await insertAlert(org, "PENDING", 400), await insertAlert(org, "ACKNOWLEDGED", 400), await insertAlert(org, "IN_PROGRESS", 400)];
    const fresh = await insertAlert(org, "RESOLVED", 300);

    const report = await archiveAndPurge(await orgD1(org), env.ARCHIVE, config, NOW);
    expect(report.alerts.error).toBeUndefined();
    expect(await alertIds(org)).toEqual([...open, fresh].sort());
    expect(await childCount(org)).toBe(16); // 4 alerts left × (2 history + 1 assignment + 1 recipient)

    const objects = await archived(org, "alerts");
    const lines = objects.flatMap((o) => o.lines);
    expect(lines.map((l) => l.id).sort()).toEqual([...closed].sort());
    for (const line of lines) {
      expect(line.org_id).toBe(org);
      expect(line.history).toHaveLength(2);
      expect(line.assignments).toHaveLength(1);
      expect(line.recipients).toEqual([expect.objectContaining({ user_id: "agent1" })]);
    }
    // Per org per creation day: three alerts created on three days.
    expect(objects).toHaveLength(3);
    for (const o of objects) expect(o.key).toMatch(new RegExp(`^archive/${org}/alerts/\\d{4}-\\d\\d-\\d\\d/alr_[0-9A-Z]+-[0-9a-f]{16}\\.ndjson\\.gz$`));

    // Idempotent: a second run finds nothing of this org and writes nothing more.
    await archiveAndPurge(await orgD1(org), env.ARCHIVE, config, NOW);
    expect(await archived(org, "alerts")).toHaveLength(3);
    expect(await alertIds(org)).toEqual([...open, fresh].sort());
  });

  it("archives read, archived and deleted (never read) notifications past retention; unread and fresh ones stay", async () => {
    const org = uniqueOrg("arc");
    const done = [await insertNotification(org, "read", 100), await insertNotification(org, "archived", 100), await insertNotification(org, "deleted", 100)];
    const unread = await insertNotification(org, "unread", 100);
    const fresh = await insertNotification(org, "read", 80);
    const report = await archiveAndPurge(await orgD1(org), env.ARCHIVE, config, NOW);
    expect(report.notifications.error).toBeUndefined();
    expect(await notificationIds(org)).toEqual([unread, fresh].sort());
    const lines = (await archived(org, "notifications")).flatMap((o) => o.lines);
    expect(lines.map((l) => l.id).sort()).toEqual(done.sort());
    expect(lines.length).toBe(3);
  });

  it("deletes nothing when the put fails, or when R2 does not confirm the object", async () => {
    const org = uniqueOrg("arc");
    const a = await insertAlert(org, "RESOLVED", 600);
    const n = await insertNotification(org, "read", 600);
    const failing = bucketWith({ put: async () => Promise.reject(new Error("R2 unavailable")) });
    const report = await archiveAndPurge(await orgD1(org), failing, config, NOW);
    expect(report.alerts.error).toMatch(/R2 unavailable/);
    expect(report.notifications.error).toMatch(/R2 unavailable/);
    expect(await alertIds(org)).toEqual([a]);
    expect(await notificationIds(org)).toEqual([n]);
    expect(await childCount(org)).toBe(4);

    const unconfirmed = bucketWith({ head: async () => null });
    expect((await archiveAndPurge(await orgD1(org), unconfirmed, config, NOW)).alerts.error).toMatch(/not confirmed/);
    expect(await alertIds(org)).toEqual([a]);
    expect(await notificationIds(org)).toEqual([n]);

    // Resumed after the interruption (the put above did land): the same object is written again, then the rows go.
    await archiveAndPurge(await orgD1(org), env.ARCHIVE, config, NOW);
    expect(await alertIds(org)).toEqual([]);
    expect(await notificationIds(org)).toEqual([]);
    expect(await childCount(org)).toBe(0);
    const objects = await archived(org, "alerts");
    expect(objects).toHaveLength(1);
    expect(objects[0]!.lines.map((l) => l.id)).toEqual([a]);
    expect((await archived(org, "notifications")).flatMap((o) => o.lines).map((l) => l.id)).toEqual([n]);
  });

  it("works in bounded batches and resumes where it stopped", async () => {
    const org = uniqueOrg("arc");
    // The oldest rows of the file, so the first batch of 2 is these.
    const alerts = [];
    for (let i = 0; i < 3; i++) alerts.push(await insertAlert(org, "RESOLVED", 3_000 + i));
    const small = { retention: { ...config.retention, batchRows: 2, maxBatches: 1 } };
    expect((await archiveAndPurge(await orgD1(org), env.ARCHIVE, small, NOW)).alerts.deleted).toBe(2);
    expect(await alertIds(org)).toHaveLength(1);
    expect((await archiveAndPurge(await orgD1(org), env.ARCHIVE, small, NOW)).alerts.deleted).toBe(1);
    expect(await alertIds(org)).toEqual([]);
    const lines = (await archived(org, "alerts")).flatMap((o) => o.lines);
    expect(lines.map((l) => l.id).sort()).toEqual(alerts.sort());
  });
});

describe("GET /api/v1/archive", () => {
  it("lists the caller's objects and streams one decompressed; another org sees neither", async () => {
    const org = uniqueOrg("arc");
    const other = await orgBeside(org, "arc");
    const a = await insertAlert(org, "CONVERTED", 700);
    await archiveAndPurge(await orgD1(org), env.ARCHIVE, config, NOW);
    const admin = await makeToken({ org, role: "admin" });

    const list = await call("GET", "/api/v1/archive", { token: admin });
    expect(list.status).toBe(200);
    expect(list.json.items).toHaveLength(1);
    const item = list.json.items[0];
    expect(item).toMatchObject({ kind: "alerts", rows: 1, key: expect.stringMatching(new RegExp(`^archive/${org}/alerts/`)) });
    expect(item.size).toBeGreaterThan(0);
    expect(item.day).toBe(new Date(NOW.getTime() - 700 * DAY).toISOString().slice(0, 10));
    expect(list.json.nextCursor).toBeNull();

    const got = await call("GET", item.href, { token: admin });
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    const lines = got.text.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines).toEqual([expect.objectContaining({ id: a, status: "CONVERTED" })]);

    const otherAdmin = await makeToken({ org: other, role: "admin" });
    expect((await call("GET", item.href, { token: otherAdmin })).status).toBe(404);
    expect((await call("GET", "/api/v1/archive", { token: otherAdmin })).json.items).toEqual([]);
    expect((await call("GET", "/api/v1/archive", { token: await makeToken({ org, role: "agent" }) })).status).toBe(403);
    expect((await call("GET", "/api/v1/archive/alerts/2000-01-01/..%2F..%2Fx.ndjson.gz", { token: admin })).status).toBe(400);
  });

  it("pages with a cursor", async () => {
    const org = uniqueOrg("arc");
    for (let i = 0; i < 3; i++) await insertNotification(org, "archived", 800 + i);
    await archiveAndPurge(await orgD1(org), env.ARCHIVE, config, NOW);
    const admin = await makeToken({ org, role: "admin" });
    const first = await call("GET", "/api/v1/archive?limit=2&kind=notifications", { token: admin });
    expect(first.json.items).toHaveLength(2);
    expect(first.json.nextCursor).toEqual(expect.any(String));
    const second = await call("GET", `/api/v1/archive?limit=2&kind=notifications&cursor=${encodeURIComponent(first.json.nextCursor)}`, { token: admin });
    expect(second.json.items).toHaveLength(1);
    expect(second.json.nextCursor).toBeNull();
    expect((await call("GET", "/api/v1/archive?kind=bogus", { token: admin })).status).toBe(400);
  });
});
