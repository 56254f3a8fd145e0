import { and, asc, eq, gte, inArray, ne, sql } from "drizzle-orm";
import type { Config } from "../../config";
import type { Db } from "../../db/client";
import { idList } from "../../db/sql";
import { routingRules, users, type RoutingRuleRow } from "../../db/schema";
import { AppError, badRequest, ErrorCode, notFound } from "../../errors";
import { newId } from "../../lib/ids";
import { assertRole } from "../../lib/roles";
import type { CreateRuleInput, ReplaceRuleInput, RoutingRule } from "../../schemas/routing";
import type { Claims } from "../../types";

/**
 * An org's routing rules (admin): create, list, read, replace, delete.
 * Positions are 1..n, dense, in the order rules are tried: every change that
 * moves one (insert at a place, move, delete) shifts the others in the same D1
 * batch (one transaction), with its guard (the limit, the version) inside the
 * statements, so concurrent changes never leave a gap, a duplicate place or
 * more than MAX_ROUTING_RULES rules. Versions count changes of a rule's own
 * content and place: a rule moved by another rule's insert or delete keeps
 * its version.
 */

/** The API shape of a rule row. */
export function toRule(row: RoutingRuleRow): RoutingRule {
  return {
    id: row.id,
    name: row.name,
    position: row.position,
    version: row.version,
    enabled: row.enabled,
    match: row.match,
    strategy: row.strategy,
    params: row.params,
    escalation: row.escalation ?? null,
    fallthrough: row.fallthrough,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

const ruleNotFound = (id: string) => notFound(ErrorCode.ROUTING_RULE_NOT_FOUND, `No routing rule ${id} in your organization`);
const ruleCount = (orgId: string) => sql`(SELECT count(*) FROM routing_rules WHERE org_id = ${orgId})`;
const onlyAdmins = (actor: Claims) => assertRole(actor, ["admin"], "Only admins manage routing rules");

/** The org's rules in the order they are tried. */
export async function listRules(db: Db, actor: Claims): Promise<RoutingRule[]> {
  onlyAdmins(actor);
  const rows = await db
    .select()
    .from(routingRules)
    .where(eq(routingRules.orgId, actor.org))
    .orderBy(asc(routingRules.position), asc(routingRules.createdAt), asc(routingRules.id));
  return rows.map(toRule);
}

async function findRule(db: Db, orgId: string, id: string): Promise<RoutingRuleRow | undefined> {
  return db.query.routingRules.findFirst({ where: and(eq(routingRules.orgId, orgId), eq(routingRules.id, id)) });
}

/** One rule (404 ROUTING_RULE_NOT_FOUND, also for another org's id). */
export async function getRule(db: Db, actor: Claims, id: string): Promise<RoutingRule> {
  onlyAdmins(actor);
  const row = await findRule(db, actor.org, id);
  if (!row) throw ruleNotFound(id);
  return toRule(row);
}

/**
 * What the schema cannot check alone: `escalation.maxLevels` within
 * ROUTING_MAX_ESCALATION_LEVELS (400), and every agent the rule names an
 * `agent` or `admin` of the org's directory (422 UNKNOWN_ASSIGNEE, `details.agentIds`).
 */
async function checkRule(db: Db, config: Config, orgId: string, input: CreateRuleInput): Promise<void> {
  const max = config.routing.maxEscalationLevels;
  if (input.escalation && input.escalation.maxLevels > max) {
    throw badRequest(ErrorCode.VALIDATION_FAILED, "Invalid body", {
      target: "json",
      issues: [{ path: "escalation.maxLevels", code: "too_big", message: `At most ${max} (ROUTING_MAX_ESCALATION_LEVELS)` }],
    });
  }
  const named = [
    ...new Set([
      ...(input.params.agentId ? [input.params.agentId] : []),
      ...(input.params.agentIds ?? []),
      ...(input.escalation?.poolAgentIds ?? []),
    ]),
  ];
  if (named.length === 0) return;
  const found = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.orgId, orgId), inArray(users.role, ["agent", "admin"]), inArray(users.id, idList(named))));
  const known = new Set(found.map((r) => r.id));
  const missing = named.filter((id) => !known.has(id));
  if (missing.length > 0) {
    throw new AppError(
      422,
      ErrorCode.UNKNOWN_ASSIGNEE,
      `Not an agent or admin of your organization's directory: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""}`,
      { agentIds: missing },
    );
  }
}

/** The stored columns of a rule body (everything but id, org, position, version and times). */
function content(input: CreateRuleInput) {
  return {
    name: input.name,
    enabled: input.enabled,
    match: input.match,
    strategy: input.strategy,
    params: input.params,
    escalation: input.escalation,
    fallthrough: input.fallthrough,
  };
}

/**
 * Creates a rule at `position` (the rules from there on move down one; past
 * the end: the end) or at the end; version 1. 409 ROUTING_RULES_LIMIT when the
 * org already has MAX_ROUTING_RULES (checked inside the insert, so concurrent
 * creates cannot pass it).
 */
export async function createRule(db: Db, config: Config, actor: Claims, input: CreateRuleInput, now = new Date()): Promise<RoutingRule> {
  onlyAdmins(actor);
  await checkRule(db, config, actor.org, input);
  const max = config.routing.maxRules;
  const id = newId("rrl", now.getTime());
  const c = content(input);
  const position = input.position === undefined ? sql`${ruleCount(actor.org)} + 1` : sql`min(${input.position}, ${ruleCount(actor.org)} + 1)`;
  const underLimit = sql`${ruleCount(actor.org)} < ${max}`;
  // Column order of routing_rules (drizzle lists every column of the table in the INSERT).
  const insert = db
    .insert(routingRules)
    .select(
      sql`SELECT ${id}, ${actor.org}, ${c.name}, ${position}, 1, ${c.enabled ? 1 : 0}, ${JSON.stringify(c.match)}, ${c.strategy},
        ${JSON.stringify(c.params)}, ${c.escalation === null ? null : JSON.stringify(c.escalation)}, ${c.fallthrough ? 1 : 0},
        ${actor.sub}, ${now.getTime()}, ${now.getTime()} WHERE ${underLimit}`,
    )
    .returning();
  let rows: RoutingRuleRow[];
  if (input.position === undefined) {
    rows = await insert;
  } else {
    const shift = db
      .update(routingRules)
      .set({ position: sql`${routingRules.position} + 1` })
      .where(and(eq(routingRules.orgId, actor.org), gte(routingRules.position, input.position), underLimit));
    [, rows] = await db.batch([shift, insert]);
  }
  const row = rows[0];
  if (!row) {
    throw new AppError(409, ErrorCode.ROUTING_RULES_LIMIT, `Your organization has the most routing rules allowed (${max}); delete one first`, {
      limit: max,
    });
  }
  return toRule(row);
}

/**
 * Replaces a rule's content (and place, when `position` is given; otherwise
 * it keeps its place) if `version` is still its current one: version + 1.
 * 409 VERSION_CONFLICT with `details.currentVersion` otherwise; 404 when gone.
 */
export async function replaceRule(
  db: Db,
  config: Config,
  actor: Claims,
  id: string,
  input: ReplaceRuleInput,
  now = new Date(),
): Promise<RoutingRule> {
  onlyAdmins(actor);
  const current = await findRule(db, actor.org, id);
  if (!current) throw ruleNotFound(id);
  if (current.version !== input.version) throw versionConflict(id, current.version);
  await checkRule(db, config, actor.org, input);

  const sameVersion = and(eq(routingRules.orgId, actor.org), eq(routingRules.id, id), eq(routingRules.version, input.version));
  const target = input.position === undefined ? undefined : sql`min(${input.position}, ${ruleCount(actor.org)})`;
  const update = db
    .update(routingRules)
    .set({ ...content(input), ...(target && { position: target }), version: sql`${routingRules.version} + 1`, updatedAt: now })
    .where(sameVersion)
    .returning();
  let rows: RoutingRuleRow[];
  if (!target) {
    rows = await update;
  } else {
    // The rule's own place and the target are read inside the statement: the rule's row is not among the rows it changes.
    const from = sql`(SELECT position FROM routing_rules WHERE org_id = ${actor.org} AND id = ${id})`;
    const p = routingRules.position;
    const shift = db
      .update(routingRules)
      .set({
        position: sql`${p} + CASE WHEN ${p} > ${from} AND ${p} <= ${target} THEN -1 WHEN ${p} >= ${target} AND ${p} < ${from} THEN 1 ELSE 0 END`,
      })
      .where(
        and(
          eq(routingRules.orgId, actor.org),
          ne(routingRules.id, id),
          sql`EXISTS (SELECT 1 FROM routing_rules WHERE org_id = ${actor.org} AND id = ${id} AND version = ${input.version})`,
        ),
      );
    [, rows] = await db.batch([shift, update]);
  }
  const row = rows[0];
  if (row) return toRule(row);
  const now2 = await findRule(db, actor.org, id);
  if (!now2) throw ruleNotFound(id);
  throw versionConflict(id, now2.version);
}

function versionConflict(id: string, currentVersion: number): AppError {
  return new AppError(409, ErrorCode.VERSION_CONFLICT, `Routing rule ${id} changed since you read it (now version ${currentVersion}); read it again`, {
    currentVersion,
  });
}

/** Deletes a rule; the rules after it move up one. 404 when it does not exist. */
export async function deleteRule(db: Db, actor: Claims, id: string): Promise<void> {
  onlyAdmins(actor);
  const closeGap = db
    .update(routingRules)
    .set({ position: sql`${routingRules.position} - 1` })
    .where(
      and(
        eq(routingRules.orgId, actor.org),
        sql`${routingRules.position} > (SELECT position FROM routing_rules WHERE org_id = ${actor.org} AND id = ${id})`,
      ),
    );
  const remove = db
    .delete(routingRules)
    .where(and(eq(routingRules.orgId, actor.org), eq(routingRules.id, id)))
    .returning({ id: routingRules.id });
  const [, deleted] = await db.batch([closeGap, remove]);
  if (deleted.length === 0) throw ruleNotFound(id);
}
