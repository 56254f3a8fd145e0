/** Frame rate limits (FRAME_RATE_PER_SECOND, FRAME_BURST, FRAME_ABUSE_LIMIT). */
export interface FrameLimits {
  ratePerSecond: number;
  burst: number;
  /** Refused frames within ABUSE_WINDOW_MS after which the socket is closed. */
  abuseLimit: number;
}

/**
 * What to do with a client frame: handle it; drop it silently; drop it and
 * warn the client (at most once a second); or close the socket for abuse.
 */
export type FrameVerdict = "allow" | "drop" | "warn" | "abuse";

interface Bucket {
  tokens: number;
  last: number;
  refusedSince: number;
  refused: number;
  warnedAt: number;
}

/** Refusals are counted per window of this length (ms). */
export const ABUSE_WINDOW_MS = 10_000;
/** A dropping client is warned at most this often (ms). */
const WARN_EVERY_MS = 1_000;

/**
 * A token bucket per connection. In memory on purpose: after a wake-up the
 * bucket is full, as it would be after a couple of seconds of silence.
 */
export class FrameLimiter {
  #buckets = new Map<string, Bucket>();

  /** @param limits read at each frame (the config is parsed lazily) */
  constructor(private readonly limits: () => FrameLimits) {}

  /** Takes one frame of a connection. */
  take(cid: string, now = Date.now()): FrameVerdict {
    const { ratePerSecond, burst, abuseLimit } = this.limits();
    let b = this.#buckets.get(cid);
    if (!b) {
      b = { tokens: burst, last: now, refusedSince: now, refused: 0, warnedAt: 0 };
      this.#buckets.set(cid, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.last) / 1000) * ratePerSecond);
    b.last = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return "allow";
    }
    if (now - b.refusedSince > ABUSE_WINDOW_MS) {
      b.refusedSince = now;
      b.refused = 0;
    }
    b.refused++;
    if (b.refused > abuseLimit) return "abuse";
    if (now - b.warnedAt >= WARN_EVERY_MS) {
      b.warnedAt = now;
      return "warn";
    }
    return "drop";
  }

  /** Forgets a connection that went away. */
  forget(cid: string): void {
    this.#buckets.delete(cid);
  }
}
