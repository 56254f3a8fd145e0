import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../src/config";
import { newId } from "../src/lib/ids";
import worker from "../src/index";
import { orgArchivePrefix } from "../src/retention/archive";
import { idBefore, purgeDeliveries, purgeIdempotencyKeys, purgeUnarchived } from "../src/retention/purge";
import { uniqueOrg } from "./helpers";
import { orgD1 } from "./shard-helpers";

/**
 * Retention of deliveries (src/retention/purge.ts): only final deliveries past
 * DELIVERY_RETENTION_DAYS go, in bounded batches, resumably and idempotently.
 * Rows are dated far in the past and the purge is run at a matching `now`, so
 * other test files' rows (created today) are never due here.
 */

const DAY = 86_400_000;
/** The instant every test runs its purge at: 2001-01-01. */
const NOW = new Date(Date.UTC(2001, 0, 1));

/** Inserts a delivery of `org` last changed `ageDays` before NOW. */
async function insertDelivery(org: string, status: string, ageDays: number): Promise<string> {
  const ts = NOW.getTime() - ageDays * DAY;
  const id = newId("dlv", ts);
  await (await orgD1(org)).prepare(
    "INSERT INTO deliveries (id, org_id, dedupe_key, channel, status, attempts, created_at, updated_at) VALUES (?, ?, ?, 'email', ?, 1, ?, ?)",
  )
    .bind(id, org, `test:${id}`, status, ts, ts)
    .run();
  return id;
}

async function remaining(org: string): Promise<string[]> {
  const { results } = await (await orgD1(org)).prepare("SELECT id FROM deliveries WHERE org_id = ? ORDER BY id").bind(org).all<{ id: string }>();
  return results.map((r) => r.id);
}

describe("delivery retention", () => {
  it("deletes final deliveries older than the retention and nothing else", async () => {
    const org = uniqueOrg("ret");
    const sent = await insertDelivery(org, "sent", 40);
    const failed = await insertDelivery(org, "failed", 31);
    const skipped = await insertDelivery(org, "skipped", 100);
    const queued = await insertDelivery(org, "queued", 40);
    const deferred = await insertDelivery(org, "deferred", 40);
    const fresh = await insertDelivery(org, "sent", 29);
    const deleted = await purgeDeliveries(await orgD1(org), 30, { batchRows: 500, maxBatches: 20 }, NOW);
    expect(deleted).toBeGreaterThanOrEqual(3);
    const left = await remaining(org);
    expect(left).toEqual([queued, deferred, fresh].sort());
    for (const id of [sent, failed, skipped]) expect(left).not.toContain(id);
  });

  it("works in batches: a run of one batch of 2 deletes 2, the next run continues, a third changes nothing", async () => {
    const org = uniqueOrg("ret");
    // Older than any other test's rows, so these are the first the purge picks.
    for (let i = 0; i < 3; i++) await insertDelivery(org, "sent", 3_000 + i);
    const budget = { batchRows: 2, maxBatches: 1 };
    expect(await purgeDeliveries(await orgD1(org), 2_000, budget, NOW)).toBe(2);
    expect(await remaining(org)).toHaveLength(1);
    expect(await purgeDeliveries(await orgD1(org), 2_000, budget, NOW)).toBe(1);
    expect(await remaining(org)).toHaveLength(0);
    expect(await purgeDeliveries(await orgD1(org), 2_000, budget, NOW)).toBe(0);
  });

  it("is idempotent: running twice deletes nothing more", async () => {
    const org = uniqueOrg("ret");
    await insertDelivery(org, "failed", 1_500);
    const keep = await insertDelivery(org, "queued", 1_500);
    const config = { retention: { ...getConfig(env).retention, deliveryDays: 1_000 } };
    expect((await purgeUnarchived(await orgD1(org), config, NOW)).deliveries).toBeGreaterThanOrEqual(1);
    expect(await remaining(org)).toEqual([keep]);
    expect((await purgeUnarchived(await orgD1(org), config, NOW)).deliveries).toBe(0);
    expect(await remaining(org)).toEqual([keep]);
  });

  it("selects by an id bound that sorts exactly at the creation instant", () => {
    const ms = Date.UTC(2020, 5, 1);
    expect(newId("dlv", ms - 1) < idBefore("dlv", ms)).toBe(true);
    expect(newId("dlv", ms) > idBefore("dlv", ms)).toBe(true);
  });

  it("has the documented defaults", () => {
    expect(getConfig(env).retention).toEqual({ deliveryDays: 30, alertDays: 30, notificationDays: 30, batchRows: 500, maxBatches: 20 });
  });
});

/** Inserts an idempotency key of `org` expiring at `expiresAt` (ms). */
async function insertKey(org: string, key: string, expiresAt: number): Promise<void> {
  await (await orgD1(org)).prepare(
    "INSERT INTO idempotency_keys (org_id, scope, key, request_hash, status_code, response_body, created_at, expires_at) VALUES (?, 'POST /api/v1/alerts', ?, ?, 201, '{}', ?, ?)",
  )
    .bind(org, key, "0".repeat(64), expiresAt - DAY, expiresAt)
    .run();
}

const keysOf = async (org: string) =>
  (await (await orgD1(org)).prepare("SELECT key FROM idempotency_keys WHERE org_id = ? ORDER BY key").bind(org).all<{ key: string }>()).results.map((r) => r.key);

describe("idempotency key retention", () => {
  it("deletes expired keys in bounded batches and keeps live ones", async () => {
    const org = uniqueOrg("ret");
    // Expired long before NOW (and before any other row of this file), so the first batches are these.
    for (const k of ["a", "b", "c"]) await insertKey(org, k, NOW.getTime() - 5_000 * DAY);
    await insertKey(org, "live", NOW.getTime() + DAY);
    const budget = { batchRows: 2, maxBatches: 1 };
    expect(await purgeIdempotencyKeys(await orgD1(org), budget, NOW)).toBe(2);
    expect(await keysOf(org)).toHaveLength(2);
    await purgeIdempotencyKeys(await orgD1(org), { batchRows: 500, maxBatches: 20 }, NOW);
    expect(await keysOf(org)).toEqual(["live"]);
    expect(await purgeIdempotencyKeys(await orgD1(org), budget, NOW)).toBe(0);
  });
});

describe("the scheduled handler", () => {
  it("applies retention: finished deliveries, expired keys, and closed alerts through the archive", async () => {
    const org = uniqueOrg("ret");
    const now = Date.now();
    const old = now - 400 * DAY;
    const alert = newId("alr", old);
    const d1 = await orgD1(org);
    await d1.batch([
      d1.prepare(
        "INSERT INTO deliveries (id, org_id, dedupe_key, channel, status, created_at, updated_at) VALUES (?, ?, ?, 'sms', 'sent', ?, ?)",
      ).bind(newId("dlv", old), org, `test:${org}`, old, old),
      d1.prepare(
        "INSERT INTO alerts (id, org_id, alert_type, priority, status, title, created_by, created_at, updated_at) VALUES (?, ?, 'TEST', 'LOW', 'RESOLVED', 'Old', 'svc', ?, ?)",
      ).bind(alert, org, old, old),
    ]);
    await insertKey(org, "expired", now - 60_000);

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: new Date(now), cron: "* * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);

    expect(await remaining(org)).toEqual([]);
    expect(await keysOf(org)).toEqual([]);
    expect(await (await orgD1(org)).prepare("SELECT count(*) AS n FROM alerts WHERE org_id = ?").bind(org).first<number>("n")).toBe(0);
    const listed = await env.ARCHIVE.list({ prefix: `${orgArchivePrefix(org)}alerts/` });
    expect(listed.objects).toHaveLength(1);
  });
});
