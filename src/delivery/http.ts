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
    return fetchFailure(call.provider, err, call.signal);
  }
  if (res.ok) {
    try {
      return await call.onSuccess(res);
    } catch (err) {
      if (call.signal.aborted) return fetchFailure(call.provider, err, call.signal);
      return { kind: "retry", status: res.status, error: `${call.provider} ${res.status}: unreadable response (${errorText(err)})` };
    }
  }
  return failureFromResponse(call.provider, res, call.classify);
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
): Promise<SendOutcome> {
  const body = await readCapped(res, MAX_ERROR_BODY_BYTES).catch(() => "");
  const detail = errorDetail(body);
  const error = truncate(`${provider} ${res.status}${detail ? `: ${detail}` : ""}`);
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  const kind = classify?.(res.status, body) ?? (retryable ? "retry" : "permanent");
  if (kind === "permanent") return { kind, status: res.status, error };
  const retryAfterSeconds = parseRetryAfter(res.headers.get("Retry-After"));
  return { kind, status: res.status, error, ...(retryAfterSeconds !== undefined && { retryAfterSeconds }) };
}

/** A fetch that threw: our timeout, or the network. Both are worth retrying. */
export function fetchFailure(provider: string, err: unknown, signal?: AbortSignal): SendOutcome {
  if (signal?.aborted) return { kind: "retry", error: `${provider}: timed out (${errorText(signal.reason ?? err)})` };
  return { kind: "retry", error: truncate(`${provider}: network error (${errorText(err)})`) };
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
