import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getConfig } from "../config";
import { getDb } from "../db/client";
import { AppError, ErrorCode, forbidden, type ErrorCode as Code } from "../errors";
import { bearerSecurity, createRouter, idempotencyOf, jsonContent as json } from "../lib/router";
import { IDENTITY_HEADER, type ConnectIdentity } from "../realtime/hub-base";
import { orgHub, userHub } from "../realtime/outbox";
import { realtimePort } from "../realtime/port";
import { commonErrors, IdempotencyHeaders, IdString } from "../schemas/common";
import {
  BroadcastBody,
  BroadcastResultSchema,
  ConnectionSchema,
  OrgStreamQuery,
  PresenceSchema,
  RealtimeStatsSchema,
  TicketSchema,
  UserStreamQuery,
} from "../schemas/realtime";
import { broadcast } from "../services/realtime";
import { issueTicket } from "../services/tickets";
import type { AppEnv } from "../types";

const security = bearerSecurity;
const tags = ["Realtime"];

const upgradeResponses = {
  101: { description: "Switching Protocols: the socket speaks docs/PROTOCOL.md" },
  ...commonErrors,
  426: { description: "UPGRADE_REQUIRED: not a WebSocket upgrade" },
} as const;

/** The verified identity handed to a hub; the socket lives until the token's expiry. */
function identityOf(c: Context<AppEnv>): ConnectIdentity {
  const { sub, org, role, exp } = c.var.auth;
  return { userId: sub, orgId: org, role, exp: (exp ?? Math.floor(Date.now() / 1000) + 3600) * 1000 };
}

/**
 * Forwards an authenticated upgrade to a hub. The hub's refusals (connection
 * limits) come back as JSON errors and are re-raised so they get the API's
 * error envelope; a 101 is passed through untouched.
 */
async function forwardUpgrade(stub: { fetch(req: Request): Promise<Response> }, identity: ConnectIdentity, params: Record<string, string | undefined>) {
  const url = new URL("https://hub.internal/connect");
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") url.searchParams.set(k, v);
  const res = await stub.fetch(new Request(url, { headers: { Upgrade: "websocket", [IDENTITY_HEADER]: JSON.stringify(identity) } }));
  if (res.status === 101) return res;
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  throw new AppError(
    res.status as 400,
    (body?.error?.code as Code | undefined) ?? ErrorCode.INTERNAL,
    body?.error?.message ?? "The hub refused the connection",
  );
}

const requireRoles = (c: Context<AppEnv>, ...roles: string[]) => {
  if (!roles.includes(c.var.auth.role)) throw forbidden(`This needs one of the roles: ${roles.join(", ")}`);
};

export const wsRouter = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/ws",
      tags,
      security,
      summary: "Open the user stream (WebSocket): every device of the caller",
      description: "Authenticate with Authorization: Bearer, ?ticket= (browsers) or ?token=. Resume with ?since=<last seq>.",
      request: { query: UserStreamQuery },
      responses: upgradeResponses,
    }),
    async (c) => {
      const { since } = c.req.valid("query");
      const identity = identityOf(c);
      return forwardUpgrade(userHub(c.env, identity.orgId, identity.userId), identity, { since: since?.toString() });
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/ws/org",
      tags,
      security,
      summary: "Open the org stream (WebSocket): org channels such as alerts, stats, presence, kpi",
      request: { query: OrgStreamQuery },
      responses: upgradeResponses,
    }),
    async (c) => {
      const q = c.req.valid("query");
      const identity = identityOf(c);
      return forwardUpgrade(orgHub(c.env, identity.orgId), identity, {
        since: q.since?.toString(),
        channels: q.channels?.join(","),
        dept: q.dept,
        queue: q.queue,
      });
    },
  );

export const realtimeRouter = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/ticket",
      tags,
      security,
      summary: "A single-use WebSocket ticket (valid TICKET_TTL_SECONDS, bound to the caller)",
      responses: { 201: { description: "Ticket", content: json(TicketSchema) }, ...commonErrors },
    }),
    async (c) => {
      const ticket = await issueTicket(getDb(c.env), c.var.auth, getConfig(c.env).ticketTtlSeconds);
      const q = `ticket=${encodeURIComponent(ticket.ticket)}`;
      return c.json({ ...ticket, urls: { user: `/api/v1/ws?${q}`, org: `/api/v1/ws/org?${q}` } }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/broadcast",
      tags,
      security,
      summary: "Publish an event to user streams and/or an org channel (admin, service)",
      request: { headers: IdempotencyHeaders, body: { required: true, content: json(BroadcastBody) } },
      responses: {
        201: { description: "Published to every target hub", content: json(BroadcastResultSchema) },
        ...commonErrors,
        503: { description: "REALTIME_UNAVAILABLE: a hub did not confirm; retry with the same Idempotency-Key" },
      },
    }),
    async (c) => {
      const config = getConfig(c.env);
      const db = getDb(c.env);
      const result = await broadcast({ db, realtime: realtimePort(c.env, db, config), config }, c.var.auth, c.req.valid("json"), await idempotencyOf(c));
      if (result.replayed) c.header("Idempotent-Replayed", "true");
      return c.json(result.body, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/stats",
      tags,
      security,
      summary: "Connections, online users, subscribers per channel and scope, messages by type, latency (admin)",
      responses: { 200: { description: "Realtime statistics", content: json(RealtimeStatsSchema) }, ...commonErrors },
    }),
    async (c) => {
      requireRoles(c, "admin");
      return c.json(await orgHub(c.env, c.var.auth.org).stats(), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/connections",
      tags,
      security,
      summary: "Every open connection of the org (admin)",
      responses: {
        200: { description: "Connections", content: json(z.object({ items: z.array(ConnectionSchema), truncated: z.boolean() })) },
        ...commonErrors,
      },
    }),
    async (c) => {
      requireRoles(c, "admin");
      return c.json(await orgHub(c.env, c.var.auth.org).connections(), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/presence",
      tags,
      security,
      summary: "Presence of every user seen in the org (admin, service)",
      responses: { 200: { description: "Presence", content: json(z.object({ items: z.array(PresenceSchema) })) }, ...commonErrors },
    }),
    async (c) => {
      requireRoles(c, "admin", "service");
      return c.json({ items: await orgHub(c.env, c.var.auth.org).presence() }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/presence/{userId}",
      tags,
      security,
      summary: "Presence of one user (admin, service, or that user)",
      request: { params: z.object({ userId: IdString.openapi({ param: { name: "userId", in: "path" } }) }) },
      responses: { 200: { description: "Presence", content: json(PresenceSchema) }, ...commonErrors },
    }),
    async (c) => {
      const { userId } = c.req.valid("param");
      if (c.var.auth.sub !== userId) requireRoles(c, "admin", "service");
      const [presence] = await orgHub(c.env, c.var.auth.org).presence(userId);
      return c.json(presence!, 200);
    },
  );
