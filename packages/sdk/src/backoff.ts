import { CloseCode } from "../../../src/protocol/close-codes";

/** Reconnect delay settings (milliseconds). */
export interface BackoffOptions {
  /** The cap of the first retry's delay. Default 2000. */
  minDelayMs?: number;
  /** The largest cap. Default 30000. */
  maxDelayMs?: number;
  /** How much the cap grows per failed attempt. Default 1.6. */
  growFactor?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { minDelayMs: 2000, maxDelayMs: 30000, growFactor: 1.6 };

/**
 * "Full jitter": a uniformly random delay in [0, cap], cap = min × grow^(attempt − 1)
 * bounded by max. `attempt` counts from 1 (0 means the first dial: no wait).
 * Clients dropped together (a deploy) spread their reconnects over the window
 * instead of arriving in lockstep.
 */
export function jitteredDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  if (attempt <= 0) return 0;
  const { minDelayMs, maxDelayMs, growFactor } = { ...DEFAULT_BACKOFF, ...options };
  const cap = Math.min(maxDelayMs, minDelayMs * growFactor ** (attempt - 1));
  return Math.floor(random() * cap);
}

/** What the SDK does after a socket closed. */
export type CloseAction =
  /** Reconnect after the jittered backoff (with `since`). */
  | { action: "retry" }
  /** Get a new token (call the token function), then reconnect. */
  | { action: "refresh" }
  /** Wait `delayMs`, then reconnect. */
  | { action: "wait"; delayMs: number }
  /** Do not reconnect: report `reason`. */
  | { action: "stop" };

/** The parsed JSON reason of a refusal close (4400–4599), when it is one. */
export interface CloseReason {
  code?: string;
  message?: string;
  retryAfter?: number;
}

/** Parses a close reason: refusals carry the API's error as JSON; anything else gives {}. */
export function parseCloseReason(reason: string | undefined): CloseReason {
  if (!reason) return {};
  try {
    const value: unknown = JSON.parse(reason);
    return value !== null && typeof value === "object" ? (value as CloseReason) : {};
  } catch {
    return {};
  }
}

/**
 * The decision for a close code (docs/PROTOCOL.md, "Close codes"): 4400 and
 * 4403 stop (retrying unchanged cannot succeed), 4401 and 4001 get new
 * credentials first, 4429 waits the `retryAfter` it names, 1009 stops (the
 * client sent a frame too large), everything else backs off and retries.
 */
export function closeAction(code: number, reason?: string): CloseAction {
  switch (code) {
    case CloseCode.REFUSED_BAD_REQUEST:
    case CloseCode.REFUSED_FORBIDDEN:
    case CloseCode.MESSAGE_TOO_BIG:
      return { action: "stop" };
    case CloseCode.REFUSED_UNAUTHORIZED:
    case CloseCode.TOKEN_EXPIRED:
      return { action: "refresh" };
    case CloseCode.REFUSED_TOO_MANY: {
      const retryAfter = parseCloseReason(reason).retryAfter;
      return { action: "wait", delayMs: (typeof retryAfter === "number" && retryAfter > 0 ? retryAfter : 10) * 1000 };
    }
    default:
      return { action: "retry" };
  }
}
