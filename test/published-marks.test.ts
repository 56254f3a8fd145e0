import { describe, expect, it, vi } from "vitest";
import { PublishedMarks, type PublishedEvent } from "../src/outbox/published-marks";

// PublishedMarks on its own: a fake write (one call = one statement) and a
// waitUntil that records the background work, so every test can await it.

interface Harness {
  marks: PublishedMarks;
  statements: string[][];
  drains: Promise<unknown>[];
  /** Resolves the statement in flight (writes wait until released when `hold` is set). */
  release: () => void;
  settle: () => Promise<void>;
}

function harness(options: { hold?: boolean; refuse?: (ids: string[]) => boolean; idsPerStatement?: number; drainMaxMs?: number; now?: () => number } = {}): Harness {
  const statements: string[][] = [];
  const drains: Promise<unknown>[] = [];
  let releases: (() => void)[] = [];
  const marks = new PublishedMarks({
    write: async (ids) => {
      statements.push(ids);
      if (options.hold) await new Promise<void>((resolve) => releases.push(resolve));
      if (options.refuse?.(ids)) throw new Error("HERALD_ORG_MOVING");
    },
    waitUntil: (work) => drains.push(work),
    ...(options.idsPerStatement !== undefined && { idsPerStatement: options.idsPerStatement }),
    ...(options.drainMaxMs !== undefined && { drainMaxMs: options.drainMaxMs }),
    ...(options.now && { now: options.now }),
  });
  return {
    marks,
    statements,
    drains,
    release: () => {
      const r = releases;
      releases = [];
      for (const f of r) f();
    },
    settle: async () => {
      for (let i = 0; i < drains.length; i++) await drains[i];
    },
  };
}

const events = (org: string, ...ids: string[]): PublishedEvent[] => ids.map((id) => ({ id, orgId: org }));

describe("PublishedMarks (events marked published in the background)", () => {
  it("returns before the write is done, and a mark with no drain running starts one and is written at once", async () => {
    const h = harness({ hold: true });
    h.marks.add(events("o1", "e1", "e2"));
    expect(h.drains).toHaveLength(1);
    expect(h.statements).toEqual([["e1", "e2"]]);
    h.release();
    await h.settle();
    expect(h.marks.queued).toBe(0);
  });

  it("marks added while a statement is in flight go together in the next statement, in the same drain", async () => {
    const h = harness({ hold: true });
    h.marks.add(events("o1", "e1"));
    await vi.waitFor(() => expect(h.statements).toHaveLength(1));
    h.marks.add(events("o1", "e2"));
    h.marks.add(events("o1", "e3"));
    h.marks.add(events("o1", "e4"));
    expect(h.drains).toHaveLength(1);
    h.release();
    await vi.waitFor(() => expect(h.statements).toHaveLength(2));
    h.release();
    await h.settle();
    expect(h.statements).toEqual([["e1"], ["e2", "e3", "e4"]]);
  });

  it("a new drain starts for a mark added after the last one ended", async () => {
    const h = harness();
    h.marks.add(events("o1", "e1"));
    await h.settle();
    h.marks.add(events("o1", "e2"));
    expect(h.drains).toHaveLength(2);
    await h.settle();
    expect(h.statements).toEqual([["e1"], ["e2"]]);
  });

  it("caps the ids of one statement (idsPerStatement)", async () => {
    const h = harness({ idsPerStatement: 500 });
    const ids = Array.from({ length: 1_200 }, (_, i) => `e${i}`);
    h.marks.add(events("o1", ...ids));
    await h.settle();
    expect(h.statements.map((s) => s.length)).toEqual([500, 500, 200]);
    expect(h.statements.flat()).toEqual(ids);
  });

  it("an id listed twice is written once", async () => {
    const h = harness();
    h.marks.add(events("o1", "e1", "e1", "e2"));
    await h.settle();
    expect(h.statements).toEqual([["e1", "e2"]]);
  });

  it("a refused statement of several orgs is retried per org: only the refused org's events are left to the sweep (logged)", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const h = harness({ refuse: (ids) => ids.includes("m1") });
      h.marks.add(events("first", "f1"));
      // Queued while the first statement is in flight: they share the next one.
      h.marks.add(events("ok", "a1", "a2"));
      h.marks.add(events("moving", "m1", "m2"));
      h.marks.add(events("ok2", "b1"));
      await h.settle();
      expect(h.statements).toEqual([["f1"], ["a1", "a2", "m1", "m2", "b1"], ["a1", "a2"], ["m1", "m2"], ["b1"]]);
      expect(error).toHaveBeenCalledTimes(1);
      expect(String(error.mock.calls[0]![0])).toContain("2 events of org moving");
    } finally {
      error.mockRestore();
    }
  });

  it("a refused statement of one org is logged once and not retried", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const h = harness({ refuse: () => true });
      h.marks.add(events("moving", "m1", "m2"));
      await h.settle();
      expect(h.statements).toEqual([["m1", "m2"]]);
      expect(error).toHaveBeenCalledTimes(1);
      // The drain ended: the next mark starts a new one.
      h.marks.add(events("moving", "m3"));
      await h.settle();
      expect(h.statements).toHaveLength(2);
    } finally {
      error.mockRestore();
    }
  });

  it("a drain stops after drainMaxMs; what is queued then goes with the next add's drain", async () => {
    let clock = 0;
    const h = harness({ hold: true, drainMaxMs: 1_000, now: () => clock });
    h.marks.add(events("o1", "e1"));
    await vi.waitFor(() => expect(h.statements).toHaveLength(1));
    h.marks.add(events("o1", "e2"));
    clock = 1_000;
    h.release();
    await h.settle();
    expect(h.statements).toEqual([["e1"]]);
    expect(h.marks.queued).toBe(1);
    h.marks.add(events("o1", "e3"));
    expect(h.drains).toHaveLength(2);
    await vi.waitFor(() => expect(h.statements).toHaveLength(2));
    h.release();
    await h.settle();
    expect(h.statements).toEqual([["e1"], ["e2", "e3"]]);
  });
});
