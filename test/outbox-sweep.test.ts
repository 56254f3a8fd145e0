import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getConfig } from "../src/config";
import { newId } from "../src/lib/ids";
import { sweepUnpublished } from "../src/outbox";
import { uniqueOrg } from "./helpers";
import { orgD1, orgDb } from "./shard-helpers";

/**
 * The per-minute sweep re-delivers unpublished events. An event that can
 * never be delivered (here: data nested so deep that carrying it to a hub
 * throws, as rows saved before MAX_JSON_DEPTH existed can be) must not block
 * the others, and is given up visibly after OUTBOX_MAX_ATTEMPTS sweeps.
 */

interface Row {
  id: string;
  published_at: number | null;
  attempts: number;
  failed_at: number | null;
}

/** Inserts an unpublished event for one user, `ageMs` old, straight into D1 (as a crashed request would leave it). */
async function insertEvent(org: string, userId: string, data: string, ageMs: number): Promise<string> {
  const ts = Date.now() - ageMs;
  const id = newId("evt", ts);
  const d1 = await orgD1(org);
  await d1.batch([
    d1.prepare(
      "INSERT INTO realtime_events (id, org_id, type, data, source, created_at, expires_at, published_at) VALUES (?, ?, 'deal:won', ?, 'test:sweep', ?, ?, NULL)",
    ).bind(id, org, data, ts, ts + 86_400_000),
    d1.prepare("INSERT INTO realtime_event_targets (event_id, org_id, user_id) VALUES (?, ?, ?)").bind(id, org, userId),
  ]);
  return id;
}

const row = async (org: string, id: string) =>
  (await orgD1(org)).prepare("SELECT id, published_at, attempts, failed_at FROM realtime_events WHERE id = ?").bind(id).first<Row>();

/** Data a hub call cannot carry (the RPC serialization overflows the stack): 5,000 levels of arrays. */
const POISON = `${"[".repeat(5_000)}${"]".repeat(5_000)}`;

/** Only this test's events (on its org's shard, the one swept): other orgs' stale rows would take the sweep's places otherwise. */
async function onlyOurs(org: string) {
  await (await orgD1(org)).prepare("UPDATE realtime_events SET published_at = 1 WHERE org_id != ? AND published_at IS NULL").bind(org).run();
}

afterEach(() => vi.restoreAllMocks());

describe("outbox sweep and events that can never be delivered", () => {
  it("defaults OUTBOX_MAX_ATTEMPTS to 10", () => {
    expect(getConfig(env).outboxMaxAttempts).toBe(10);
  });

  it("delivers the other events of its batch while a poisoned one fails, and gives the poisoned one up after N attempts", async () => {
    const org = uniqueOrg("sweep");
    const poison = await insertEvent(org, "u1", POISON, 120_000);
    const good = await insertEvent(org, "u2", '{"amount":1}', 60_000);
    await onlyOurs(org);
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});

    const first = await sweepUnpublished(env, await orgDb(org), 10_000, 100, 3);
    expect(first).toEqual({ delivered: 1, failed: 1, gaveUp: 0 });
    expect(await row(org, good)).toMatchObject({ published_at: expect.any(Number), attempts: 1, failed_at: null });
    expect(await row(org, poison)).toMatchObject({ published_at: null, attempts: 1, failed_at: null });

    expect(await sweepUnpublished(env, await orgDb(org), 10_000, 100, 3)).toEqual({ delivered: 0, failed: 1, gaveUp: 0 });
    expect(await sweepUnpublished(env, await orgDb(org), 10_000, 100, 3)).toEqual({ delivered: 0, failed: 1, gaveUp: 1 });
    expect(await row(org, poison)).toMatchObject({ published_at: null, attempts: 3, failed_at: expect.any(Number) });
    expect(errors.mock.calls.some(([message]) => String(message).includes(`gave up on event ${poison}`))).toBe(true);

    // Given up: never picked again.
    expect(await sweepUnpublished(env, await orgDb(org), 10_000, 100, 3)).toEqual({ delivered: 0, failed: 0, gaveUp: 0 });
    expect((await row(org, poison))!.attempts).toBe(3);
  });

  it("does not starve younger events for longer than N sweeps when poisoned ones fill the sweep's places", async () => {
    const org = uniqueOrg("starve");
    const poison = await insertEvent(org, "u1", POISON, 120_000);
    const good = await insertEvent(org, "u2", '{"amount":2}', 60_000);
    await onlyOurs(org);
    vi.spyOn(console, "error").mockImplementation(() => {});

    // One place per sweep, taken by the older poisoned event until it is given up.
    for (let i = 0; i < 3; i++) {
      expect(await sweepUnpublished(env, await orgDb(org), 10_000, 1, 3)).toMatchObject({ delivered: 0, failed: 1 });
      expect((await row(org, good))!.published_at).toBeNull();
    }
    expect(await sweepUnpublished(env, await orgDb(org), 10_000, 1, 3)).toEqual({ delivered: 1, failed: 0, gaveUp: 0 });
    expect((await row(org, good))!.published_at).toEqual(expect.any(Number));
    expect((await row(org, poison))!.failed_at).toEqual(expect.any(Number));
  });

  it("survives an event whose stored data is not JSON: the rest of the batch is delivered", async () => {
    const org = uniqueOrg("corrupt");
    const broken = await insertEvent(org, "u1", "{not json", 120_000);
    const good = await insertEvent(org, "u2", '{"amount":3}', 60_000);
    await onlyOurs(org);
    vi.spyOn(console, "error").mockImplementation(() => {});
    expect(await sweepUnpublished(env, await orgDb(org), 10_000, 100, 1)).toEqual({ delivered: 1, failed: 1, gaveUp: 1 });
    expect((await row(org, good))!.published_at).toEqual(expect.any(Number));
    expect((await row(org, broken))!.failed_at).toEqual(expect.any(Number));
  });
});
