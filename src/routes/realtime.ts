import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { forbidden } from "../errors";
import { bearerSecurity, createRouter, defineRoute, requireRole, jsonContent as json } from "../lib/router";
import { idempotencyOf } from "./idempotency";
import { hasRole } from "../lib/roles";
import { IDENTITY_HEADER, REQUEST_ID_HEADER, type ConnectIdentity } from "../realtime/hub-api";
import { orgHub, userHub } from "../outbox";
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
import { issueTicket, realtimeExpiry } from "../services/tickets";
import type { AppEnv } from "../types";

const security = bearerSecurity;
const tags = ["Realtime"];

const upgradeResponses = {
  101: {
    description:
      "Switching Protocols: the socket speaks docs/PROTOCOL.md. A refused upgrade also answers 101, then closes at once with 4000 + the status below and {code, message, retryAfter?} as the close reason",
  },
  ...commonErrors,
  426: { description: "UPGRADE_REQUIRED: not a WebSocket upgrade" },
} as const;

/** The verified identity handed to a hub; the socket lives until the token's `exp` (realtimeExpiry: 401 if already past). */
function identityOf(c: Context<AppEnv>): ConnectIdentity {
  const { sub, org, role, email, name } = c.var.auth;
  return { userId: sub, orgId: org, role, exp: realtimeExpiry(c.var.auth), ...(email !== undefined && { email }), ...(name !== undefined && { name }) };
}

/**
 * Forwards an authenticated upgrade to a hub and answers with what the hub
 * answers: a 101, or the hub's refusal, already in the form a client sees
 * (101 closed at once with 4429 and {code, message, retryAfter}, as the
 * Worker's own refusals), so nothing is parsed back here.
 */
async function forwardUpgrade(
  stub: { fetch(req: Request): Promise<Response> },
  identity: ConnectIdentity,
  params: Record<string, string | undefined>,
  requestId: string,
): Promise<Response> {
  const url = new URL("https://hub.internal/connect");
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") url.searchParams.set(k, v);
  return stub.fetch(
    new Request(url, { headers: { Upgrade: "websocket", [IDENTITY_HEADER]: JSON.stringify(identity), [REQUEST_ID_HEADER]: requestId } }),
  );
}

export const wsRouter = createRouter()
  .openapi(
    defineRoute({
      method: "get",
      path: "/ws",
      operationId: "openUserStream",
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
      return forwardUpgrade(userHub(c.env, identity.orgId, identity.userId), identity, { since: since?.toString() }, c.var.requestId);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/ws/org",
      operationId: "openOrgStream",
      tags,
      security,
      summary: "Open the org stream (WebSocket): org channels such as alerts, stats, presence, kpi",
      request: { query: OrgStreamQuery },
      responses: upgradeResponses,
    }),
    async (c) => {
      const q = c.req.valid("query");
      const identity = identityOf(c);
      const params = { since: q.since?.toString(), channels: q.channels?.join(","), dept: q.dept, queue: q.queue };
      return forwardUpgrade(orgHub(c.env, identity.orgId), identity, params, c.var.requestId);
    },
  );

export const realtimeRouter = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/ticket",
      operationId: "createRealtimeTicket",
      tags,
      security,
      summary: "A single-use WebSocket ticket (valid TICKET_TTL_SECONDS, bound to the caller)",
      responses: { 201: { description: "Ticket", content: json(TicketSchema) }, ...commonErrors },
    }),
    async (c) => {
      const { db, config } = c.var.deps;
      const ticket = await issueTicket(db, c.var.auth, config.ticketTtlSeconds);
      const q = `ticket=${encodeURIComponent(ticket.ticket)}`;
      return c.json({ ...ticket, urls: { user: `/api/v1/ws?${q}`, org: `/api/v1/ws/org?${q}` } }, 201);
    },
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/broadcast",
      operationId: "broadcastEvent",
      middleware: [requireRole("admin", "service")],
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
      const result = await broadcast(c.var.deps, c.var.auth, c.req.valid("json"), await idempotencyOf(c));
      if (result.replayed) c.header("Idempotent-Replayed", "true");
      return c.json(result.body, 201);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/stats",
      operationId: "getRealtimeStats",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "Connections, online users, subscribers per channel and scope, messages by type, latency (admin)",
      responses: { 200: { description: "Realtime statistics", content: json(RealtimeStatsSchema) }, ...commonErrors },
    }),
    async (c) => {
      return c.json(await orgHub(c.env, c.var.auth.org).stats(), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/connections",
      operationId: "listRealtimeConnections",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "Every open connection of the org (admin)",
      responses: {
        200: { description: "Connections", content: json(z.object({ items: z.array(ConnectionSchema), truncated: z.boolean() })) },
        ...commonErrors,
      },
    }),
    async (c) => {
      return c.json(await orgHub(c.env, c.var.auth.org).connections(), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/presence",
      operationId: "listPresence",
      middleware: [requireRole("admin", "service")],
      tags,
      security,
      summary: "Presence of every user seen in the org (admin, service)",
      responses: { 200: { description: "Presence", content: json(z.object({ items: z.array(PresenceSchema) })) }, ...commonErrors },
    }),
    async (c) => {
      return c.json({ items: await orgHub(c.env, c.var.auth.org).presence() }, 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/presence/{userId}",
      operationId: "getUserPresence",
      tags,
      security,
      summary: "Presence of one user (admin, service, or that user)",
      request: { params: z.object({ userId: IdString.openapi({ param: { name: "userId", in: "path" } }) }) },
      responses: { 200: { description: "Presence", content: json(PresenceSchema) }, ...commonErrors },
    }),
    async (c) => {
      const { userId } = c.req.valid("param");
      const { sub, role } = c.var.auth;
      if (sub !== userId && !hasRole({ role }, "admin", "service")) throw forbidden("Only admins, services and the user themselves read a user's presence");
      const [presence] = await orgHub(c.env, c.var.auth.org).presence(userId);
      return c.json(presence!, 200);
    },
  );
