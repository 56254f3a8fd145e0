import { bearerSecurity, createRouter, defineRoute, requireRole, jsonContent as json } from "../lib/router";
import { BulkResultSchema, CreateAlertBody } from "../schemas/alerts";
import { commonErrors, unprocessableResponse } from "../schemas/common";
import { BulkAssignBody, RoutingPreviewSchema } from "../schemas/routing-actions";
import { bulkAssign, previewRoute } from "../services/routing/route";

const tags = ["Routing"];
const security = bearerSecurity;

/** Routing actions under /api/v1/routing: preview a decision, assign many alerts (docs/ROUTING.md). */
export const routingActionsRouter = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/preview",
      operationId: "previewRouting",
      middleware: [requireRole("admin", "service")],
      tags,
      security,
      summary: "Which agent an alert would get and why (admin, service); creates and reserves nothing",
      description:
        "Takes the body of POST /api/v1/alerts and runs the very decision a create runs (the org's enabled rules, agents' profiles, open loads and presence). assigneeId in the body is ignored.",
      request: { body: { required: true, content: json(CreateAlertBody) } },
      responses: { 200: { description: "The decision", content: json(RoutingPreviewSchema) }, ...commonErrors, ...unprocessableResponse },
    }),
    async (c) => c.json(await previewRoute(c.var.deps, c.var.auth, c.req.valid("json")), 200),
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/bulk-assign",
      operationId: "bulkAssignAlerts",
      middleware: [requireRole("admin", "service")],
      tags,
      security,
      summary: "Assign up to 100 alerts to an agent or through the rules (admin, service); a result per id",
      description:
        "Each id is reassigned as POST /api/v1/alerts/{id}/reassign would (to agentId, or with route: true by the rules excluding its current assignee) and succeeds or fails on its own.",
      request: { body: { required: true, content: json(BulkAssignBody) } },
      responses: { 200: { description: "Per-id results", content: json(BulkResultSchema) }, ...commonErrors },
    }),
    async (c) => c.json(await bulkAssign(c.var.deps, c.var.auth, c.req.valid("json")), 200),
  );
