// The stack Herald replaces, at its minimum: Express + Socket.IO v4 +
// jsonwebtoken in one Node process. JWT middleware on the socket handshake,
// one room per user (`user:<id>`) and one per organization (`org:<id>`),
// and `POST /alerts` that emits `alert:new` to the assignee's user room and
// to the org room. Nothing is persisted: no database, no log, no resume.
//
// Org rooms are joined by admins only, as Herald's org-wide `alerts` channel
// is admin-only, so both systems deliver the same events to the same sockets.
//
// env: PORT (default 3000), JWT_SECRET (required), HOST (default 127.0.0.1)
import { randomUUID } from "node:crypto";
import http from "node:http";
import express from "express";
import jwt from "jsonwebtoken";
import { Server } from "socket.io";
import { alertObject } from "../lib/alert-object.mjs";

const secret = process.env.JWT_SECRET;
if (!secret) {
  console.error("JWT_SECRET is required");
  process.exit(2);
}
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? "127.0.0.1";

/** Verifies an HS256 token; returns its claims or throws. */
function verify(token) {
  const claims = jwt.verify(token, secret, { algorithms: ["HS256"] });
  if (typeof claims.sub !== "string" || typeof claims.org !== "string" || typeof claims.role !== "string") {
    throw new Error("bad claims");
  }
  return claims;
}

const bearer = (header) => (typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7) : undefined);

const app = express();
app.disable("x-powered-by");
app.use(express.json({ limit: "256kb" }));

app.get("/health", (_req, res) => res.json({ status: "ok", sockets: io.engine.clientsCount }));

function requireAuth(req, res, next) {
  const token = bearer(req.headers.authorization);
  if (!token) return res.status(401).json({ error: { code: "AUTH_REQUIRED" } });
  try {
    req.auth = verify(token);
    return next();
  } catch {
    return res.status(401).json({ error: { code: "AUTH_FAILED" } });
  }
}

app.post("/alerts", requireAuth, (req, res) => {
  const { role, org, sub } = req.auth;
  if (role !== "admin" && role !== "service") return res.status(403).json({ error: { code: "FORBIDDEN" } });
  const b = req.body ?? {};
  if (typeof b.alertType !== "string" || typeof b.title !== "string") {
    return res.status(400).json({ error: { code: "VALIDATION_FAILED" } });
  }
  const alert = alertObject(b, { id: `alr_${randomUUID().replace(/-/g, "")}`, org, sub });
  const payload = { alert };
  if (alert.assigneeId) io.to(`user:${alert.assigneeId}`).emit("alert:new", payload);
  io.to(`org:${org}`).emit("alert:new", payload);
  return res.status(201).json(alert);
});

const server = http.createServer(app);
// Socket.IO's defaults otherwise (perMessageDeflate off on the server, as shipped).
const io = new Server(server, { serveClient: false, cors: { origin: "*" } });

io.use((socket, next) => {
  const token = socket.handshake.auth?.token ?? bearer(socket.handshake.headers.authorization);
  if (!token) return next(new Error("AUTH_REQUIRED"));
  try {
    socket.data.user = verify(token);
    return next();
  } catch {
    return next(new Error("AUTH_FAILED"));
  }
});

io.on("connection", (socket) => {
  const { sub, org, role } = socket.data.user;
  socket.join(`user:${sub}`);
  if (role === "admin") socket.join(`org:${org}`);
});

server.listen(port, host, () => console.log(`socket.io baseline on http://${host}:${port}`));

const stop = () => {
  io.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
