/** Cloudflare Queues refuses a `delaySeconds` above 12 hours. */
export const MAX_QUEUE_DELAY_SECONDS = 43_200;

/** Bounds of the retry schedule (RETRY_BASE_SECONDS, RETRY_MAX_SECONDS). */
export interface BackoffOptions {
  baseSeconds: number;
  maxSeconds: number;
}

/**
 * Seconds to wait before attempt `attempt + 1`: exponential backoff with full
 * jitter, a uniformly random delay in [1, min(max, base × 2^(attempt − 1))].
 * Full jitter spreads a provider outage's retries instead of bringing them
 * back in synchronized waves; the floor of 1 s keeps a retry from being
 * immediate. `random` is injectable for tests.
 */
export function backoffSeconds(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  // 2^exponent overflows to Infinity for absurd attempt counts, which min() then caps.
  const ceiling = Math.min(options.maxSeconds, options.baseSeconds * 2 ** exponent, MAX_QUEUE_DELAY_SECONDS);
  return Math.max(1, Math.ceil(random() * ceiling));
}

/**
 * Reads a `Retry-After` header: delta-seconds or an HTTP date. Returns whole
 * seconds from `now` (0 for a date in the past), capped at the Queues limit;
 * undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  let seconds: number;
  if (/^\d+$/.test(trimmed)) {
    seconds = Number(trimmed);
  } else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    seconds = Math.max(0, Math.ceil((at - now) / 1000));
  }
  return Math.min(seconds, MAX_QUEUE_DELAY_SECONDS);
}

/**
 * The delay of a retry: the provider's Retry-After when it sent one, else the
 * backoff schedule for this attempt.
 */
export function retryDelaySeconds(attempt: number, options: BackoffOptions, retryAfterSeconds?: number): number {
  if (retryAfterSeconds !== undefined) return Math.min(Math.max(0, Math.ceil(retryAfterSeconds)), MAX_QUEUE_DELAY_SECONDS);
  return backoffSeconds(attempt, options);
}
