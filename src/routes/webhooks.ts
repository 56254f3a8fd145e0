import { bearerSecurity, createRouter, defineRoute, requireRole, jsonContent as json } from "../lib/router";
import { commonErrors, ErrorSchema, notFoundResponse } from "../schemas/common";
import {
  CreatedWebhookSchema,
  CreateWebhookBody,
  ListWebhookDeliveriesQuery,
  TestDeliverySchema,
  UpdateWebhookBody,
  WebhookDeliveryPageSchema,
  WebhookIdParams,
  WebhookListSchema,
  WebhookSchema,
} from "../schemas/webhooks";
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listWebhookDeliveries,
  listWebhooks,
  sendTestDelivery,
  updateWebhook,
} from "../services/webhooks";

const tags = ["Webhooks"];
const security = bearerSecurity;
const urlRefused = {
  description: "VALIDATION_FAILED, or WEBHOOK_URL_NOT_ALLOWED (not https, credentials, or a loopback/private/link-local target)",
  content: json(ErrorSchema),
};

/** Webhook endpoints (admin only): CRUD, a test delivery, and each endpoint's delivery log. */
export const webhooksRouter = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/",
      operationId: "createWebhook",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "Register a webhook endpoint (admin); the answer is the only time its secret is shown",
      description:
        "Deliveries are POSTed as JSON {id, type, timestamp, organizationId, data} and signed per the Standard Webhooks spec " +
        "(webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>). " +
        "Patterns: an event name (alert:new), a prefix (alert:*), or * (every event except the internal presence:*, stats:updated, notification:* and unread:count, which must be named).",
      request: { body: { required: true, content: json(CreateWebhookBody) } },
      responses: {
        201: { description: "Created, with its secret", content: json(CreatedWebhookSchema) },
        ...commonErrors,
        400: urlRefused,
      },
    }),
    async (c) => {
      const created = await createWebhook(c.var.deps.db, c.var.deps.config, c.var.auth, c.req.valid("json"));
      c.header("Location", `/api/v1/webhooks/${created.id}`);
      return c.json(created, 201);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      operationId: "listWebhooks",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "List the org's webhook endpoints (admin), without secrets",
      responses: { 200: { description: "Endpoints", content: json(WebhookListSchema) }, ...commonErrors },
    }),
    async (c) => c.json(await listWebhooks(c.var.deps.db, c.var.auth), 200),
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{id}",
      operationId: "getWebhook",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "Read one endpoint (admin), without its secret",
      request: { params: WebhookIdParams },
      responses: { 200: { description: "The endpoint", content: json(WebhookSchema) }, ...commonErrors, ...notFoundResponse },
    }),
    async (c) => c.json(await getWebhook(c.var.deps.db, c.var.auth, c.req.valid("param").id), 200),
  )
  .openapi(
    defineRoute({
      method: "patch",
      path: "/{id}",
      operationId: "updateWebhook",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "Change url, events, description or enabled (admin); enabling clears the failure count and reason",
      request: { params: WebhookIdParams, body: { required: true, content: json(UpdateWebhookBody) } },
      responses: {
        200: { description: "Updated", content: json(WebhookSchema) },
        ...commonErrors,
        400: urlRefused,
        ...notFoundResponse,
      },
    }),
    async (c) =>
      c.json(await updateWebhook(c.var.deps.db, c.var.deps.config, c.var.auth, c.req.valid("param").id, c.req.valid("json")), 200),
  )
  .openapi(
    defineRoute({
      method: "delete",
      path: "/{id}",
      operationId: "deleteWebhook",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "Delete an endpoint (admin); its delivery log is kept, queued deliveries are not sent",
      request: { params: WebhookIdParams },
      responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFoundResponse },
    }),
    async (c) => {
      await deleteWebhook(c.var.deps.db, c.var.auth, c.req.valid("param").id);
      return c.body(null, 204);
    },
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/{id}/test",
      operationId: "testWebhook",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "Queue a signed webhook:test delivery to this endpoint (admin)",
      request: { params: WebhookIdParams },
      responses: {
        202: { description: "Queued; follow it in the delivery log", content: json(TestDeliverySchema) },
        ...commonErrors,
        ...notFoundResponse,
        409: { description: "WEBHOOK_DISABLED: enable the endpoint first", content: json(ErrorSchema) },
      },
    }),
    async (c) => c.json(await sendTestDelivery(c.env, c.var.deps.db, c.var.auth, c.req.valid("param").id), 202),
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{id}/deliveries",
      operationId: "listWebhookDeliveries",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "The endpoint's delivery log (admin), newest first",
      request: { params: WebhookIdParams, query: ListWebhookDeliveriesQuery },
      responses: {
        200: { description: "One page", content: json(WebhookDeliveryPageSchema) },
        ...commonErrors,
        ...notFoundResponse,
      },
    }),
    async (c) => c.json(await listWebhookDeliveries(c.var.deps.db, c.var.auth, c.req.valid("param").id, c.req.valid("query")), 200),
  );
