import { describe, expect, it } from "vitest";
import { closeAction, jitteredDelay, parseCloseReason } from "../src/backoff";
import { RecentIds } from "../src/dedupe";
import { Emitter } from "../src/emitter";
import { refusalReason } from "../../../src/protocol/index";
import type { Herald } from "../src/index";

describe("jitteredDelay (full jitter)", () => {
  const opts = { minDelayMs: 1000, maxDelayMs: 8000, growFactor: 2 };

  it("is 0 for the first dial and within [0, cap] after, the cap growing to the max", () => {
    expect(jitteredDelay(0, opts)).toBe(0);
    expect(jitteredDelay(1, opts, () => 0)).toBe(0);
    expect(jitteredDelay(1, opts, () => 0.999999)).toBe(999);
    expect(jitteredDelay(2, opts, () => 0.999999)).toBe(1999);
    expect(jitteredDelay(3, opts, () => 0.999999)).toBe(3999);
    expect(jitteredDelay(10, opts, () => 0.999999)).toBe(7999);
    for (let attempt = 1; attempt < 12; attempt++) {
      for (let i = 0; i < 200; i++) {
        const d = jitteredDelay(attempt, opts);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(Math.min(8000, 1000 * 2 ** (attempt - 1)));
      }
    }
  });

  it("spreads many clients over the window instead of one instant", () => {
    const delays = Array.from({ length: 1000 }, () => jitteredDelay(1, opts));
    const buckets = new Array(10).fill(0);
    for (const d of delays) buckets[Math.floor(d / 100)]++;
    // Every tenth of the window gets some clients; none gets most of them.
    for (const b of buckets) {
      expect(b).toBeGreaterThan(30);
      expect(b).toBeLessThan(250);
    }
  });
});

describe("closeAction", () => {
  it("decides per close code", () => {
    expect(closeAction(4400)).toEqual({ action: "stop" });
    expect(closeAction(4403)).toEqual({ action: "stop" });
    expect(closeAction(1009)).toEqual({ action: "stop" });
    expect(closeAction(4401, refusalReason({ code: "TICKET_INVALID", message: "x" }))).toEqual({ action: "refresh" });
    expect(closeAction(4001)).toEqual({ action: "refresh" });
    expect(closeAction(4429, refusalReason({ code: "CONNECTION_LIMIT", message: "x", retryAfter: 7 }))).toEqual({ action: "wait", delayMs: 7000 });
    expect(closeAction(4429, "not json")).toEqual({ action: "wait", delayMs: 10000 });
    for (const code of [1000, 1001, 1006, 1008, 1011, 4500, 4503]) expect(closeAction(code)).toEqual({ action: "retry" });
  });

  it("reads the refusal reason, and nothing from a non-JSON reason", () => {
    expect(parseCloseReason(refusalReason({ code: "RATE_LIMITED", message: "slow down", retryAfter: 60 }))).toEqual({
      code: "RATE_LIMITED",
      message: "slow down",
      retryAfter: 60,
    });
    expect(parseCloseReason("bye")).toEqual({});
    expect(parseCloseReason("")).toEqual({});
    expect(parseCloseReason("null")).toEqual({});
  });
});

describe("RecentIds", () => {
  it("drops a repeated id and forgets the oldest beyond its capacity (bounded memory)", () => {
    const ids = new RecentIds(3);
    expect(ids.add("a")).toBe(true);
    expect(ids.add("a")).toBe(false);
    ids.add("b");
    ids.add("c");
    ids.add("d");
    expect(ids.size).toBe(3);
    expect(ids.has("a")).toBe(false);
    expect(ids.add("b")).toBe(false);
    expect(ids.add("a")).toBe(true);
  });
});

describe("Emitter", () => {
  it("keeps delivering when a listener throws, and once fires once", async () => {
    const e = new Emitter();
    const got: number[] = [];
    const thrown: unknown[] = [];
    const onError = (err: unknown) => thrown.push(err);
    process.on("uncaughtException", onError);
    try {
      e.on("x", () => {
        throw new Error("app bug");
      });
      e.on("x", (n: number) => got.push(n));
      e.once("x", (n: number) => got.push(n * 10));
      e.emit("x", 1);
      e.emit("x", 2);
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      process.off("uncaughtException", onError);
    }
    expect(got).toEqual([1, 10, 2]);
    expect(thrown).toHaveLength(2);
  });

  it("off removes a listener added with once", () => {
    const e = new Emitter();
    const got: number[] = [];
    const fn = (n: number) => got.push(n);
    e.once("x", fn);
    e.off("x", fn);
    e.emit("x", 1);
    expect(got).toEqual([]);
    expect(e.has("x")).toBe(false);
  });
});

// Type-level: tsc -p packages/sdk/test fails if the event map stops typing handlers.
export function typeChecks(h: Herald): void {
  h.on("alert:new", ({ alert }) => alert.title.toUpperCase());
  h.on("unread:count", ({ count, unseen }) => count + unseen);
  h.on("notification:new", ({ notification }) => notification.readAt);
  h.on("status", (s) => s === "polling");
  h.on("deal:won", (data) => data);
  // @ts-expect-error alert events carry { alert, change }, not a title
  h.on("alert:new", ({ title }) => title);
  // @ts-expect-error the status is one of four strings
  h.on("status", (s) => s === "online");
}
