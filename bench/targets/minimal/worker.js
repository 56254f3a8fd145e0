// The "minimal Durable Object" target of `npm run bench` (issue 15): the
// least a durable alert stream on Workers needs, to show what Herald's own
// code costs on top of the platform. Runs only in the bench (bundled by
// bench/targets/minimal/server.mjs, served by Miniflare); never imported by src/.
//
//   Worker: jose HS256 verify of the bearer token (same JWT_SECRET and claims
//           {sub, org, role} the bench mints), then
//     GET  /health                 → {"status":"ok"}
//     GET  /api/v1/ws/org          (admins) → one D1 upsert of the user, then the
//                                  org's Durable Object accepts the socket
//     POST /api/v1/alerts          (service/admin) → the org's DO appends the alert
//                                  to its SQLite log and sends it to every socket; 201
//     PUT  /api/v1/users/:id       → one D1 upsert (the bench seeds an assignee)
//   OrgStream (one per org, WebSocket Hibernation API, SQLite storage):
//     accept → `{"type":"connected","seq":<head>,…}`; publish → one INSERT
//     into `events`, one `send` per socket of `{"type":"alert:new","seq",…,"data":{"alert"}}`.
//
// Nothing else: no rate limiter, no validation beyond the alert's two required
// fields, no replay (`since` is ignored), no user stream, no notifications.
import { DurableObject } from "cloudflare:workers";
import { jwtVerify } from "jose";
import { alertObject } from "../../lib/alert-object.mjs";

/** The HMAC key, imported once per isolate. */
let keyPromise = null;
let keySecret = null;
function hmacKey(secret) {
  if (!keyPromise || keySecret !== secret) {
    keySecret = secret;
    keyPromise = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  }
  return keyPromise;
}

async function auth(request, env, url) {
  const h = request.headers.get("Authorization");
  const token = h?.startsWith("Bearer ") ? h.slice(7) : url.searchParams.get("token");
  if (!token) return null;
  try {
    const { payload } = await jwtVerify(token, await hmacKey(env.JWT_SECRET), { algorithms: ["HS256"] });
    if (typeof payload.sub !== "string" || typeof payload.org !== "string" || typeof payload.role !== "string") return null;
    return payload;
  } catch {
    return null;
  }
}

const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
const error = (status, code) => json(status, { error: { code } });

function upsertUser(env, org, id, role) {
  return env.DB.prepare(
    "INSERT INTO users (org, id, role, last_seen) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (org, id) DO UPDATE SET role = excluded.role, last_seen = excluded.last_seen",
  )
    .bind(org, id, role, Date.now())
    .run();
}

function newId(prefix) {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return `${prefix}_${Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")}`;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return json(200, { status: "ok" });
    const claims = await auth(request, env, url);
    if (!claims) return error(401, "AUTH_FAILED");
    const { sub, org, role } = claims;
    const hub = () => env.ORG_STREAM.get(env.ORG_STREAM.idFromName(org));

    if (url.pathname === "/api/v1/ws/org" && request.method === "GET") {
      if (request.headers.get("Upgrade") !== "websocket") return error(426, "UPGRADE_REQUIRED");
      if (role !== "admin") return error(403, "FORBIDDEN");
      await upsertUser(env, org, sub, role);
      const headers = new Headers(request.headers);
      headers.set("X-User", sub);
      headers.set("X-Org", org);
      return hub().fetch(new Request(request.url, { headers }));
    }

    if (url.pathname === "/api/v1/alerts" && request.method === "POST") {
      if (role !== "service" && role !== "admin") return error(403, "FORBIDDEN");
      let b;
      try {
        b = await request.json();
      } catch {
        return error(400, "VALIDATION_FAILED");
      }
      if (typeof b?.alertType !== "string" || typeof b.title !== "string") return error(400, "VALIDATION_FAILED");
      const alert = alertObject(b, { id: newId("alr"), org, sub });
      const seq = await hub().publish(alert);
      return json(201, { ...alert, seq });
    }

    const user = /^\/api\/v1\/users\/([^/]+)$/.exec(url.pathname);
    if (user && request.method === "PUT") {
      if (role !== "service" && role !== "admin") return error(403, "FORBIDDEN");
      const b = await request.json().catch(() => ({}));
      const id = decodeURIComponent(user[1]);
      await upsertUser(env, org, id, typeof b?.role === "string" ? b.role : "agent");
      return json(200, { id, role: b?.role ?? "agent" });
    }
    return error(404, "NOT_FOUND");
  },
};

/** One per organization: its sockets (hibernatable) and its event log (SQLite). */
export class OrgStream extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT NOT NULL, at INTEGER NOT NULL)");
  }

  head() {
    return this.sql.exec("SELECT COALESCE(MAX(seq), 0) AS seq FROM events").one().seq;
  }

  async fetch(request) {
    const user = request.headers.get("X-User");
    const org = request.headers.get("X-Org");
    const pair = new WebSocketPair();
    const [client, server] = Object.values(pair);
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ user });
    server.send(
      JSON.stringify({
        type: "connected",
        userId: user,
        organizationId: org,
        stream: "org",
        seq: this.head(),
        serverTime: new Date().toISOString(),
        protocol: 1,
      }),
    );
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Appends the alert to the log, then one send per socket. Returns its seq. */
  publish(alert) {
    const ts = new Date().toISOString();
    const body = JSON.stringify({ alert });
    const seq = this.sql.exec("INSERT INTO events (type, data, at) VALUES ('alert:new', ?, ?) RETURNING seq", body, Date.now()).one().seq;
    const frame = `{"type":"alert:new","id":"evt_${seq}","stream":"org","seq":${seq},"ts":"${ts}","channel":"alerts","scope":{},"data":${body}}`;
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(frame);
      } catch {
        // closing
      }
    }
    return seq;
  }

  webSocketMessage() {
    // The bench's clients send nothing.
  }

  webSocketClose(ws, code) {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code);
    } catch {
      // already closed
    }
  }

  webSocketError(ws) {
    try {
      ws.close(1011);
    } catch {
      // already closed
    }
  }
}
