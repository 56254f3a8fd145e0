/**
 * Closing sockets without noise, after partyserver's handling: errors from a
 * socket that is already going away are part of an ordinary close, not
 * something to warn about.
 */

/** Reserved close codes the runtime reports when no Close frame arrived; they must not be echoed back (RFC 6455 §7.4.1). */
const RESERVED_CLOSE_CODES: ReadonlySet<number> = new Set([1005, 1006, 1015]);

/** `WebSocket.readyState` values of a socket going away. */
const CLOSING = 2;
const CLOSED = 3;

/**
 * Closes a socket, ignoring the errors of one that is already closing or
 * closed (the client closed first, or the runtime answered its Close frame).
 */
export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closing: the handshake is done or out of our hands.
  }
}

/**
 * Answers the client's Close frame, or it waits in CLOSING until it times
 * out. Not for the reserved codes: no Close frame arrived, the transport is
 * gone, and a write to it would fail later, out of reach of any catch.
 */
export function reciprocateClose(ws: WebSocket, code: number, reason: string): void {
  if (RESERVED_CLOSE_CODES.has(code)) return;
  closeQuietly(ws, code, reason);
}

/** Sends a frame; false (and no error) when the socket is closing under us. */
export function sendQuietly(ws: WebSocket, text: string): boolean {
  try {
    ws.send(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a `webSocketError` is the transport going away during or after the
 * close handshake ("Network connection lost", "WebSocket peer disconnected")
 * on a socket already CLOSING or CLOSED: every abrupt disconnect raises one,
 * so warning about it would log each close. Errors on an OPEN socket are
 * never harmless. The runtime marks these errors `retryable`; the message is
 * checked too for error shapes without that flag.
 */
export function isHarmlessTeardownError(ws: { readonly readyState: number }, error: unknown): boolean {
  if (ws.readyState !== CLOSING && ws.readyState !== CLOSED) return false;
  if (typeof error !== "object" || error === null) return false;
  const e = error as { retryable?: unknown; message?: unknown };
  if (e.retryable === true) return true;
  return typeof e.message === "string" && /network connection lost|websocket peer disconnected/i.test(e.message);
}
