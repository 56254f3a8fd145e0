import { describe, expect, it } from "vitest";
import { keysetPage } from "../src/db/pagination";
import { alerts } from "../src/db/schema";
import { AppError, ErrorCode } from "../src/errors";
import { encodeCursor } from "../src/lib/cursor";
import { assertDataSize } from "../src/lib/size-limit";
import { stageEvents, type OutboundEvent, type WebhookEndpoint } from "../src/outbox";
import { orgDb } from "./shard-helpers";

const row = (i: number) => ({ id: `a${i}`, createdAt: new Date(1_000 + i) });

describe("keysetPage", () => {
  it("reads limit + 1 rows newest first and gives the next cursor only when there is one more", async () => {
    const seen: { after: unknown; limit: number }[] = [];
    const read = async (after: unknown, _orderBy: unknown, limit: number) => {
      seen.push({ after, limit });
      return [row(3), row(2), row(1)];
    };
    const first = await keysetPage(alerts, { limit: 2 }, read, (r) => r.id);
    expect(first).toEqual({ items: ["a3", "a2"], nextCursor: encodeCursor({ createdAt: 1_002, id: "a2" }) });
    expect(seen[0]).toEqual({ after: undefined, limit: 3 });
    const last = await keysetPage(alerts, { limit: 3, cursor: first.nextCursor! }, read, (r) => r.id);
    expect(last).toEqual({ items: ["a3", "a2", "a1"], nextCursor: null });
    expect(seen[1]!.after).toBeDefined();
  });

  it("refuses a cursor it did not issue with 400 INVALID_CURSOR, before reading", async () => {
    let reads = 0;
    const read = async () => {
      reads++;
      return [];
    };
    await expect(keysetPage(alerts, { limit: 2, cursor: "not-ours" }, read, (r: { id: string; createdAt: Date }) => r)).rejects.toMatchObject({
      status: 400,
      code: ErrorCode.INVALID_CURSOR,
    });
    expect(reads).toBe(0);
  });
});

describe("assertDataSize", () => {
  it("passes data up to the limit and answers 413 DATA_TOO_LARGE with the size and the limit above it", () => {
    expect(() => assertDataSize({ a: "x" }, 9)).not.toThrow();
    try {
      assertDataSize({ a: "xy" }, 9);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ status: 413, code: ErrorCode.DATA_TOO_LARGE, details: { bytes: 10, limit: 9 } });
    }
  });
});

describe("stageEvents (the outbox's write side)", () => {
  const ev = (type: string): OutboundEvent => ({ id: `evt_${crypto.randomUUID()}`, orgId: "org-stage", type, data: {}, ts: Date.now(), userIds: ["u1"] });
  const endpoint: WebhookEndpoint = { id: "whk_1", orgId: "org-stage", url: "https://example.com/hook", events: ["alert:*"] };

  it("plans the webhook deliveries with the events when the caller read the endpoints, and leaves them to publishing otherwise", async () => {
    const db = await orgDb("org-stage");
    const events = [ev("alert:new"), ev("deal:won")];
    const withEndpoints = stageEvents(db, events, 60, { endpoints: [endpoint] });
    expect(withEndpoints.events).toEqual(events);
    expect(withEndpoints.webhookDeliveries).toHaveLength(1);
    expect(withEndpoints.statements.length).toBeGreaterThan(stageEvents(db, events, 60).statements.length);
    expect(stageEvents(db, events, 60).webhookDeliveries).toBeUndefined();
    expect(stageEvents(db, events, 60, { endpoints: [] }).webhookDeliveries).toEqual([]);
  });

  it("does not make webhook deliveries conditional on a guard", async () => {
    const db = await orgDb("org-stage");
    expect(() => stageEvents(db, [ev("alert:updated")], 60, { guard: { alertId: "alr_1", changeId: "ahe_1" }, endpoints: [] })).toThrow();
  });
});
