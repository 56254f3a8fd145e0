/**
 * WebSocket close codes Herald uses (docs/PROTOCOL.md, "Close codes"). A
 * refused upgrade is completed and closed at once with 4000 + the HTTP status
 * the API would have answered (`refusalCloseCode`), so a browser, which never
 * sees the status of a failed upgrade, can still tell why.
 */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  /** An open socket reached its token's expiry. */
  TOKEN_EXPIRED: 4001,
  /** Refused: the request is invalid (`VALIDATION_FAILED`). Fix it; do not retry it unchanged. */
  REFUSED_BAD_REQUEST: 4400,
  /** Refused: no, bad or expired credentials (`AUTH_*`, `TOKEN_EXPIRED`, `TICKET_INVALID`). Get a new ticket or token, then retry. */
  REFUSED_UNAUTHORIZED: 4401,
  /** Refused: not allowed (`ORIGIN_NOT_ALLOWED`, `FORBIDDEN`). Do not retry. */
  REFUSED_FORBIDDEN: 4403,
  /** Refused: too many connections or requests (`CONNECTION_LIMIT`, `RATE_LIMITED`). Retry after `retryAfter` seconds. */
  REFUSED_TOO_MANY: 4429,
} as const;

/** The close code of an upgrade refused with HTTP `status`: 4000 + status (4400–4599). */
export function refusalCloseCode(status: number): number {
  return 4000 + status;
}

/** The reason (JSON text) of a refusal close: the API's error code and message, and `retryAfter` seconds for 4429. */
export interface RefusalReason {
  code: string;
  message: string;
  retryAfter?: number;
}

/** A close reason may hold at most 123 bytes of UTF-8 (RFC 6455 §5.5). */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * The JSON close reason of a refusal, within MAX_CLOSE_REASON_BYTES: `code`
 * and `retryAfter` are always kept whole; `message` is shortened (ending in
 * "…") until the text fits.
 */
export function refusalReason(reason: RefusalReason): string {
  const encoder = new TextEncoder();
  const text = (message: string) => JSON.stringify({ code: reason.code, message, ...(reason.retryAfter !== undefined && { retryAfter: reason.retryAfter }) });
  const full = text(reason.message);
  if (encoder.encode(full).byteLength <= MAX_CLOSE_REASON_BYTES) return full;
  const chars = Array.from(reason.message);
  let lo = 0;
  let hi = chars.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (encoder.encode(text(`${chars.slice(0, mid).join("")}…`)).byteLength <= MAX_CLOSE_REASON_BYTES) lo = mid;
    else hi = mid - 1;
  }
  return text(lo === 0 ? "" : `${chars.slice(0, lo).join("")}…`);
}
