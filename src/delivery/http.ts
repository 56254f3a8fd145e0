import { parseRetryAfter } from "./backoff";
import type { SendOutcome } from "./types";

/** Longest provider error text kept in `deliveries.last_error`. */
export const MAX_ERROR_CHARS = 500;

/** How much of an error body is read: a webhook receiver is untrusted and could answer with megabytes. */
const MAX_ERROR_BODY_BYTES = 8_192;

/** Thrown by a provider's success reader when a 2xx body is not what the provider documents. */
export class MalformedResponse extends Error {
  override name = "MalformedResponse";
}

/** One provider HTTP call: where, how, and how to read its success. */
export interface ProviderCall {
  /** Provider name, prefixed to every error ("sendgrid 400: …"). */
  provider: string;
  url: string;
  init: RequestInit;
  signal: AbortSignal;
  /** Turns a 2xx into an outcome; throw `MalformedResponse` for a body it cannot read. */
  onSuccess: (res: Response) => Promise<SendOutcome>;
  /** Overrides the status classification for a provider quirk; return undefined to keep it. */
  classify?: (status: number, body: string) => "retry" | "permanent" | undefined;
  /** DELIVERY_TIMEOUT_MS, named in a timeout's reason. */
  timeoutMs?: number;
}

/**
 * Calls a provider and classifies what happened, the same way for every
 * channel: 2xx → `onSuccess`; 408, 429 and 5xx → retry (Retry-After
 * honoured); any other status → permanent with the provider's own error text;
 * network failure or timeout → retry. A 2xx whose body cannot be read is a
 * retry too: the provider may not have accepted it, and the email provider
 * with an idempotency key (Resend) answers the retry without sending again.
 */
export async function callProvider(call: ProviderCall): Promise<SendOutcome> {
  let res: Response;
  try {
    res = await fetch(call.url, { ...call.init, signal: call.signal });
  } catch (err) {
    return fetchFailure(call.provider, err, { url: call.url, signal: call.signal, timeoutMs: call.timeoutMs });
  }
  if (res.ok) {
    try {
      return await call.onSuccess(res);
    } catch (err) {
      if (call.signal.aborted) return fetchFailure(call.provider, err, { url: call.url, signal: call.signal, timeoutMs: call.timeoutMs });
      return {
        kind: "retry",
        status: res.status,
        error: truncate(`${call.provider}: ${statusLine(res.status, res.statusText)}, but the response could not be read — ${errorText(err)}`),
      };
    }
  }
  return failureFromResponse(call.provider, res, call.classify, call.url);
}

/**
 * Classifies a non-2xx response: 408/429/5xx → retry with any Retry-After;
 * other statuses → permanent. The error carries the provider's message,
 * truncated to MAX_ERROR_CHARS.
 */
export async function failureFromResponse(
  provider: string,
  res: Response,
  classify?: ProviderCall["classify"],
  url = res.url,
): Promise<SendOutcome> {
  const body = await readCapped(res, MAX_ERROR_BODY_BYTES).catch(() => "");
  const described = describeFailure({ url, status: res.status, statusText: res.statusText, body, location: res.headers.get("Location") ?? undefined });
  const error = failureText(provider, described);
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  const kind = classify?.(res.status, body) ?? (retryable ? "retry" : "permanent");
  if (kind === "permanent") return { kind, status: res.status, error };
  const retryAfterSeconds = parseRetryAfter(res.headers.get("Retry-After"));
  return { kind, status: res.status, error, ...(retryAfterSeconds !== undefined && { retryAfterSeconds }) };
}

/** A fetch that threw: our timeout, or the network. Both are worth retrying. */
export function fetchFailure(provider: string, err: unknown, at: { url: string; signal?: AbortSignal; timeoutMs?: number }): SendOutcome {
  const timedOut = at.signal?.aborted ?? false;
  const described = describeFailure({ url: at.url, error: timedOut ? (at.signal!.reason ?? err) : err, timedOut, timeoutMs: at.timeoutMs });
  return { kind: "retry", error: failureText(provider, described) };
}

/** What went wrong with one outbound call, in an operator's words, plus the raw message. */
export interface FailureDescription {
  kind: "http" | "refused" | "dns" | "tls" | "dns_or_tls" | "timeout" | "network";
  /** What happened, e.g. "HTTP 500 Internal Server Error" or "DNS failure: crm.example.com did not resolve". */
  summary: string;
  /** The raw error message or the receiver's own error text. */
  detail?: string;
}

/** What `describeFailure` reads: a thrown error, or a response's status and body. */
export interface FailureInput {
  url: string;
  error?: unknown;
  /** The error is our own deadline (DELIVERY_TIMEOUT_MS). */
  timedOut?: boolean;
  timeoutMs?: number;
  status?: number;
  statusText?: string;
  body?: string;
  location?: string;
}

/** "provider: summary — detail", cut to MAX_ERROR_CHARS: the `lastError` of a delivery. */
export function failureText(provider: string, d: FailureDescription): string {
  return truncate(`${provider}: ${d.summary}${d.detail ? ` — ${d.detail}` : ""}`);
}

/** Reserved top-level names that never resolve (RFC 2606, RFC 6761). */
const NEVER_RESOLVES = /\.(invalid|test|example|localhost)$/;

/**
 * Classifies an outbound failure, the one place that knows what workerd and
 * Cloudflare's network report:
 *
 * - workerd's fetch rejects a closed port with "Network connection lost."
 *   (the OS's "connection refused" reaches only workerd's log; a connection
 *   reset before any response reads the same), and both a name that does not
 *   resolve and a failed TLS handshake with "internal error; reference = …".
 *   The URL tells those two apart where it can: an address literal needs no
 *   DNS, plain http has no TLS, and reserved names (.invalid, .test, …) never
 *   resolve; otherwise the reason says "DNS or TLS".
 * - On Cloudflare's network the same failures come back as responses: 530
 *   with error code 1016 (the name did not resolve), 521 (refused), 522
 *   (connect timeout), 523 (unreachable), 524 (no response in time), 525
 *   (TLS handshake failed), 526 (invalid certificate).
 * - Our own deadline (an aborted signal) is a timeout after `timeoutMs`.
 * - Any other status is "HTTP <status> <reason phrase>" with the receiver's
 *   own error text as the detail.
 */
export function describeFailure(input: FailureInput): FailureDescription {
  const { host, port, literal, https } = target(input.url);
  const where = `${host}:${port}`;
  if (input.status !== undefined) {
    const detail = input.body ? errorDetail(input.body) || undefined : undefined;
    const withDetail = (d: Omit<FailureDescription, "detail">): FailureDescription => (detail ? { ...d, detail } : d);
    switch (input.status) {
      case 530:
        if (/\b1016\b/.test(input.body ?? "")) return withDetail({ kind: "dns", summary: `DNS failure: ${host} did not resolve (Cloudflare 1016)` });
        break;
      case 521:
        return withDetail({ kind: "refused", summary: `connection refused by ${where} (HTTP 521)` });
      case 522:
        return withDetail({ kind: "timeout", summary: `connection to ${where} timed out (HTTP 522)` });
      case 523:
        return withDetail({ kind: "network", summary: `${where} is unreachable (HTTP 523)` });
      case 524:
        return withDetail({ kind: "timeout", summary: `${where} accepted the connection but sent no response in time (HTTP 524)` });
      case 525:
        return withDetail({ kind: "tls", summary: `TLS failure: the TLS handshake with ${where} failed (HTTP 525)` });
      case 526:
        return withDetail({ kind: "tls", summary: `TLS failure: invalid certificate at ${where} (HTTP 526)` });
    }
    let summary = statusLine(input.status, input.statusText);
    if (input.status >= 300 && input.status < 400) summary += ` (redirect${input.location ? ` to ${input.location}` : ""} not followed)`;
    return withDetail({ kind: "http", summary });
  }

  const raw = errorText(input.error);
  const detail = raw || undefined;
  const d = (kind: FailureDescription["kind"], summary: string): FailureDescription => (detail ? { kind, summary, detail } : { kind, summary });
  if (input.timedOut) return d("timeout", input.timeoutMs !== undefined ? `timed out after ${input.timeoutMs} ms` : "timed out");
  if (/refused/i.test(raw)) return d("refused", `connection refused by ${where} (is the receiver running and listening there?)`);
  if (/certificate|tls|ssl|handshake/i.test(raw)) return d("tls", `TLS failure: the TLS handshake with ${where} failed`);
  if (/lookup|resolve|dns|ENOTFOUND|name or service/i.test(raw)) return d("dns", `DNS failure: ${host} did not resolve`);
  if (/^Network connection lost\.?$/i.test(raw)) {
    return d("refused", `connection refused or closed before any response by ${where} (is the receiver running and listening there?)`);
  }
  if (/^internal error; reference = /i.test(raw)) {
    if (NEVER_RESOLVES.test(host) || (!literal && !https)) return d("dns", `DNS failure: ${host} did not resolve`);
    if (literal && https) return d("tls", `TLS failure: the TLS handshake with ${where} failed (or the connection broke)`);
    if (!literal) return d("dns_or_tls", `DNS or TLS failure connecting to ${where} (the name did not resolve, or the TLS handshake failed)`);
  }
  return d("network", `network error reaching ${where}`);
}

function target(raw: string): { host: string; port: string; literal: boolean; https: boolean } {
  try {
    const url = new URL(raw);
    const https = url.protocol === "https:";
    const host = url.hostname.replace(/\.+$/, "");
    const literal = host.startsWith("[") || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
    return { host, port: url.port || (https ? "443" : "80"), literal, https };
  } catch {
    return { host: raw, port: "?", literal: false, https: false };
  }
}

const REASON_PHRASES: Record<number, string> = {
  200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
  301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect", 308: "Permanent Redirect",
  400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
  405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
  411: "Length Required", 413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
  421: "Misdirected Request", 422: "Unprocessable Content", 425: "Too Early", 426: "Upgrade Required",
  428: "Precondition Required", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons", 500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
  503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported", 507: "Insufficient Storage",
  508: "Loop Detected", 511: "Network Authentication Required",
};

/** "HTTP 500 Internal Server Error": the standard reason phrase (HTTP/2 sends none), else the server's own. */
function statusLine(status: number, statusText?: string): string {
  const phrase = REASON_PHRASES[status] ?? statusText;
  return phrase ? `HTTP ${status} ${phrase}` : `HTTP ${status}`;
}

/**
 * The human part of a provider's error body: SendGrid `errors[].message`,
 * Resend `message`, Twilio `message` (+ `code`), else the raw text.
 */
export function errorDetail(body: string): string {
  const text = body.trim();
  if (!text) return "";
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    if (Array.isArray(json.errors)) {
      const messages = json.errors
        .map((e) => (e && typeof e === "object" && "message" in e ? String((e as { message: unknown }).message) : ""))
        .filter(Boolean);
      if (messages.length) return truncate(messages.join("; "));
    }
    if (typeof json.message === "string") {
      return truncate(json.code !== undefined ? `${json.message} (code ${String(json.code)})` : json.message);
    }
    if (typeof json.error === "string") return truncate(json.error);
  } catch {
    // not JSON: keep the raw text
  }
  return truncate(text.replace(/\s+/g, " "));
}

/** Reads at most `maxBytes` of a body as text and releases the rest. */
async function readCapped(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < maxBytes) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => {});
  const bytes = new Uint8Array(Math.min(size, maxBytes));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.length;
    if (offset >= bytes.length) break;
  }
  return new TextDecoder().decode(bytes);
}

/** Cuts a string to MAX_ERROR_CHARS, marking the cut. */
export function truncate(text: string, max = MAX_ERROR_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The message of anything thrown. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
