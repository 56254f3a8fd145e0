import { z } from "@hono/zod-openapi";
import { bearerSecurity, createRouter, defineRoute, requireRole, jsonContent as json } from "../lib/router";
import { idempotencyOf } from "./idempotency";
import { renderTemplate } from "../services/notifications";
import { commonErrors, notFoundResponse, unprocessableResponse } from "../schemas/common";
import {
  CreateNotificationsBody,
  DeliverySchema,
  ListNotificationsQuery,
  NotificationIdParams,
  NotificationSchema,
} from "../schemas/notifications";
import {
  changeNotification,
  createNotifications,
  markAll,
  notificationCounts,
  notificationDeliveries,
  listNotifications,
} from "../services/notifications";

const tags = ["Notifications"];
const security = bearerSecurity;
const CountsSchema = z.object({ unread: z.number(), unseen: z.number(), total: z.number() }).openapi("NotificationCounts");

const changeRoute = (path: string, operationId: string, summary: string) =>
  defineRoute({
    method: "post",
    path,
    operationId,
    tags,
    security,
    summary,
    request: { params: NotificationIdParams },
    responses: { 200: { description: "The notification after the change", content: json(NotificationSchema) }, ...commonErrors, ...notFoundResponse },
  });

export const notificationsRouter = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/",
      operationId: "createNotifications",
      middleware: [requireRole("admin", "service")],
      tags,
      security,
      summary: "Notify users (admin, service): in-app, realtime, and email/SMS as routing decides",
      request: { body: { required: true, content: json(CreateNotificationsBody) } },
      responses: {
        201: {
          description: "Created; a retry with the same Idempotency-Key returns this again",
          content: json(z.object({ ids: z.array(z.string()), notifications: z.array(z.object({ id: z.string(), userId: z.string(), channels: z.array(z.string()) })) })),
        },
        ...commonErrors,
        ...unprocessableResponse,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const rendered = body.template !== undefined ? renderTemplate(body.template, body.variables ?? {}) : undefined;
      const result = await createNotifications(
        c.var.deps,
        c.var.auth,
        {
          userIds: body.userIds,
          priority: body.priority,
          type: body.type ?? rendered!.type,
          title: rendered?.title ?? body.title!,
          message: rendered?.message ?? body.message,
          actionText: body.actionText ?? rendered?.actionText,
          actionUrl: body.actionUrl,
          data: body.data,
          channels: body.channels,
        },
        await idempotencyOf(c),
      );
      if (result.replayed) c.header("Idempotent-Replayed", "true");
      return c.json(result.body, 201);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      operationId: "listNotifications",
      tags,
      security,
      summary: "Your notifications, newest first",
      request: { query: ListNotificationsQuery },
      responses: { 200: { description: "One page", content: json(z.object({ items: z.array(NotificationSchema), nextCursor: z.string().nullable() })) }, ...commonErrors },
    }),
    async (c) => c.json(await listNotifications(c.var.deps.db, c.var.auth, c.req.valid("query")), 200),
  )
  .openapi(
    defineRoute({ method: "get", path: "/counts", operationId: "getNotificationCounts", tags, security, summary: "Your unread, unseen and total counts", responses: { 200: { description: "Counts", content: json(CountsSchema) }, ...commonErrors } }),
    async (c) => c.json(await notificationCounts(c.var.deps.db, c.var.auth), 200),
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/unread-count",
      operationId: "getUnreadCount",
      tags,
      security,
      summary: "Your unread count (for clients of the previous API)",
      responses: { 200: { description: "Unread", content: json(z.object({ count: z.number() })) }, ...commonErrors },
    }),
    async (c) => c.json({ count: (await notificationCounts(c.var.deps.db, c.var.auth)).unread }, 200),
  )
  .openapi(
    defineRoute({ method: "post", path: "/read-all", operationId: "markAllNotificationsRead", tags, security, summary: "Mark all your notifications read", responses: { 200: { description: "How many changed", content: json(z.object({ updated: z.number() })) }, ...commonErrors } }),
    async (c) => c.json(await markAll(c.var.deps, c.var.auth, "read"), 200),
  )
  .openapi(
    defineRoute({ method: "post", path: "/seen-all", operationId: "markAllNotificationsSeen", tags, security, summary: "Mark all your notifications seen (the bell was opened)", responses: { 200: { description: "How many changed", content: json(z.object({ updated: z.number() })) }, ...commonErrors } }),
    async (c) => c.json(await markAll(c.var.deps, c.var.auth, "seen"), 200),
  )
  .openapi(changeRoute("/{id}/read", "markNotificationRead", "Mark one read"), async (c) =>
    c.json((await changeNotification(c.var.deps, c.var.auth, c.req.valid("param").id, "read"))!, 200),
  )
  .openapi(changeRoute("/{id}/unread", "markNotificationUnread", "Mark one unread"), async (c) =>
    c.json((await changeNotification(c.var.deps, c.var.auth, c.req.valid("param").id, "unread"))!, 200),
  )
  .openapi(changeRoute("/{id}/archive", "archiveNotification", "Archive one (hidden from the default list)"), async (c) =>
    c.json((await changeNotification(c.var.deps, c.var.auth, c.req.valid("param").id, "archive"))!, 200),
  )
  .openapi(
    defineRoute({
      method: "delete",
      path: "/{id}",
      operationId: "deleteNotification",
      tags,
      security,
      summary: "Delete one (soft delete)",
      request: { params: NotificationIdParams },
      responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFoundResponse },
    }),
    async (c) => {
      await changeNotification(c.var.deps, c.var.auth, c.req.valid("param").id, "delete");
      return c.body(null, 204);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{id}/deliveries",
      operationId: "listNotificationDeliveries",
      tags,
      security,
      summary: "Every email/SMS delivery of a notification (admin, service, or its recipient)",
      request: { params: NotificationIdParams },
      responses: { 200: { description: "Deliveries", content: json(z.object({ items: z.array(DeliverySchema) })) }, ...commonErrors, ...notFoundResponse },
    }),
    async (c) => c.json({ items: await notificationDeliveries(c.var.deps.db, c.var.auth, c.req.valid("param").id) }, 200),
  );
