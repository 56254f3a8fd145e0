import type { EventFrame, ResyncRequiredFrame, Stream } from "../protocol";
import type { HubEvent } from "./hub-api";
import type { MetaTable } from "./meta";

/** A logged event as replay reads it. */
export interface LogRow extends Record<string, SqlStorageValue> {
  seq: number;
  frame: string;
  channel: string | null;
  dept: string | null;
  queue: string | null;
}

/** How much of the log stays replayable (REPLAY_RETENTION_SECONDS, REPLAY_MAX_EVENTS). */
export interface ReplayWindow {
  retentionSeconds: number;
  maxEvents: number;
}

/** What a replay did: `resumed` false when a `resync-required` was sent instead. */
export interface ReplayResult {
  resumed: boolean;
  replayed: number;
}

/** Every this many appends, events beyond REPLAY_MAX_EVENTS are deleted. */
const PRUNE_EVERY = 100;

/**
 * A stream's ordered, durable, resumable event log (table `log`, head in
 * `meta`): append with seq = head + 1 and dedupe by event id, replay after a
 * seq (or `resync-required` when part of the range is gone), and retention by
 * time and count. All synchronous: a hub appends, sends and replays in one
 * turn.
 */
export class EventLog {
  #head: number | undefined;

  /**
   * @param window read at each use (the config is parsed lazily)
   * @param options.indexChannels the org stream replays by channel: an index on (channel, seq)
   */
  constructor(
    private readonly sql: SqlStorage,
    private readonly meta: MetaTable,
    private readonly stream: Stream,
    private readonly window: () => ReplayWindow,
    options: { indexChannels?: boolean } = {},
  ) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS log (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        ts INTEGER NOT NULL,
        channel TEXT,
        dept TEXT,
        queue TEXT,
        frame TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS log_ts ON log (ts);
    `);
    if (options.indexChannels) sql.exec("CREATE INDEX IF NOT EXISTS log_channel ON log (channel, seq)");
  }

  /** The seq of the latest event ever appended (0 when none). Survives pruning. */
  head(): number {
    this.#head ??= Number(this.meta.get("head") ?? 0);
    return this.#head;
  }

  /**
   * Appends an event (durable before anyone sees it) and returns its frame,
   * serialized once. An id already in the log is not appended again.
   */
  append(event: HubEvent): { seq: number; frame: string; duplicate: boolean } {
    const existing = this.sql.exec<{ seq: number; frame: string }>("SELECT seq, frame FROM log WHERE id = ?", event.id).toArray()[0];
    if (existing) return { seq: existing.seq, frame: existing.frame, duplicate: true };
    const seq = this.head() + 1;
    const frame: EventFrame = {
      type: event.type,
      id: event.id,
      stream: this.stream,
      seq,
      ts: new Date(event.ts).toISOString(),
      ...(event.channel !== undefined && { channel: event.channel, scope: event.scope ?? {} }),
      data: event.data,
    };
    const text = JSON.stringify(frame);
    this.sql.exec(
      "INSERT INTO log (seq, id, type, ts, channel, dept, queue, frame) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      seq,
      event.id,
      event.type,
      Date.now(),
      event.channel ?? null,
      event.scope?.dept ?? null,
      event.scope?.queue ?? null,
      text,
    );
    this.#head = seq;
    this.meta.set("head", String(seq));
    // Count-based pruning inline, cheaply (seq is the primary key); time-based by alarm.
    if (seq % PRUNE_EVERY === 0) this.sql.exec("DELETE FROM log WHERE seq <= ?", seq - this.window().maxEvents);
    return { seq, frame: text, duplicate: false };
  }

  /** The oldest seq that may still be replayed: within both the time and the count window. */
  oldestReplayable(now = Date.now()): number {
    const head = this.head();
    const { retentionSeconds, maxEvents } = this.window();
    const row = this.sql.exec<{ seq: number | null }>("SELECT min(seq) AS seq FROM log WHERE ts >= ?", now - retentionSeconds * 1000).toArray()[0];
    const oldestKept = row?.seq ?? head + 1;
    return Math.max(oldestKept, head - maxEvents + 1, 1);
  }

  /**
   * Sends every logged event after `since` that `matches`, in order. If part of
   * that range is no longer kept, nothing is replayed and a `resync-required`
   * frame is sent instead: never a silent gap.
   */
  replay(
    send: (frame: string) => unknown,
    since: number,
    matches: (row: LogRow) => boolean,
    /** When given, only rows of these channels are read (the org stream: a socket's subscriptions). */
    channels?: string[],
  ): ReplayResult {
    const head = this.head();
    const oldest = this.oldestReplayable();
    if (since > head || since + 1 < oldest) {
      const frame: ResyncRequiredFrame = { type: "resync-required", reason: since > head ? "ahead" : "expired", seq: head, oldestSeq: oldest };
      send(JSON.stringify(frame));
      return { resumed: false, replayed: 0 };
    }
    if (channels !== undefined && channels.length === 0) return { resumed: true, replayed: 0 };
    let replayed = 0;
    const rows =
      channels === undefined
        ? this.sql.exec<LogRow>("SELECT seq, frame, channel, dept, queue FROM log WHERE seq > ? ORDER BY seq", since)
        : // The channels as one JSON parameter: SQLite in a Durable Object binds at most 100 per statement.
          this.sql.exec<LogRow>(
            "SELECT seq, frame, channel, dept, queue FROM log WHERE seq > ? AND channel IN (SELECT value FROM json_each(?)) ORDER BY seq",
            since,
            JSON.stringify(channels),
          );
    for (const row of rows) {
      if (!matches(row)) continue;
      send(row.frame);
      replayed++;
    }
    return { resumed: true, replayed };
  }

  /** Drops events outside the replay window (time and count). */
  prune(now = Date.now()): void {
    const { retentionSeconds, maxEvents } = this.window();
    this.sql.exec("DELETE FROM log WHERE ts < ? OR seq <= ?", now - retentionSeconds * 1000, this.head() - maxEvents);
  }

  /** When the log next needs pruning (ms), or undefined while it is empty. */
  nextPruneAt(now = Date.now()): number | undefined {
    const oldest = this.sql.exec<{ ts: number | null; n: number }>("SELECT min(ts) AS ts, count(*) AS n FROM log").toArray()[0];
    if (!oldest || oldest.n === 0 || oldest.ts === null) return undefined;
    const { retentionSeconds, maxEvents } = this.window();
    return oldest.n > maxEvents ? now + 1_000 : oldest.ts + retentionSeconds * 1000;
  }

  /** When an event appended now leaves the time window (ms): the alarm must fire by then. */
  expiryOfNew(now = Date.now()): number {
    return now + this.window().retentionSeconds * 1000;
  }
}
