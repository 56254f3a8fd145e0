import { z } from "@hono/zod-openapi";
import { RoutingStrategySchema } from "../protocol";
import { IdString } from "./common";
import { AgentProfileSchema, EscalationPolicySchema } from "./routing";

/** Bodies and answers of the routing actions: preview, reassign, bulk assign (docs/ROUTING.md). */

const Note = z.string().max(2000).optional().openapi({ description: "Recorded in the history and the assignment's reason" });

/** `POST /api/v1/alerts/{id}/reassign`: a named agent, or the rules again. */
export const ReassignBody = z
  .object({
    agentId: IdString.optional().openapi({ description: "The person to give the alert to" }),
    route: z.literal(true).optional().openapi({ description: "Run the org's rules again, excluding the current assignee" }),
    note: Note,
  })
  .strict()
  .refine((b) => (b.agentId === undefined) !== (b.route === undefined), { message: "Give exactly one of agentId and route", path: ["agentId"] })
  .openapi("Reassign");

/** `POST /api/v1/routing/bulk-assign`: up to 100 alerts, to an agent or through the rules. */
export const BulkAssignBody = z
  .object({
    ids: z
      .array(IdString)
      .min(1)
      .max(100)
      .refine((ids) => new Set(ids).size === ids.length, "Ids must be unique"),
    agentId: IdString.optional(),
    route: z.literal(true).optional(),
    note: Note,
  })
  .strict()
  .refine((b) => (b.agentId === undefined) !== (b.route === undefined), { message: "Give exactly one of agentId and route", path: ["agentId"] })
  .openapi("BulkAssign");

export const RoutingPreviewSchema = z
  .object({
    agentId: z.string().nullable().openapi({ description: "The agent the alert would get; null: queued (or no enabled rule)" }),
    agent: AgentProfileSchema.nullable(),
    rule: z.object({ id: z.string(), name: z.string(), version: z.number().int(), strategy: RoutingStrategySchema }).nullable(),
    reason: z.string().openapi({ description: "The rule, what qualified, the tie-break" }),
    escalation: EscalationPolicySchema.nullable(),
  })
  .openapi("RoutingPreview");
