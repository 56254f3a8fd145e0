// The two client stacks the load generator drives with identical scenarios:
// Herald (plain `ws` WebSocket clients, JSON frames of docs/PROTOCOL.md) and
// the Socket.IO baseline (socket.io-client, websocket transport only).
// Each connection exposes the same small surface: open() → connect time,
// onAlert(alert, now) for every `alert:new`, terminate() (an abrupt drop, no
// close frame) and close().
import { performance } from "node:perf_hooks";
import { SignJWT } from "jose";
import { io as ioClient } from "socket.io-client";
import WebSocket from "ws";

/** HS256 tokens `{sub, org, role, exp}` as Herald and the baseline both accept. */
/**
 * A connect attempt that settles once: `done(err)` or `done(null, value)`,
 * or a timeout error after `timeoutMs`; `cleanup` runs on failure.
 */
function settleOnce(resolve, reject, timeoutMs, cleanup) {
  let settled = false;
  const done = (err, v) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (err) {
      cleanup();
      reject(err);
    } else resolve(v);
  };
  const timer = setTimeout(() => done(new Error("connect timeout")), timeoutMs);
  return done;
}

export class Tokens {
  #key;
  #cache = new Map();
  constructor(secret) {
    this.#key = new TextEncoder().encode(secret);
  }
  async get(sub, org, role) {
    const k = `${org}\u0000${sub}\u0000${role}`;
    let t = this.#cache.get(k);
    if (!t) {
      t = await new SignJWT({ org, role })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime("2h")
        .sign(this.#key);
      this.#cache.set(k, t);
    }
    return t;
  }
  /** Signs many at once (outside any timed phase). */
  async many(list) {
    return Promise.all(list.map(({ sub, org, role }) => this.get(sub, org, role)));
  }
}

const CONNECT_TIMEOUT_MS = 30_000;

/** A Herald stream socket. */
export class HeraldConn {
  /** Called for each alert:new with (alert, receivedAtMs, frameBytes). */
  onAlert = null;
  /** Called for every other frame with (frame). */
  onOther = null;
  lastSeq = undefined;
  connected = false;
  closed = false;
  frames = 0;
  /** Events (alert:new) received before `connected`: the replay of a resume. */
  replayed = 0;

  constructor(baseUrl, token, { stream = "user", since, deflate = false } = {}) {
    const u = new URL(stream === "org" ? "/api/v1/ws/org" : "/api/v1/ws", baseUrl.replace(/^http/, "ws"));
    if (since !== undefined) u.searchParams.set("since", String(since));
    this.url = u.href;
    this.token = token;
    this.deflate = deflate;
  }

  /** Opens the socket; resolves with the time to the `connected` frame (ms). Rejects on refusal, error or timeout. */
  open(timeoutMs = CONNECT_TIMEOUT_MS) {
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      const done = settleOnce(resolve, reject, timeoutMs, () => this.terminate());
      const ws = new WebSocket(this.url, {
        headers: { Authorization: `Bearer ${this.token}` },
        perMessageDeflate: this.deflate,
        handshakeTimeout: timeoutMs,
      });
      this.ws = ws;
      ws.on("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => done(new Error(`HTTP ${res.statusCode} ${body.slice(0, 200)}`)));
      });
      ws.on("error", (err) => done(err));
      ws.on("close", () => {
        this.closed = true;
        done(new Error("closed before connected"));
      });
      ws.on("message", (data) => {
        const now = performance.now();
        const text = data.toString();
        this.frames++;
        const frame = JSON.parse(text);
        if (frame.type === "alert:new") {
          if (typeof frame.seq === "number") this.lastSeq = frame.seq;
          if (!this.connected) this.replayed++;
          this.onAlert?.(frame.data.alert, now, text.length);
        } else if (frame.type === "connected") {
          this.connected = true;
          this.lastSeq = Math.max(this.lastSeq ?? 0, frame.seq);
          this.connectedFrame = frame;
          done(null, now - t0);
        } else {
          if (typeof frame.seq === "number" && frame.type !== "resync-required") this.lastSeq = frame.seq;
          this.onOther?.(frame);
        }
      });
    });
  }

  get negotiatedExtensions() {
    return this.ws?.extensions ?? "";
  }

  /** Drops the connection without a close frame (a network failure, a deploy). */
  terminate() {
    try {
      this.ws?.terminate();
    } catch {
      // gone
    }
  }

  close() {
    try {
      this.ws?.close(1000);
    } catch {
      // gone
    }
  }
}

/** A Socket.IO baseline socket. */
export class SioConn {
  onAlert = null;
  onOther = null;
  connected = false;
  frames = 0;
  replayed = 0;
  lastSeq = undefined;

  constructor(baseUrl, token, { deflate = false } = {}) {
    this.baseUrl = baseUrl;
    this.token = token;
    this.deflate = deflate;
  }

  open(timeoutMs = CONNECT_TIMEOUT_MS) {
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      const done = settleOnce(resolve, reject, timeoutMs, () => this.socket?.disconnect());
      const socket = ioClient(this.baseUrl, {
        transports: ["websocket"],
        auth: { token: this.token },
        reconnection: false,
        forceNew: true,
        timeout: timeoutMs,
        // engine.io-client offers permessage-deflate by default; match the Herald clients' mode.
        perMessageDeflate: this.deflate ? { threshold: 0 } : false,
      });
      this.socket = socket;
      socket.on("connect", () => {
        this.connected = true;
        done(null, performance.now() - t0);
      });
      socket.on("connect_error", (err) => done(err));
      socket.on("alert:new", (payload) => {
        const now = performance.now();
        this.frames++;
        this.onAlert?.(payload.alert, now, 0);
      });
    });
  }

  get negotiatedExtensions() {
    return this.socket?.io?.engine?.transport?.ws?.extensions ?? "";
  }

  terminate() {
    const ws = this.socket?.io?.engine?.transport?.ws;
    try {
      if (ws?.terminate) ws.terminate();
      else this.socket?.disconnect();
    } catch {
      // gone
    }
  }

  close() {
    try {
      this.socket?.disconnect();
    } catch {
      // gone
    }
  }
}

/**
 * The REST side and the connection factory of one target, so scenarios are
 * written once: Herald (both ways of serving it) or the Socket.IO baseline.
 */
export function driverFor(target) {
  const base = target.baseUrl;
  const herald = target.kind === "herald";
  return {
    kind: target.kind,
    /** False for the minimal target: it serves the org stream only. */
    userStream: target.userStream !== false,
    conn(token, opts) {
      return herald ? new HeraldConn(base, token, opts) : new SioConn(base, token, opts);
    },
    /** POST an alert; resolves {status, ms, text, serverTiming}. */
    async createAlert(token, body, timeoutMs = 30_000) {
      const t0 = performance.now();
      const res = await fetch(herald ? `${base}/api/v1/alerts` : `${base}/alerts`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      return { status: res.status, ms: performance.now() - t0, text, serverTiming: res.headers.get("server-timing") };
    },
    /** Puts a recipient in Herald's directory (the baseline has none). */
    async putUser(token, id, role = "agent", timeoutMs = 30_000) {
      if (!herald) return { status: 200 };
      const res = await fetch(`${base}/api/v1/users/${encodeURIComponent(id)}`, {
        method: "PUT",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ role, name: id }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer();
      return { status: res.status };
    },
  };
}
