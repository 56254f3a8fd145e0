import type { MetaTable } from "./meta";

/** How often (in counted events) the dedupe table of counted event ids is pruned. */
const COUNTED_PRUNE_EVERY = 100;

interface CounterRow extends Record<string, SqlStorageValue> {
  type: string;
  publishes: number;
  sent: number;
  latency_sum: number;
  latency_max: number;
}

/** The counters part of `GET /api/v1/realtime/stats`. */
export interface CountersSummary {
  since: string;
  messages: { type: string; publishes: number; sent: number; avgLatencyMs: number; maxLatencyMs: number }[];
  latency: { avgMs: number | null; maxMs: number | null };
}

/**
 * The realtime counters (table `counters`: per event type, publishes, frames
 * sent, publish-to-send latency) and the ids already counted (table
 * `counted`), so a re-delivered event counts once. Counting started at
 * `since` (kept in `meta`).
 */
export class Counters {
  #since: number | undefined;
  #countedSincePrune = 0;

  /** @param retentionMs how long a counted id is remembered: the replay window, read at each prune */
  constructor(
    private readonly sql: SqlStorage,
    private readonly meta: MetaTable,
    private readonly retentionMs: () => number,
  ) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS counters (
        type TEXT PRIMARY KEY,
        publishes INTEGER NOT NULL,
        sent INTEGER NOT NULL,
        latency_sum INTEGER NOT NULL,
        latency_max INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS counted (id TEXT PRIMARY KEY, ts INTEGER NOT NULL);
    `);
  }

  /** When counting started (ms); set on first use, then never changes. */
  since(): number {
    if (this.#since === undefined) {
      let since = this.meta.get("since");
      if (!since) {
        since = String(Date.now());
        this.meta.set("since", since);
      }
      this.#since = Number(since);
    }
    return this.#since;
  }

  /** Adds one publish of `type`: `sent` frames, `latencyMs` from publish to send. */
  count(type: string, sent: number, latencyMs: number): void {
    this.since();
    this.sql.exec(
      `INSERT INTO counters (type, publishes, sent, latency_sum, latency_max) VALUES (?, 1, ?, ?, ?)
       ON CONFLICT (type) DO UPDATE SET publishes = publishes + 1, sent = sent + excluded.sent,
         latency_sum = latency_sum + excluded.latency_sum, latency_max = max(latency_max, excluded.latency_max)`,
      type,
      sent,
      latencyMs,
      latencyMs,
    );
  }

  /**
   * Notes an event id as counted; false when it was already. Ids older than the
   * window are forgotten inline every COUNTED_PRUNE_EVERY calls (no alarm needed).
   */
  markCounted(id: string): boolean {
    const now = Date.now();
    if (++this.#countedSincePrune >= COUNTED_PRUNE_EVERY) this.prune(now);
    return this.sql.exec("INSERT OR IGNORE INTO counted (id, ts) VALUES (?, ?)", id, now).rowsWritten > 0;
  }

  /**
   * Forgets counted ids older than the window. Also run by the hub's alarm: the
   * inline count restarts at every wake-up, so a quiet org would never reach it.
   */
  prune(now = Date.now()): void {
    this.#countedSincePrune = 0;
    this.sql.exec("DELETE FROM counted WHERE ts < ?", now - this.retentionMs());
  }

  /** Every counter, by type, with averages; overall latency (null before the first publish). */
  summary(): CountersSummary {
    const counters = this.sql.exec<CounterRow>("SELECT * FROM counters").toArray();
    const publishes = counters.reduce((n, c) => n + c.publishes, 0);
    return {
      since: new Date(this.since()).toISOString(),
      messages: counters
        .map((c) => ({
          type: c.type,
          publishes: c.publishes,
          sent: c.sent,
          avgLatencyMs: c.publishes === 0 ? 0 : Math.round(c.latency_sum / c.publishes),
          maxLatencyMs: c.latency_max,
        }))
        .sort((a, b) => a.type.localeCompare(b.type)),
      latency: {
        avgMs: publishes === 0 ? null : Math.round(counters.reduce((n, c) => n + c.latency_sum, 0) / publishes),
        maxMs: publishes === 0 ? null : Math.max(...counters.map((c) => c.latency_max)),
      },
    };
  }
}
