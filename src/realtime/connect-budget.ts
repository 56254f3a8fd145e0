/** Most users whose budget one hub keeps; past it, the full buckets (users who did not connect lately) are dropped. */
const MAX_USERS = 50_000;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Socket connects per user, per hub (MAX_CONNECTS_PER_MINUTE): a token bucket
 * of that size, refilled evenly over a minute, kept in the memory of the hub
 * that admits the socket. It guards against reconnect loops (a client that
 * opens and closes sockets without pause costs a hub wake-up and two presence
 * events each time) without a round trip to a limiter on the upgrade path;
 * REST requests, tickets included, keep the per-caller API budget. After an
 * eviction a hub starts with full buckets: the bound is per hub lifetime, as
 * the connection limits that sit next to it.
 */
export class ConnectBudget {
  #buckets = new Map<string, Bucket>();

  /** @param perMinute read at each use (the config is parsed lazily) */
  constructor(private readonly perMinute: () => number) {}

  /** Spends one connect of `userId`: undefined when allowed, else the whole seconds until one is. */
  take(userId: string, now = Date.now()): number | undefined {
    const size = this.perMinute();
    const perMs = size / 60_000;
    const bucket = this.#buckets.get(userId);
    const tokens = bucket ? Math.min(size, bucket.tokens + (now - bucket.at) * perMs) : size;
    if (tokens < 1) return Math.max(1, Math.ceil((1 - tokens) / perMs / 1000));
    if (!bucket && this.#buckets.size >= MAX_USERS) this.#prune(now, size, perMs);
    this.#buckets.set(userId, { tokens: tokens - 1, at: now });
    return undefined;
  }

  /** Drops the buckets that refilled (their users may connect as if never seen); all of them if none did. */
  #prune(now: number, size: number, perMs: number): void {
    for (const [userId, b] of this.#buckets) if (b.tokens + (now - b.at) * perMs >= size) this.#buckets.delete(userId);
    if (this.#buckets.size >= MAX_USERS) this.#buckets.clear();
  }
}
