import type { MetaTable } from "./meta";

/** `stats:updated` covers alerts created in the last 24 hours. */
const STATS_WINDOW_MS = 24 * 3600 * 1000;

/**
 * The coalesced `stats:updated` feed: an alert change marks the stats dirty,
 * and one tick (at most one per STATS_COALESCE_MS) publishes fresh stats. The
 * pending tick (`stats_due`) and the last one (`stats_last`) are kept in
 * `meta`, so a tick survives hibernation. Nobody watching the `stats` channel:
 * no tick, no alarm, no query.
 */
export class StatsFeed {
  /**
   * @param watched whether an open socket subscribes to `stats`
   * @param coalesceMs STATS_COALESCE_MS, read at each change
   * @param arm makes the hub's alarm fire by the given time
   */
  constructor(
    private readonly meta: MetaTable,
    private readonly watched: () => boolean,
    private readonly coalesceMs: () => number,
    private readonly arm: (at: number) => void,
  ) {}

  /** An alert changed: schedules a tick unless one is pending or nobody watches. */
  dirty(): void {
    // The in-memory check first: with nobody on `stats`, a publish reads no storage here.
    if (!this.watched() || this.meta.get("stats_due")) return;
    const last = Number(this.meta.get("stats_last") ?? 0);
    const due = Math.max(Date.now(), last + this.coalesceMs());
    this.meta.set("stats_due", String(due));
    this.arm(due);
  }

  /** When the pending tick is due (ms), if any. */
  nextTickAt(): number | undefined {
    const due = this.meta.get("stats_due");
    return due ? Number(due) : undefined;
  }

  /**
   * Takes the tick if it is due: true when stats should be published now (the
   * tick is then recorded as the last one). A tick whose watcher left is dropped.
   */
  takeTick(now = Date.now()): boolean {
    const due = this.meta.get("stats_due");
    if (!due || Number(due) > now) return false;
    this.meta.delete("stats_due");
    // The subscriber may have left since the change was noted.
    if (!this.watched()) return false;
    this.meta.set("stats_last", String(Date.now()));
    return true;
  }

  /**
   * The start of the window the stats cover (ISO): a rolling window, not all
   * time, since a full-history scan every second per org would grow without
   * bound (docs/COST.md).
   */
  windowStart(now = Date.now()): string {
    return new Date(now - STATS_WINDOW_MS).toISOString();
  }
}
