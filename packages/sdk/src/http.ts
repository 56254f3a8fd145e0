/** A bearer token, or a function that returns a fresh one (called again whenever a new one is needed). */
export type TokenProvider = string | (() => string | Promise<string>);

/** An error from Herald's REST API (its JSON error body) or from the SDK itself. */
export class HeraldError extends Error {
  override name = "HeraldError";
  constructor(
    /** The API's error code (`AUTH_FAILED`, `TICKET_INVALID`, …) or the SDK's (`NETWORK`, `CLOSED`). */
    readonly code: string,
    message: string,
    /** The HTTP status, or the close code of a refused socket. */
    readonly status?: number,
    /** Seconds to wait before retrying, when the server said. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** Holds the current token; `refresh()` asks the token function for a new one. */
export class TokenSource {
  private current: Promise<string> | undefined;

  constructor(private readonly provider: TokenProvider) {}

  /** Whether a new token can be had (a function, not a fixed string). */
  get refreshable(): boolean {
    return typeof this.provider === "function";
  }

  get(): Promise<string> {
    if (!this.current) {
      const provider = this.provider;
      const p = typeof provider === "string" ? Promise.resolve(provider) : Promise.resolve().then(provider);
      this.current = p;
      // A failed token function is asked again next time.
      p.catch(() => {
        if (this.current === p) this.current = undefined;
      });
    }
    return this.current;
  }

  /** Forgets the current token so the next `get()` calls the token function. */
  refresh(): void {
    if (this.refreshable) this.current = undefined;
  }
}

/** Sends authenticated JSON requests to the API. */
export class Http {
  /** The server's clock (ms) at the first answer that carried a Date header. */
  firstServerDate: number | undefined;

  constructor(
    readonly baseUrl: string,
    readonly token: TokenSource,
    private readonly fetchImpl: typeof fetch,
    /** A request unanswered this long is aborted (a hung ticket request must not stall reconnecting). */
    private readonly timeoutMs = 15000,
  ) {}

  /**
   * One request with the bearer token; a 401 asks the token function for a
   * new token and tries once more. Non-2xx answers throw a HeraldError with
   * the API's code.
   */
  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    let res = await this.send(method, path, body, signal);
    if (res.status === 401 && this.token.refreshable) {
      this.token.refresh();
      res = await this.send(method, path, body, signal);
    }
    const text = await res.text();
    const json: any = text ? safeJson(text) : undefined;
    if (!res.ok) {
      const err = json?.error ?? json ?? {};
      const retryAfter = Number(res.headers.get("retry-after") ?? err.retryAfter ?? NaN);
      throw new HeraldError(
        typeof err.code === "string" ? err.code : `HTTP_${res.status}`,
        typeof err.message === "string" ? err.message : `${method} ${path} answered ${res.status}`,
        res.status,
        Number.isFinite(retryAfter) ? retryAfter : undefined,
      );
    }
    return json as T;
  }

  private async send(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    const token = await this.token.get();
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    if (signal?.aborted) abort.abort();
    signal?.addEventListener("abort", onAbort);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.timeoutMs);
    try {
      const res = await this.fetchImpl(this.baseUrl + path, {
        method,
        headers,
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: abort.signal,
      });
      if (this.firstServerDate === undefined) {
        const date = Date.parse(res.headers.get("date") ?? "");
        if (Number.isFinite(date)) this.firstServerDate = date;
      }
      return res;
    } catch (err) {
      if (timedOut) throw new HeraldError("NETWORK", `${method} ${path}: no answer within ${this.timeoutMs} ms`);
      if ((err as Error)?.name === "AbortError") throw err;
      throw new HeraldError("NETWORK", `${method} ${path} failed: ${(err as Error)?.message ?? String(err)}`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A query string from defined values ("" when none). */
export function queryString(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
