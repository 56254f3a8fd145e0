import type { EscalationPolicy, RoutingRuleRow, RuleMatch } from "../db/schema";
import type { Availability, Priority, Role, RoutingStrategy } from "../protocol";

/**
 * The routing decision (docs/ROUTING.md): which agent an alert goes to, by
 * which rule, and why. Pure: no env, no I/O; the org hub runs it with its
 * loads, presence, cursors and last-assignment times (`RoutingState`), and
 * so does `POST /api/v1/routing/preview`, so both give the same answer.
 */

/** What routing reads of an alert. */
export interface RoutableAlert {
  id: string;
  alertType: string;
  priority: Priority;
  confidence: number | null;
  data: Record<string, unknown>;
}

/** An agent as routing sees it: a directory row with its profile. */
export interface AgentCandidate {
  id: string;
  name: string | null;
  role: Role;
  territories: string[];
  skills: string[];
  /** Most open alerts; null: the default capacity. */
  capacity: number | null;
  availability: Availability;
}

/** What the org hub knows at decision time. */
export interface RoutingState {
  /** Open alerts assigned to the agent (reservations included). */
  load(agentId: string): number;
  /** Whether the agent has a connection open now. */
  online(agentId: string): boolean;
  /** When the agent was last assigned an alert by routing (ms), null if never. */
  lastAssignedAt(agentId: string): number | null;
  /** The last agent a round-robin rule assigned, null if none yet. */
  cursor(ruleId: string): string | null;
}

/** The rule a decision used, as assignment records name it. */
export interface DecisionRule {
  id: string;
  name: string;
  version: number;
  strategy: RoutingStrategy;
}

/**
 * The outcome: `agentId` null means queued; `rule` is the rule that assigned
 * (or the non-fallthrough rule that stopped and queued), null when no rule
 * matched; `escalation` is the assigning rule's policy.
 */
export interface RoutingDecision {
  agentId: string | null;
  rule: DecisionRule | null;
  reason: string;
  escalation: EscalationPolicy | null;
}

/** Input of `decide`. */
export interface DecideInput {
  alert: RoutableAlert;
  rules: RoutingRuleRow[];
  agents: AgentCandidate[];
  state: RoutingState;
  /** Agents never chosen (the current assignee on reassign, who already had it on escalation). */
  exclude?: ReadonlySet<string>;
  defaultCapacity: number;
  /** Only this rule is tried (an escalation re-runs its own rule). */
  onlyRule?: string;
}

const ROUTABLE_ROLES: ReadonlySet<Role> = new Set(["agent", "admin"]);

/** The alert's territory: a top-level string or number field of its data. */
function territoryOf(alert: RoutableAlert, field: string): string | undefined {
  const value = alert.data[field];
  return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
}

/** Why the rule's match fails for the alert, or null when it matches. */
function mismatch(match: RuleMatch, alert: RoutableAlert, territoryField: string): string | null {
  if (match.alertTypes?.length && !match.alertTypes.includes(alert.alertType)) return `type ${alert.alertType} is not one of its types`;
  if (match.priorities?.length && !match.priorities.includes(alert.priority)) return `priority ${alert.priority} is not one of its priorities`;
  if (match.minConfidence !== undefined && (alert.confidence === null || alert.confidence < match.minConfidence)) {
    return `confidence ${alert.confidence ?? "none"} is below ${match.minConfidence}`;
  }
  if (match.territories?.length) {
    const territory = territoryOf(alert, territoryField);
    if (territory === undefined) return `the alert has no ${territoryField}`;
    if (!match.territories.some((t) => territory.startsWith(t))) return `${territoryField} ${territory} is outside its territories`;
  }
  for (const [key, expected] of Object.entries(match.data ?? {})) {
    const actual = alert.data[key];
    const ok = Array.isArray(expected) ? expected.some((v) => v === actual) : expected === actual;
    if (!ok) return `data.${key} does not match`;
  }
  return null;
}

/** Length of the agent's longest territory that prefixes the alert's territory (0: none). */
function territoryMatch(agent: AgentCandidate, territory: string | undefined): number {
  if (territory === undefined) return 0;
  let best = 0;
  for (const t of agent.territories) if (t.length > best && territory.startsWith(t)) best = t.length;
  return best;
}

interface Ranked {
  agent: AgentCandidate;
  online: boolean;
  load: number;
  capacity: number;
  /** The strategy's own sort keys, ascending. */
  keys: number[];
  lastAssignedAt: number | null;
}

/** Words for the strategy key that separated the winner from the runner-up. */
function strategyTieBreak(strategy: RoutingStrategy, winner: Ranked): string {
  switch (strategy) {
    case "round_robin":
      return "next in the rotation";
    case "territory":
      return `the most specific territory match (${-winner.keys[0]!} characters), then fewest open alerts (${winner.load})`;
    default:
      return `fewest open alerts (${winner.load} of ${winner.capacity})`;
  }
}

/** Picks the agent for a matching rule; null with the counts when nobody qualifies. */
function pick(
  rule: RoutingRuleRow,
  input: DecideInput,
): { winner: Ranked; qualified: number; considered: number; tieBreak: string } | { winner: null; qualified: 0; considered: number; why: string } {
  const { alert, state, exclude, defaultCapacity } = input;
  const params = rule.params ?? {};
  const territory = territoryOf(alert, params.territoryField ?? "territory");
  const restrict = params.agentIds ? new Set(params.agentIds) : undefined;
  let considered = 0;
  let unavailable = 0;
  let full = 0;
  let rejected = 0;
  const eligible: Ranked[] = [];
  for (const agent of input.agents) {
    if (!ROUTABLE_ROLES.has(agent.role) || exclude?.has(agent.id)) continue;
    if (restrict && !restrict.has(agent.id)) continue;
    if (rule.strategy === "pool" && !restrict) continue;
    if (rule.strategy === "specific_agent" && agent.id !== params.agentId) continue;
    considered++;
    if (rule.strategy === "skills" && !agent.skills.includes(alert.alertType)) {
      rejected++;
      continue;
    }
    const specificity = territoryMatch(agent, territory);
    if (rule.strategy === "territory" && specificity === 0) {
      rejected++;
      continue;
    }
    if (agent.availability !== "available") {
      unavailable++;
      continue;
    }
    const capacity = agent.capacity ?? defaultCapacity;
    const load = state.load(agent.id);
    if (load >= capacity) {
      full++;
      continue;
    }
    const relative = capacity > 0 ? load / capacity : 1;
    let keys: number[];
    switch (rule.strategy) {
      case "round_robin":
        keys = [];
        break;
      case "territory":
        keys = [-specificity, load, relative];
        break;
      default:
        keys = [load, relative];
    }
    eligible.push({ agent, online: state.online(agent.id), load, capacity, keys, lastAssignedAt: state.lastAssignedAt(agent.id) });
  }
  if (eligible.length === 0) {
    const parts = [
      rejected > 0 && `${rejected} without the ${rule.strategy === "skills" ? `skill ${alert.alertType}` : "territory"}`,
      unavailable > 0 && `${unavailable} away or offline`,
      full > 0 && `${full} at capacity`,
    ].filter(Boolean);
    return { winner: null, qualified: 0, considered, why: `0 of ${considered} agents qualified${parts.length ? ` (${parts.join(", ")})` : ""}` };
  }
  if (rule.strategy === "round_robin") {
    // Rotation by id: the first id after the cursor, wrapping.
    const cursor = state.cursor(rule.id);
    const ids = eligible.map((r) => r.agent.id).sort();
    const start = cursor === null ? 0 : ids.findIndex((id) => id > cursor);
    const offset = start === -1 ? 0 : start;
    const rank = new Map(ids.map((id, i) => [id, (i - offset + ids.length) % ids.length]));
    for (const r of eligible) r.keys = [rank.get(r.agent.id)!];
  }
  const compare = (a: Ranked, b: Ranked): [number, string] => {
    if (a.online !== b.online) return [a.online ? -1 : 1, "online"];
    for (let i = 0; i < a.keys.length; i++) if (a.keys[i] !== b.keys[i]) return [a.keys[i]! - b.keys[i]!, "strategy"];
    if (a.lastAssignedAt !== b.lastAssignedAt) {
      if (a.lastAssignedAt === null) return [-1, "last"];
      if (b.lastAssignedAt === null) return [1, "last"];
      return [a.lastAssignedAt - b.lastAssignedAt, "last"];
    }
    return [a.agent.id < b.agent.id ? -1 : a.agent.id > b.agent.id ? 1 : 0, "id"];
  };
  eligible.sort((a, b) => compare(a, b)[0]);
  const winner = eligible[0]!;
  const runnerUp = eligible[1];
  let tieBreak: string;
  if (!runnerUp) tieBreak = "the only one";
  else {
    const [, by] = compare(winner, runnerUp);
    tieBreak =
      by === "online"
        ? "online while the others are not"
        : by === "strategy"
          ? strategyTieBreak(rule.strategy, winner)
          : by === "last"
            ? "assigned longest ago"
            : "ties broken by id";
  }
  return { winner, qualified: eligible.length, considered, tieBreak };
}

const ruleRef = (rule: RoutingRuleRow): DecisionRule => ({ id: rule.id, name: rule.name, version: rule.version, strategy: rule.strategy });

/**
 * Routes one alert: the org's enabled rules in position order, the first
 * that matches and finds a qualifying agent wins; a matching rule without
 * fallthrough that finds nobody queues the alert; no rule: queued.
 * Deterministic for the same input.
 */
export function decide(input: DecideInput): RoutingDecision {
  const rules = input.rules
    .filter((r) => r.enabled && (input.onlyRule === undefined || r.id === input.onlyRule))
    .sort((a, b) => a.position - b.position || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (rules.length === 0) return { agentId: null, rule: null, reason: "No enabled routing rule applies; queued.", escalation: null };
  const notes: string[] = [];
  for (const rule of rules) {
    const miss = mismatch(rule.match ?? {}, input.alert, rule.params?.territoryField ?? "territory");
    if (miss !== null) {
      notes.push(`"${rule.name}" did not match (${miss})`);
      continue;
    }
    const result = pick(rule, input);
    if (result.winner) {
      const { winner, qualified, considered, tieBreak } = result;
      const who = winner.agent.name ? `${winner.agent.name} (${winner.agent.id})` : winner.agent.id;
      const skipped = notes.length > 0 ? ` Before it: ${notes.join("; ")}.` : "";
      return {
        agentId: winner.agent.id,
        rule: ruleRef(rule),
        reason: `Rule "${rule.name}" (${rule.strategy}): ${qualified} of ${considered} agents qualified; chose ${who}: ${tieBreak}.${skipped}`,
        escalation: rule.escalation ?? null,
      };
    }
    if (!rule.fallthrough) {
      return {
        agentId: null,
        rule: ruleRef(rule),
        reason: `Rule "${rule.name}" (${rule.strategy}) matched but ${result.why}; it does not fall through, so the alert is queued.`,
        escalation: null,
      };
    }
    notes.push(`"${rule.name}" matched but ${result.why}`);
  }
  return { agentId: null, rule: null, reason: `No rule found an agent: ${notes.join("; ")}. Queued.`, escalation: null };
}
