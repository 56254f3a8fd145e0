import { z } from "@hono/zod-openapi";
import { bearerSecurity, createRouter, defineRoute, requireRole, jsonContent as json } from "../lib/router";
import { commonErrors } from "../schemas/common";
import { getMyPreferences, getOrgPreferences, PreferencesSchema, putMyPreferences, putOrgPreferences } from "../services/notifications";

const tags = ["Preferences"];
const security = bearerSecurity;
const MyPreferences = z
  .object({ preferences: PreferencesSchema, orgDefaults: PreferencesSchema, effective: z.record(z.string(), z.unknown()) })
  .openapi("MyPreferences");

export const preferencesRouter = createRouter()
  .openapi(
    defineRoute({ method: "get", path: "/me/preferences", operationId: "getMyPreferences", tags, security, summary: "Your preferences, the org defaults and what applies", responses: { 200: { description: "Preferences", content: json(MyPreferences) }, ...commonErrors } }),
    async (c) => c.json(await getMyPreferences(c.var.deps.db, c.var.auth), 200),
  )
  .openapi(
    defineRoute({
      method: "put",
      path: "/me/preferences",
      operationId: "replaceMyPreferences",
      tags,
      security,
      summary: "Replace your preferences (channels, per type, quiet hours)",
      request: { body: { required: true, content: json(PreferencesSchema) } },
      responses: { 200: { description: "Saved", content: json(MyPreferences) }, ...commonErrors },
    }),
    async (c) => c.json(await putMyPreferences(c.var.deps.db, c.var.auth, c.req.valid("json")), 200),
  )
  .openapi(
    defineRoute({ method: "get", path: "/org/preferences", operationId: "getOrgPreferences", middleware: [requireRole("admin")], tags, security, summary: "The org defaults (admin)", responses: { 200: { description: "Defaults", content: json(PreferencesSchema) }, ...commonErrors } }),
    async (c) => c.json(await getOrgPreferences(c.var.deps.db, c.var.auth), 200),
  )
  .openapi(
    defineRoute({
      method: "put",
      path: "/org/preferences",
      operationId: "replaceOrgPreferences",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "Replace the org defaults (admin)",
      request: { body: { required: true, content: json(PreferencesSchema) } },
      responses: { 200: { description: "Saved", content: json(PreferencesSchema) }, ...commonErrors },
    }),
    async (c) => c.json(await putOrgPreferences(c.var.deps.db, c.var.auth, c.req.valid("json")), 200),
  );
