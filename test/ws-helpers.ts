import { exports } from "cloudflare:workers";
import type { RefusalReason, ServerFrame } from "../src/protocol";
import { expect } from "vitest";
import { BASE, call } from "./helpers";

/** A client socket opened through the Worker, collecting every frame it receives. */
export interface TestSocket {
  ws: WebSocket;
  frames: ServerFrame[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first frame (from the start) matching `pred`, waiting up to `timeoutMs`. */
  waitFor<T extends ServerFrame = ServerFrame>(pred: (f: ServerFrame) => boolean, timeoutMs?: number): Promise<T>;
  /** Resolves once `n` frames matching `pred` have arrived. */
  waitForCount(pred: (f: ServerFrame) => boolean, n: number, timeoutMs?: number): Promise<ServerFrame[]>;
  /** Frames of event type `type` received so far. */
  events(type?: string): ServerFrame[];
  send(frame: unknown): void;
  close(): void;
}

export interface ConnectOptions {
  token?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

/** Opens a socket, or returns the refusal response when the upgrade is refused. */
export async function tryConnect(path: string, o: ConnectOptions = {}): Promise<{ socket?: TestSocket; res: Response }> {
  const url = new URL(`${BASE}${path}`);
  for (const [k, v] of Object.entries(o.query ?? {})) url.searchParams.set(k, v);
  const headers = new Headers({ Upgrade: "websocket", ...o.headers });
  if (o.token) headers.set("Authorization", `Bearer ${o.token}`);
  const res = await exports.default.fetch(new Request(url, { headers }));
  if (res.status !== 101 || !res.webSocket) return { res };
  const ws = res.webSocket;
  const frames: ServerFrame[] = [];
  const waiters: (() => void)[] = [];
  let resolveClosed!: (v: { code: number; reason: string }) => void;
  let closedWith: { code: number; reason: string } | undefined;
  const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = (v) => r((closedWith = v))));
  ws.addEventListener("message", (ev) => {
    frames.push(JSON.parse(ev.data as string) as ServerFrame);
    for (const w of [...waiters]) w();
  });
  ws.addEventListener("close", (ev) => {
    resolveClosed({ code: ev.code, reason: ev.reason });
    for (const w of [...waiters]) w();
  });
  ws.accept();
  const waitForCount = (pred: (f: ServerFrame) => boolean, n: number, timeoutMs = 3000) =>
    new Promise<ServerFrame[]>((resolve, reject) => {
      const check = () => {
        const hits = frames.filter(pred);
        if (hits.length >= n) {
          waiters.splice(waiters.indexOf(check), 1);
          clearTimeout(timer);
          resolve(hits);
        } else if (closedWith) {
          // Every frame arrives before the close: no more can come.
          waiters.splice(waiters.indexOf(check), 1);
          clearTimeout(timer);
          reject(new Error(`closed (${closedWith.code} ${closedWith.reason}) before ${n} frame(s); got ${JSON.stringify(frames).slice(0, 2000)}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(check), 1);
        reject(new Error(`timed out waiting for ${n} frame(s); got ${JSON.stringify(frames).slice(0, 2000)}`));
      }, timeoutMs);
      waiters.push(check);
      check();
    });
  const socket: TestSocket = {
    ws,
    frames,
    closed,
    waitFor: async <T extends ServerFrame>(pred: (f: ServerFrame) => boolean, timeoutMs?: number) =>
      (await waitForCount(pred, 1, timeoutMs))[0] as T,
    waitForCount,
    events: (type) => frames.filter((f) => "id" in f && "seq" in f && (type === undefined || f.type === type)),
    send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    close: () => {
      try {
        ws.close(1000, "done");
      } catch {
        // already closed
      }
    },
  };
  return { socket, res };
}

/** Opens a socket and waits for its `connected` frame; fails the test if refused (a refusal closes before `connected`). */
export async function connect(path: string, o: ConnectOptions = {}): Promise<TestSocket> {
  const { socket, res } = await tryConnect(path, o);
  if (!socket) throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
  await socket.waitFor((f) => f.type === "connected");
  return socket;
}

/** An upgrade refused as a browser sees it (docs/PROTOCOL.md, "Close codes"). */
export interface Refusal {
  /** The close code: 4000 + the HTTP status. */
  code: number;
  /** The close reason, parsed: the API's error code and message, retryAfter for 4429. */
  reason: RefusalReason;
  /** The raw close reason. */
  text: string;
  /** Frames received before the close (a refusal sends none). */
  frames: ServerFrame[];
  res: Response;
}

/**
 * Attempts an upgrade that must be refused: the Worker answers 101 and the
 * socket's first and only event is the refusal close. Fails the test otherwise.
 */
export async function refusedUpgrade(path: string, o: ConnectOptions = {}): Promise<Refusal> {
  const { socket, res } = await tryConnect(path, o);
  if (!socket) throw new Error(`expected a 101 closed with a refusal, got ${res.status} ${await res.text()}`);
  const { code, reason } = await closedWithin(socket);
  let parsed: RefusalReason;
  try {
    parsed = JSON.parse(reason) as RefusalReason;
  } catch {
    throw new Error(`close ${code} with a reason that is not JSON: ${reason} (frames: ${JSON.stringify(socket.frames).slice(0, 500)})`);
  }
  return { code, reason: parsed, text: reason, frames: socket.frames, res };
}

export const isType = (type: string) => (f: ServerFrame) => f.type === type;

/** POST /api/v1/realtime/broadcast; fails the test unless it answers 201. */
export async function broadcast(token: string, body: { event: string; data?: unknown; target: Record<string, unknown> }) {
  const res = await call("POST", "/api/v1/realtime/broadcast", { token, body });
  expect(res.status, res.text).toBe(201);
  return res.json as { id: string; event: string; reached: number; userSeqs: Record<string, number>; orgSeq: number | null };
}

/** Polls `probe` until it returns true (or fails after `timeoutMs`). */
export async function eventually(probe: () => Promise<boolean> | boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The socket's close, or a failure after `timeoutMs`. */
export function closedWithin(s: TestSocket, timeoutMs = 3000): Promise<{ code: number; reason: string }> {
  return Promise.race([
    s.closed,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket not closed within ${timeoutMs} ms`)), timeoutMs)),
  ]);
}
