import { z } from "@hono/zod-openapi";
import { bearerSecurity, createRouter, defineRoute, requireRole, jsonContent as json } from "../lib/router";
import { idempotencyOf } from "./idempotency";
import {
  AlertDeliveriesSchema,
  AlertHistorySchema,
  AlertIdParams,
  AlertPageSchema,
  AlertSchema,
  AlertStatsSchema,
  AlertVolumeSchema,
  AssignBody,
  BulkBody,
  BulkResultSchema,
  ConvertBody,
  CreateAlertBody,
  ListAlertsQuery,
  StatsQuery,
  StatusChangeBody,
  VolumeQuery,
} from "../schemas/alerts";
import { AssignmentListSchema } from "../schemas/routing";
import { listAssignments } from "../services/routing/assignments";
import { ReassignBody } from "../schemas/routing-actions";
import { reassignAlert, type ReassignInput } from "../services/routing/route";
import { commonErrors, conflictResponse, IdempotencyHeaders, notFoundResponse, unprocessableResponse } from "../schemas/common";
import {
  alertDeliveries,
  alertStats,
  alertVolume,
  assignAlert,
  bulkAction,
  changeStatus,
  convertAlert,
  createAlert,
  getAlert,
  getAlertHistory,
  listAlerts,
} from "../services/alerts";

const tags = ["Alerts"];

const security = bearerSecurity;
const alertResponse = (description: string) => ({ 200: { description, content: json(AlertSchema) } });

// Static paths (/stats, /volume, /bulk) are registered before /{id} so they win.
export const alertsRouter = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/",
      operationId: "createAlert",
      middleware: [requireRole("admin", "service")],
      tags,
      security,
      summary: "Create an alert (admin, service)",
      description:
        "With an Idempotency-Key header, a retry with the same body returns the first response again (201, same id, header Idempotent-Replayed: true); the same key with another body is 422 IDEMPOTENCY_KEY_REUSED.",
      request: { headers: IdempotencyHeaders, body: { required: true, content: json(CreateAlertBody) } },
      responses: {
        201: {
          description: "Created (or replayed)",
          headers: {
            "Server-Timing": {
              description:
                'Where the create\'s time went (ms): `read` (directory rows, preferences, webhook endpoints; routing inputs), `commit` (the D1 batch), `publish` (the hubs: every socket has the event when they answer; queued deliveries; the published mark), and when the routing rules decided the assignee `route;dur=<ms>;desc="routing decision"` (rules and agents read, the org hub\'s choice)',
              schema: { type: "string" },
            },
          },
          content: json(AlertSchema),
        },
        ...commonErrors,
        ...unprocessableResponse,
      },
    }),
    async (c) => {
      const result = await createAlert(c.var.deps, c.var.auth, c.req.valid("json"), await idempotencyOf(c));
      if (result.replayed) c.header("Idempotent-Replayed", "true");
      // Where the time went; the routing decision only on a create the rules decided (docs/ROUTING.md).
      const { read, commit, publish } = result.timings;
      const timing = [`read;dur=${read.toFixed(1)}`, `commit;dur=${commit.toFixed(1)}`, `publish;dur=${publish.toFixed(1)}`];
      if (result.routingMs !== undefined) timing.push(`route;dur=${result.routingMs.toFixed(1)};desc="routing decision"`);
      c.header("Server-Timing", timing.join(", "));
      c.header("Location", `/api/v1/alerts/${result.body.id}`);
      return c.json(result.body, 201);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      operationId: "listAlerts",
      tags,
      security,
      summary: "List visible alerts, newest first",
      request: { query: ListAlertsQuery },
      responses: { 200: { description: "One page", content: json(AlertPageSchema) }, ...commonErrors },
    }),
    async (c) => c.json(await listAlerts(c.var.deps.db, c.var.auth, c.req.valid("query")), 200),
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/stats",
      operationId: "getAlertStats",
      tags,
      security,
      summary: "Totals, breakdowns, conversion rate and time to acknowledge over visible alerts",
      request: { query: StatsQuery },
      responses: { 200: { description: "Statistics", content: json(AlertStatsSchema) }, ...commonErrors },
    }),
    async (c) => c.json(await alertStats(c.var.deps.db, c.var.auth, c.req.valid("query")), 200),
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/volume",
      operationId: "getAlertVolume",
      tags,
      security,
      summary: "Visible alerts created per UTC hour or day, oldest first, empty buckets included",
      description:
        "Defaults: bucket=hour, until=now, since=until-24h (bucket=day: until-30d). since is rounded down and until up to bucket boundaries and echoed rounded. More than 1000 buckets is 400 VALIDATION_FAILED.",
      request: { query: VolumeQuery },
      responses: { 200: { description: "Counts per bucket", content: json(AlertVolumeSchema) }, ...commonErrors },
    }),
    async (c) => c.json(await alertVolume(c.var.deps.db, c.var.auth, c.req.valid("query")), 200),
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/bulk",
      operationId: "bulkAlertAction",
      tags,
      security,
      summary: "Acknowledge, dismiss or assign up to 100 alerts; a result per id",
      request: { body: { required: true, content: json(BulkBody) } },
      responses: { 200: { description: "Per-id results", content: json(BulkResultSchema) }, ...commonErrors },
    }),
    async (c) => c.json(await bulkAction(c.var.deps, c.var.auth, c.req.valid("json")), 200),
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{id}",
      operationId: "getAlert",
      tags,
      security,
      summary: "Read one alert",
      request: { params: AlertIdParams },
      responses: { ...alertResponse("The alert"), ...commonErrors, ...notFoundResponse },
    }),
    async (c) => c.json(await getAlert(c.var.deps.db, c.var.auth, c.req.valid("param").id), 200),
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{id}/history",
      operationId: "getAlertHistory",
      tags,
      security,
      summary: "The alert's audit trail (creation, transitions with notes, assignments), oldest first",
      request: { params: AlertIdParams },
      responses: {
        200: { description: "History", content: json(z.object({ items: z.array(AlertHistorySchema) })) },
        ...commonErrors,
        ...notFoundResponse,
      },
    }),
    async (c) => c.json({ items: await getAlertHistory(c.var.deps.db, c.var.auth, c.req.valid("param").id) }, 200),
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{id}/deliveries",
      operationId: "getAlertDeliveries",
      tags,
      security,
      summary: "Email and SMS deliveries of the notifications the alert caused, oldest first (agents and members: their own)",
      description: "At most 500 deliveries; truncated is true when the alert has more.",
      request: { params: AlertIdParams },
      responses: {
        200: { description: "Deliveries with their notification and recipient", content: json(AlertDeliveriesSchema) },
        ...commonErrors,
        ...notFoundResponse,
      },
    }),
    async (c) => c.json(await alertDeliveries(c.var.deps.db, c.var.auth, c.req.valid("param").id), 200),
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{id}/assignments",
      operationId: "getAlertAssignments",
      tags,
      security,
      summary: "The alert's assignments (routed, queued, manual, escalated) with rule and reason, oldest first",
      description: "Whoever may read the alert may read its assignments. At most 500; truncated is true when the alert has more.",
      request: { params: AlertIdParams },
      responses: {
        200: { description: "Assignments", content: json(AssignmentListSchema) },
        ...commonErrors,
        ...notFoundResponse,
      },
    }),
    async (c) => c.json(await listAssignments(c.var.deps.db, c.var.auth, c.req.valid("param").id), 200),
  )
  .openapi(
    defineRoute({
      method: "patch",
      path: "/{id}/status",
      operationId: "changeAlertStatus",
      tags,
      security,
      summary: "Move an alert along its lifecycle",
      description: "Legal moves: see docs/ALERTS.md. An illegal one is 409 INVALID_TRANSITION.",
      request: { params: AlertIdParams, body: { required: true, content: json(StatusChangeBody) } },
      responses: { ...alertResponse("Updated"), ...commonErrors, ...notFoundResponse, ...conflictResponse },
    }),
    async (c) => c.json(await changeStatus(c.var.deps, c.var.auth, c.req.valid("param").id, c.req.valid("json")), 200),
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/{id}/assign",
      operationId: "assignAlert",
      tags,
      security,
      summary: "Assign an alert (admin, service; an agent may take an unassigned alert)",
      request: { params: AlertIdParams, body: { required: true, content: json(AssignBody) } },
      responses: {
        ...alertResponse("Assigned"),
        ...commonErrors,
        ...notFoundResponse,
        ...conflictResponse,
        ...unprocessableResponse,
      },
    }),
    async (c) => c.json(await assignAlert(c.var.deps, c.var.auth, c.req.valid("param").id, c.req.valid("json")), 200),
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/{id}/reassign",
      operationId: "reassignAlert",
      middleware: [requireRole("admin", "service")],
      tags,
      security,
      summary: "Reassign an alert to a named agent, or through the routing rules again (admin, service)",
      description:
        "Body { agentId } gives it to that person (assignment kind manual); { route: true } runs the org's rules excluding the current assignee (kind routed; 409 CONFLICT when no enabled rule or nobody qualifies). Publishes alert:assigned with the assignment and notifies the new assignee. A resolved, dismissed or converted alert is 409 INVALID_TRANSITION; someone else's change first is 409 CONFLICT.",
      request: { params: AlertIdParams, body: { required: true, content: json(ReassignBody) } },
      responses: {
        ...alertResponse("Reassigned"),
        ...commonErrors,
        ...notFoundResponse,
        ...conflictResponse,
        ...unprocessableResponse,
      },
    }),
    async (c) => c.json(await reassignAlert(c.var.deps, c.var.auth, c.req.valid("param").id, c.req.valid("json") as ReassignInput), 200),
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/{id}/convert",
      operationId: "convertAlert",
      tags,
      security,
      summary: "Record a conversion (status CONVERTED, value and type)",
      request: { params: AlertIdParams, body: { required: true, content: json(ConvertBody) } },
      responses: { ...alertResponse("Converted"), ...commonErrors, ...notFoundResponse, ...conflictResponse },
    }),
    async (c) => c.json(await convertAlert(c.var.deps, c.var.auth, c.req.valid("param").id, c.req.valid("json")), 200),
  );
