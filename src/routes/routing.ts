import { bearerSecurity, createRouter, defineRoute, requireRole, jsonContent as json } from "../lib/router";
import { orgHub } from "../outbox";
import { commonErrors, ErrorSchema, notFoundResponse } from "../schemas/common";
import {
  AvailabilityBody,
  CreateRuleBody,
  ReplaceRuleBody,
  RoutingAgentPageSchema,
  RoutingAgentsQuery,
  RoutingRuleListSchema,
  RoutingRuleSchema,
  RoutingStatsQuery,
  RoutingStatsSchema,
  RuleIdParams,
} from "../schemas/routing";
import { UserSchema } from "../schemas/users";
import { listRoutingAgents } from "../services/routing/agents";
import { createRule, deleteRule, getRule, listRules, replaceRule } from "../services/routing/rules";
import { routingStats } from "../services/routing/stats";
import { setMyAvailability } from "../services/users";

const tags = ["Routing"];
const security = bearerSecurity;
const error = (description: string) => ({ description, content: json(ErrorSchema) });
const unknownAgent = { 422: error("UNKNOWN_ASSIGNEE: an agent id the rule names is not an agent or admin of the directory (details.agentIds)") };

/** Alert routing (docs/ROUTING.md): the org's rules (admin), its agents (admin, service) and the leaderboard (admin). */
export const routingRouter = createRouter()
  .openapi(
    defineRoute({
      method: "get",
      path: "/rules",
      operationId: "listRoutingRules",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "The org's routing rules in the order they are tried (admin)",
      responses: { 200: { description: "Rules by position", content: json(RoutingRuleListSchema) }, ...commonErrors },
    }),
    async (c) => c.json({ items: await listRules(c.var.deps.db, c.var.auth) }, 200),
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/rules",
      operationId: "createRoutingRule",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "Add a routing rule (admin): at position (the rules from there on move down one) or at the end; version 1",
      request: { body: { required: true, content: json(CreateRuleBody) } },
      responses: {
        201: { description: "Created", content: json(RoutingRuleSchema) },
        ...commonErrors,
        409: error("ROUTING_RULES_LIMIT: the org has MAX_ROUTING_RULES rules"),
        ...unknownAgent,
      },
    }),
    async (c) => {
      const { db, config } = c.var.deps;
      const rule = await createRule(db, config, c.var.auth, c.req.valid("json"));
      c.header("Location", `/api/v1/routing/rules/${rule.id}`);
      return c.json(rule, 201);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/rules/{id}",
      operationId: "getRoutingRule",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "Read one routing rule (admin)",
      request: { params: RuleIdParams },
      responses: { 200: { description: "The rule", content: json(RoutingRuleSchema) }, ...commonErrors, ...notFoundResponse },
    }),
    async (c) => c.json(await getRule(c.var.deps.db, c.var.auth, c.req.valid("param").id), 200),
  )
  .openapi(
    defineRoute({
      method: "put",
      path: "/rules/{id}",
      operationId: "replaceRoutingRule",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "Replace a routing rule (admin): the whole rule with the version you read; version + 1",
      description:
        "Omitted optional fields take their defaults (match {}, params {}, escalation null, fallthrough and enabled true); " +
        "an omitted position keeps the rule's place. A version other than the current one is 409 VERSION_CONFLICT (details.currentVersion).",
      request: { params: RuleIdParams, body: { required: true, content: json(ReplaceRuleBody) } },
      responses: {
        200: { description: "Replaced", content: json(RoutingRuleSchema) },
        ...commonErrors,
        ...notFoundResponse,
        409: error("VERSION_CONFLICT: the rule changed since you read it"),
        ...unknownAgent,
      },
    }),
    async (c) => {
      const { db, config } = c.var.deps;
      return c.json(await replaceRule(db, config, c.var.auth, c.req.valid("param").id, c.req.valid("json")), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "delete",
      path: "/rules/{id}",
      operationId: "deleteRoutingRule",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "Delete a routing rule (admin); the rules after it move up one",
      request: { params: RuleIdParams },
      responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFoundResponse },
    }),
    async (c) => {
      await deleteRule(c.var.deps.db, c.var.auth, c.req.valid("param").id);
      return c.body(null, 204);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/agents",
      operationId: "listRoutingAgents",
      middleware: [requireRole("admin", "service")],
      tags,
      security,
      summary: "The org's agents and admins by id: profile, availability, effective capacity, open load, online (null when the org hub cannot be reached) (admin, service)",
      description: "Open load is counted in D1 (alerts assigned to the agent with status PENDING, ACKNOWLEDGED or IN_PROGRESS); online comes from the org hub's presence.",
      request: { query: RoutingAgentsQuery },
      responses: { 200: { description: "A page of agents", content: json(RoutingAgentPageSchema) }, ...commonErrors },
    }),
    async (c) => {
      const { db, config } = c.var.deps;
      return c.json(await listRoutingAgents(db, config, orgHub(c.env, c.var.auth.org), c.var.auth, c.req.valid("query")), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/stats",
      operationId: "getRoutingStats",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "The routing leaderboard (admin): per agent and per rule, over the assignments made in the window",
      request: { query: RoutingStatsQuery },
      responses: { 200: { description: "Statistics", content: json(RoutingStatsSchema) }, ...commonErrors },
    }),
    async (c) => c.json(await routingStats(c.var.deps.db, c.var.auth, c.req.valid("query")), 200),
  );

/** `PUT /api/v1/me/availability`: a person sets their own availability. */
export const availabilityRouter = createRouter().openapi(
  defineRoute({
    method: "put",
    path: "/me/availability",
    operationId: "setMyAvailability",
    middleware: [requireRole("admin", "agent", "member")],
    tags,
    security,
    summary: "Set your availability (any person; services 403): away and offline are never routed to",
    request: { body: { required: true, content: json(AvailabilityBody) } },
    responses: { 200: { description: "Your directory entry", content: json(UserSchema) }, ...commonErrors },
  }),
  async (c) => c.json(await setMyAvailability(c.var.deps.db, c.var.auth, c.req.valid("json").availability), 200),
);
