import { waitUntil as platformWaitUntil } from "cloudflare:workers";

/** Most event ids one mark statement carries (one bound JSON parameter: see idList). */
export const MARK_IDS_PER_STATEMENT = 500;

/** How long one background drain keeps marking before it hands over to the next request's. */
export const MARK_DRAIN_MAX_MS = 5_000;

/** An event to mark, with its org (a fenced org's mark fails alone: see PublishedMarks). */
export interface PublishedEvent {
  id: string;
  orgId: string;
}

export interface PublishedMarksOptions {
  /** Writes `published_at` for these ids (one statement); throws if D1 refused it. */
  write: (ids: string[]) => Promise<void>;
  /** Keeps the invocation alive for background work (default: `waitUntil` from cloudflare:workers). */
  waitUntil?: (work: Promise<unknown>) => void;
  idsPerStatement?: number;
  drainMaxMs?: number;
  now?: () => number;
}

/**
 * Marks delivered events published in the background, many per statement.
 *
 * Marking is bookkeeping for the sweep, not for the caller: an event the
 * hubs confirmed is already on every stream, and one left unmarked is
 * re-delivered by the sweep after 10 s, which every hub ignores by id
 * (exactly once per stream). So a request does not wait for its mark.
 * `add` queues the ids and, unless a drain is running in this isolate,
 * starts one with `waitUntil`. The drain writes everything queued in one
 * statement, then again for what was queued meanwhile, so concurrent
 * requests share statements: one per D1 round trip, not one per request.
 *
 * A drain stops after MARK_DRAIN_MAX_MS (a request's background time is
 * bounded); what is queued then waits for the next `add`, or the sweep. A
 * statement D1 refuses (e.g. an org fenced for a shard move) is retried
 * per org, so one org's refusal leaves only its own events to the sweep.
 */
export class PublishedMarks {
  readonly #write: (ids: string[]) => Promise<void>;
  readonly #waitUntil: (work: Promise<unknown>) => void;
  readonly #idsPerStatement: number;
  readonly #drainMaxMs: number;
  readonly #now: () => number;
  #queued = new Map<string, string>();
  #draining = false;

  constructor(options: PublishedMarksOptions) {
    this.#write = options.write;
    this.#waitUntil = options.waitUntil ?? platformWaitUntil;
    this.#idsPerStatement = options.idsPerStatement ?? MARK_IDS_PER_STATEMENT;
    this.#drainMaxMs = options.drainMaxMs ?? MARK_DRAIN_MAX_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Ids queued and not yet written (for tests and diagnostics). */
  get queued(): number {
    return this.#queued.size;
  }

  /** Queues events to be marked published; returns at once. */
  add(events: readonly PublishedEvent[]): void {
    if (events.length === 0) return;
    for (const ev of events) this.#queued.set(ev.id, ev.orgId);
    if (this.#draining) return;
    this.#draining = true;
    this.#waitUntil(this.#drain());
  }

  async #drain(): Promise<void> {
    const started = this.#now();
    try {
      while (this.#queued.size > 0 && this.#now() - started < this.#drainMaxMs) {
        const batch = [...this.#queued].slice(0, this.#idsPerStatement);
        for (const [id] of batch) this.#queued.delete(id);
        await this.#writeBatch(batch);
      }
    } finally {
      // Set in the same turn as the last check: an add after it starts a new drain.
      this.#draining = false;
    }
  }

  async #writeBatch(batch: [string, string][]): Promise<void> {
    try {
      await this.#write(batch.map(([id]) => id));
    } catch (err) {
      const byOrg = Map.groupBy(batch, ([, org]) => org);
      if (byOrg.size === 1) return logFailed(batch.length, batch[0]![1], err);
      for (const [org, part] of byOrg) await this.#write(part.map(([id]) => id)).catch((e: unknown) => logFailed(part.length, org, e));
    }
  }
}

function logFailed(count: number, orgId: string, err: unknown): void {
  console.error(`herald: marking ${count} events of org ${orgId} published failed; the sweep re-delivers them (hubs ignore ids they have)`, err);
}
