import { z } from "@hono/zod-openapi";
import { AssignmentSchema as ProtocolAssignmentSchema, AvailabilitySchema, PRIORITIES, PrioritySchema, RoleSchema, RoutingStrategySchema } from "../protocol";
import { AlertType } from "./alerts";
import { IdString, IsoDateTime } from "./common";

export { AvailabilitySchema, RoutingStrategySchema };

/** Most agents a rule may name (`params.agentIds`, `escalation.poolAgentIds`). */
export const MAX_RULE_AGENTS = 100;
/** Longest SLA an escalation may set: 7 days. */
export const MAX_SLA_SECONDS = 7 * 86_400;
/** Highest `escalation.maxLevels` the schema accepts; the deployment's own bound is ROUTING_MAX_ESCALATION_LEVELS (≤ this). */
export const ESCALATION_LEVELS_CEILING = 20;

/** A territory: a region code or postal prefix, e.g. `CA` or `941`. */
export const Territory = z
  .string()
  .min(1)
  .max(32)
  .regex(/^[A-Za-z0-9-]+$/, "Use letters, digits and -")
  .openapi({ example: "CA" });

const unique = <T extends z.ZodType<string>>(item: T, max: number, what: string) =>
  z
    .array(item)
    .max(max)
    .refine((xs) => new Set(xs).size === xs.length, `${what} must be unique`);

/** An agent's territories (at most 50), as `PUT /api/v1/users/{id}` takes them. */
export const TerritoryList = unique(Territory, 50, "Territories");
/** An agent's skills: the alert types they handle (at most 50). */
export const SkillList = unique(AlertType, 50, "Skills");
/** Most open alerts routing gives the agent; null: ROUTING_DEFAULT_CAPACITY. */
export const Capacity = z.number().int().min(0).max(10_000).nullable();

const AgentIds = unique(IdString, MAX_RULE_AGENTS, "Agent ids").min(1);

const DataValue = z.union([z.string().max(200), z.number(), z.boolean()]);
const DataKey = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, "Use letters, digits and _ . -");

/** What a rule matches on: every given condition must hold; `{}` matches every alert. */
export const RuleMatchSchema = z
  .object({
    alertTypes: unique(AlertType, 50, "alertTypes").min(1).optional(),
    priorities: unique(PrioritySchema, PRIORITIES.length, "priorities").min(1).optional(),
    minConfidence: z.number().min(0).max(1).optional(),
    territories: unique(Territory, 100, "territories").min(1).optional().openapi({
      description: "The alert's territory (data[params.territoryField ?? 'territory']) starts with one of these",
    }),
    data: z
      .record(DataKey, z.union([DataValue, z.array(DataValue).min(1).max(50)]))
      .refine((d) => Object.keys(d).length <= 20, "At most 20 data fields")
      .optional()
      .openapi({ description: "Top-level data fields equal to the value (an array: any of its values)" }),
  })
  .strict()
  .openapi("RoutingRuleMatch");

/** What a strategy needs besides the candidates (which one is required depends on the strategy). */
export const RuleParamsSchema = z
  .object({
    agentId: IdString.optional().openapi({ description: "specific_agent: the agent (required there, refused elsewhere)" }),
    agentIds: AgentIds.optional().openapi({ description: "pool: the pool (required there); any other strategy: restricts the candidates" }),
    territoryField: DataKey.optional().openapi({ description: "The data field holding the alert's territory (default territory)" }),
  })
  .strict()
  .openapi("RoutingRuleParams");

/** When an alert of the rule is escalated, and to whom. */
export const EscalationPolicySchema = z
  .object({
    slaSeconds: z
      .partialRecord(PrioritySchema, z.number().int().min(10).max(MAX_SLA_SECONDS))
      .refine((s) => Object.keys(s).length > 0, "Give an SLA for at least one priority")
      .openapi({ description: "Seconds to acknowledge, per priority (10 s to 7 days); a priority without one never escalates" }),
    to: z.enum(["next_agent", "pool"]),
    poolAgentIds: AgentIds.optional().openapi({ description: "to=pool: the escalation pool, tried in order (required there, refused with next_agent)" }),
    maxLevels: z.number().int().min(1).max(ESCALATION_LEVELS_CEILING).openapi({ description: "At most ROUTING_MAX_ESCALATION_LEVELS (default 5)" }),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.to === "pool" && !e.poolAgentIds) ctx.addIssue({ code: "custom", path: ["poolAgentIds"], message: "to=pool needs poolAgentIds" });
    if (e.to === "next_agent" && e.poolAgentIds) ctx.addIssue({ code: "custom", path: ["poolAgentIds"], message: "poolAgentIds is only for to=pool" });
  })
  .openapi("EscalationPolicy");

const ruleFields = {
  name: z.string().trim().min(1).max(100),
  match: RuleMatchSchema.default({}),
  strategy: RoutingStrategySchema,
  params: RuleParamsSchema.default({}),
  escalation: EscalationPolicySchema.nullable().default(null),
  fallthrough: z.boolean().default(true).openapi({ description: "No agent qualifies: true tries the next rule, false queues the alert" }),
  enabled: z.boolean().default(true),
  position: z.number().int().min(1).max(10_000).optional().openapi({
    description:
      "1-based place in the org's order. Given: the rule goes there and the rules from that place on move down one (a position past the end means the end). Omitted: the end on create, its current place on replace.",
  }),
};

/** Strategy-specific requirements of `params`. */
function checkParams(r: { strategy: string; params: z.infer<typeof RuleParamsSchema> }, ctx: z.RefinementCtx): void {
  if (r.strategy === "specific_agent" && !r.params.agentId) {
    ctx.addIssue({ code: "custom", path: ["params", "agentId"], message: "specific_agent needs params.agentId" });
  }
  if (r.strategy !== "specific_agent" && r.params.agentId) {
    ctx.addIssue({ code: "custom", path: ["params", "agentId"], message: "params.agentId is only for specific_agent" });
  }
  if (r.strategy === "pool" && !r.params.agentIds) {
    ctx.addIssue({ code: "custom", path: ["params", "agentIds"], message: "pool needs params.agentIds" });
  }
}

/** Body of `POST /api/v1/routing/rules`. */
export const CreateRuleBody = z.object(ruleFields).strict().superRefine(checkParams).openapi("CreateRoutingRule");

/** Body of `PUT /api/v1/routing/rules/{id}`: the whole rule again, with the `version` it was read at. */
export const ReplaceRuleBody = z
  .object({ ...ruleFields, version: z.number().int().min(1).openapi({ description: "The version you read; another is 409 VERSION_CONFLICT" }) })
  .strict()
  .superRefine(checkParams)
  .openapi("ReplaceRoutingRule");

export const RuleIdParams = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) });

export const RoutingRuleSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    position: z.number().int(),
    version: z.number().int(),
    enabled: z.boolean(),
    match: RuleMatchSchema,
    strategy: RoutingStrategySchema,
    params: RuleParamsSchema,
    escalation: EscalationPolicySchema.nullable(),
    fallthrough: z.boolean(),
    createdBy: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("RoutingRule");

export const RoutingRuleListSchema = z.object({ items: z.array(RoutingRuleSchema) }).openapi("RoutingRuleList");

export const AssignmentSchema = ProtocolAssignmentSchema.openapi("Assignment");
export const AssignmentListSchema = z
  .object({
    items: z.array(AssignmentSchema),
    truncated: z.boolean().openapi({ description: "True when the alert has more assignments than the 500 listed" }),
  })
  .openapi("AssignmentList");

/** `PUT /api/v1/me/availability`. */
export const AvailabilityBody = z.object({ availability: AvailabilitySchema }).strict().openapi("AvailabilityChange");

/** Query of `GET /api/v1/routing/agents`. */
export const RoutingAgentsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(200),
  cursor: z.string().min(1).max(256).optional().openapi({ description: "nextCursor of the previous page" }),
});

/** An agent's routing profile (a directory entry's routing fields). */
export const AgentProfileSchema = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    email: z.string().nullable(),
    role: RoleSchema,
    territories: z.array(z.string()),
    skills: z.array(z.string()),
    capacity: z.number().int().nullable().openapi({ description: "The profile's capacity; null: the default" }),
    availability: AvailabilitySchema,
  })
  .openapi("AgentProfile");

export const RoutingAgentSchema = AgentProfileSchema.extend({
  effectiveCapacity: z.number().int().openapi({ description: "capacity, or ROUTING_DEFAULT_CAPACITY when null" }),
  online: z
    .boolean()
    .nullable()
    .openapi({ description: "A connection open to the org or user hub now; null: unknown (the org hub could not be reached, the rest of the page is still D1's)" }),
  openLoad: z.number().int().openapi({ description: "Alerts assigned to the agent with status PENDING, ACKNOWLEDGED or IN_PROGRESS" }),
  lastSeenAt: z.string().nullable(),
}).openapi("RoutingAgent");

export const RoutingAgentPageSchema = z
  .object({ items: z.array(RoutingAgentSchema), nextCursor: z.string().nullable() })
  .openapi("RoutingAgentPage");

/** Query of `GET /api/v1/routing/stats`. */
export const RoutingStatsQuery = z
  .object({
    since: IsoDateTime.optional().openapi({ description: "Assignments made at or after (default: until - 30 days)" }),
    until: IsoDateTime.optional().openapi({ description: "Assignments made before (default: now)" }),
  })
  .refine((q) => !q.since || !q.until || Date.parse(q.since) < Date.parse(q.until), { message: "since must be before until", path: ["until"] });

const ByKind = z.object({ routed: z.number().int(), manual: z.number().int(), escalated: z.number().int(), queued: z.number().int() });

export const RoutingStatsSchema = z
  .object({
    since: z.string(),
    until: z.string(),
    assignments: z.number().int(),
    byKind: ByKind,
    agents: z.array(
      z.object({
        agentId: z.string(),
        name: z.string().nullable(),
        assignments: z.number().int().openapi({ description: "Assignments to the agent in the window" }),
        byKind: ByKind.omit({ queued: true }),
        alerts: z.number().int().openapi({ description: "Distinct alerts assigned to the agent in the window" }),
        acknowledged: z.number().int().openapi({ description: "Of those, acknowledged while the agent held them" }),
        medianTimeToAcknowledgeMs: z.number().nullable().openapi({ description: "Median from the assignment to the acknowledgement" }),
        conversions: z.number().int().openapi({ description: "Of those alerts, converted while the agent held them" }),
        conversionRate: z.number().nullable().openapi({ description: "conversions / alerts; null without alerts" }),
      }),
    ),
    rules: z.array(
      z.object({
        ruleId: z.string(),
        name: z.string().nullable().openapi({ description: "The rule's name at its latest assignment in the window" }),
        assignments: z.number().int(),
        byKind: ByKind,
      }),
    ),
    truncated: z.boolean().openapi({ description: "True when agents or rules were cut at 1000 each" }),
  })
  .openapi("RoutingStats");

export type CreateRuleInput = z.infer<typeof CreateRuleBody>;
export type ReplaceRuleInput = z.infer<typeof ReplaceRuleBody>;
export type RoutingRule = z.infer<typeof RoutingRuleSchema>;
export type RoutingAgent = z.infer<typeof RoutingAgentSchema>;
export type RoutingAgentsInput = z.infer<typeof RoutingAgentsQuery>;
export type RoutingStatsInput = z.infer<typeof RoutingStatsQuery>;
export type RoutingStats = z.infer<typeof RoutingStatsSchema>;
