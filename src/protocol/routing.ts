import { z } from "zod";

/**
 * Alert routing as it travels to clients: the strategies and availabilities
 * (also the REST API's enums) and the assignment record an `alert:assigned` or
 * `alert:escalated` event carries, so an app can say why an alert reached
 * someone. docs/ROUTING.md explains the model.
 */

/** How a routing rule picks among the agents that qualify. */
export const ROUTING_STRATEGIES = ["round_robin", "least_loaded", "skills", "territory", "specific_agent", "pool"] as const;
export const RoutingStrategySchema = z.enum(ROUTING_STRATEGIES);
export type RoutingStrategy = z.infer<typeof RoutingStrategySchema>;

/** An agent's own availability; routing considers `available` agents only. */
export const AVAILABILITIES = ["available", "away", "offline"] as const;
export const AvailabilitySchema = z.enum(AVAILABILITIES);
export type Availability = z.infer<typeof AvailabilitySchema>;

/**
 * How an assignment came about: `routed` (rules on create), `queued` (rules
 * found nobody: the alert waits unassigned), `manual` (assign / reassign /
 * bulk by a person or service), `escalated` (its SLA passed unacknowledged).
 */
export const ASSIGNMENT_KINDS = ["routed", "queued", "manual", "escalated"] as const;
export const AssignmentKindSchema = z.enum(ASSIGNMENT_KINDS);
export type AssignmentKind = z.infer<typeof AssignmentKindSchema>;

/** One assignment of an alert (`GET /api/v1/alerts/{id}/assignments`, and the `assignment` of alert events). */
export const AssignmentSchema = z.object({
  id: z.string(),
  alertId: z.string(),
  kind: AssignmentKindSchema,
  /** The agent it went to; null for `queued` (and an escalation that found nobody). */
  agentId: z.string().nullable(),
  previousAgentId: z.string().nullable(),
  ruleId: z.string().nullable(),
  ruleName: z.string().nullable(),
  ruleVersion: z.number().nullable(),
  strategy: RoutingStrategySchema.nullable(),
  /** Why, in words: the rule, what qualified and the tie-break. */
  reason: z.string(),
  /** Escalation level: 0 for the first assignment, 1 for the first escalation… */
  level: z.number(),
  actorId: z.string(),
  createdAt: z.string(),
});
export type Assignment = z.infer<typeof AssignmentSchema>;
