// SDK clients in Node as an app runs them: Node's `ws` as the WebSocket, a
// fetch that records every ticket handed out, and a log of every event the
// app saw (through `onAny`, so duplicates would show).
import WebSocket from "ws";
import { createHerald, type EventMeta, type Herald, type HeraldOptions } from "../../../packages/sdk/src/index";

export interface SeenEvent {
  name: string;
  data: any;
  meta: EventMeta;
}

export interface TestClient {
  herald: Herald;
  /** Tickets the server issued to this client, in order. */
  tickets: string[];
  /** Every event delivered to the app, in order. */
  events: SeenEvent[];
  /** Status changes, in order. */
  statuses: string[];
  /** Errors the SDK reported. */
  errors: { code: string; status?: number; retryAfter?: number; message: string }[];
}

/** Reconnect delays short enough for tests (still full-jittered by the SDK). */
export const FAST_BACKOFF = { minDelayMs: 300, maxDelayMs: 2000 };

/** A `ws` WebSocket class that sends an `Origin` header, as a browser page on `origin` would. */
export function wsWithOrigin(origin: string): typeof WebSocket {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { origin });
    }
  } as typeof WebSocket;
}

/** Creates an SDK client against `url` (the proxy's or the server's). */
export function connectClient(url: string, token: HeraldOptions["token"], options: Partial<HeraldOptions> = {}): TestClient {
  const tickets: string[] = [];
  const countingFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const target = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (res.ok && new URL(target).pathname === "/api/v1/realtime/ticket") {
      const body = (await res.clone().json()) as { ticket: string };
      tickets.push(body.ticket);
    }
    return res;
  };
  const herald = createHerald({ url, token, WebSocket, fetch: countingFetch, backoff: FAST_BACKOFF, ...options });
  const client: TestClient = { herald, tickets, events: [], statuses: [], errors: [] };
  herald.onAny((name, data, meta) => client.events.push({ name, data, meta }));
  herald.on("status", (s) => client.statuses.push(s));
  herald.on("error", (e) => client.errors.push({ code: e.code, status: e.status, retryAfter: e.retryAfter, message: e.message }));
  return client;
}

/** The tickets presented on upgrade requests, from a proxy log's request targets. */
export function ticketsPresented(targets: string[]): string[] {
  return targets.map((t) => new URL(t, "http://x").searchParams.get("ticket")).filter((t): t is string => t !== null);
}
