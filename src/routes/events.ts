import { bearerSecurity, createRouter, defineRoute, jsonContent as json } from "../lib/router";
import { commonErrors } from "../schemas/common";
import { EventAckBody, EventPageSchema, EventsQuery } from "../schemas/realtime";
import { z } from "@hono/zod-openapi";
import { ackEvents, listEvents } from "../services/events";

const tags = ["Realtime"];
const security = bearerSecurity;

/** The polling fallback for clients that cannot hold a socket. */
export const eventsRouter = createRouter()
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      operationId: "pollEvents",
      tags,
      security,
      summary: "Events of your user stream and of the channels named, in order, after a cursor",
      request: { query: EventsQuery },
      responses: { 200: { description: "One page; poll again with since=nextCursor", content: json(EventPageSchema) }, ...commonErrors },
    }),
    async (c) => c.json(await listEvents(c.var.deps.db, c.var.auth, c.req.valid("query"), c.var.epoch), 200),
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/ack",
      operationId: "ackEvents",
      tags,
      security,
      summary: "Acknowledge events so polling no longer returns them to you",
      request: { body: { required: true, content: json(EventAckBody) } },
      responses: { 200: { description: "Acknowledged", content: json(z.object({ acknowledged: z.number() })) }, ...commonErrors },
    }),
    async (c) => c.json(await ackEvents(c.var.deps.db, c.var.auth, c.req.valid("json").ids), 200),
  );
