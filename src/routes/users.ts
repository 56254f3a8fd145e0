import { bearerSecurity, createRouter, defineRoute, requireRole, jsonContent as json } from "../lib/router";
import { commonErrors, notFoundResponse } from "../schemas/common";
import { ListUsersQuery, UpsertUserBody, UserIdParams, UserPageSchema, UserSchema } from "../schemas/users";
import { getUser, listUsers, upsertUser } from "../services/users";

export const usersRouter = createRouter()
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      operationId: "listUsers",
      middleware: [requireRole("admin", "service")],
      tags: ["Directory"],
      summary: "The organization's directory by name, then id; unnamed users last (admin, service)",
      security: bearerSecurity,
      request: { query: ListUsersQuery },
      responses: { 200: { description: "A page of users", content: json(UserPageSchema) }, ...commonErrors },
    }),
    async (c) => c.json(await listUsers(c.var.deps.db, c.var.auth, c.req.valid("query")), 200),
  )
  .openapi(
    defineRoute({
      method: "put",
      path: "/{id}",
      operationId: "upsertUser",
      middleware: [requireRole("admin", "service")],
      tags: ["Directory"],
      summary: "Create or update a recipient profile (admin, service)",
      security: bearerSecurity,
      request: { params: UserIdParams, body: { required: true, content: json(UpsertUserBody) } },
      responses: {
        200: { description: "Updated", content: json(UserSchema) },
        201: { description: "Created", content: json(UserSchema) },
        ...commonErrors,
      },
    }),
    async (c) => {
      const { user, created } = await upsertUser(c.var.deps.db, c.var.auth, c.req.valid("param").id, c.req.valid("json"));
      return created ? c.json(user, 201) : c.json(user, 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{id}",
      operationId: "getUser",
      tags: ["Directory"],
      summary: "Read a profile (members: only their own)",
      security: bearerSecurity,
      request: { params: UserIdParams },
      responses: { 200: { description: "The profile", content: json(UserSchema) }, ...commonErrors, ...notFoundResponse },
    }),
    async (c) => c.json(await getUser(c.var.deps.db, c.var.auth, c.req.valid("param").id), 200),
  );
