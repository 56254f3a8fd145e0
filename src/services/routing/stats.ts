import { sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { assertRole } from "../../lib/roles";
import type { RoutingStats, RoutingStatsInput } from "../../schemas/routing";
import type { Claims } from "../../types";

/** Default width of the stats window: 30 days before `until`. */
export const ROUTING_STATS_DEFAULT_WINDOW_MS = 30 * 86_400_000;
/** Most agents, and most rules, one stats answer lists (`truncated` says when there were more). */
export const ROUTING_STATS_MAX_ROWS = 1000;

interface AgentRow {
  agent_id: string;
  name: string | null;
  assignments: number;
  routed: number;
  manual: number;
  escalated: number;
  alerts: number;
  acknowledged: number;
  conversions: number;
  median_ms: number | null;
}

interface RuleRow {
  rule_id: string;
  rule_name: string | null;
  assignments: number;
  routed: number;
  manual: number;
  escalated: number;
  queued: number;
}

const byKind = sql.raw(
  `sum(kind = 'routed') AS routed, sum(kind = 'manual') AS manual, sum(kind = 'escalated') AS escalated`,
);

/**
 * The routing leaderboard (admin) over the assignments made in
 * [since, until): per agent, assignments by kind, the distinct alerts they
 * got, how many of those they acknowledged and converted while they held them
 * (held: from their assignment to the alert's next assignment to someone),
 * the median time from assignment to acknowledgement, and the conversion rate
 * (conversions / alerts); per rule, its assignments by kind. Everything is
 * computed in SQL (window functions for the holding spans and the median),
 * over the org's assignments in the window (index on org_id, created_at);
 * each list is cut at ROUTING_STATS_MAX_ROWS. The holding span of the last
 * assignment in the window is open-ended: a later reassignment outside the
 * window is not seen.
 */
export async function routingStats(db: Db, actor: Claims, query: RoutingStatsInput, now = new Date()): Promise<RoutingStats> {
  assertRole(actor, ["admin"], "Only admins read routing statistics");
  const until = query.until ? Date.parse(query.until) : now.getTime();
  const since = query.since ? Date.parse(query.since) : until - ROUTING_STATS_DEFAULT_WINDOW_MS;
  const org = actor.org;
  const inWindow = sql`org_id = ${org} AND created_at >= ${since} AND created_at < ${until}`;

  const agentsQuery = db.all<AgentRow>(sql`
    WITH held AS (
      SELECT s.agent_id, s.kind, s.alert_id, s.created_at, al.acknowledged_at, al.converted_at,
             LEAD(s.created_at) OVER (PARTITION BY s.alert_id ORDER BY s.created_at, s.id) AS next_at
      FROM alert_assignments s JOIN alerts al ON al.id = s.alert_id AND al.org_id = s.org_id
      WHERE s.org_id = ${org} AND s.created_at >= ${since} AND s.created_at < ${until} AND s.agent_id IS NOT NULL
    ),
    marked AS (
      SELECT *,
        (acknowledged_at IS NOT NULL AND acknowledged_at >= created_at AND (next_at IS NULL OR acknowledged_at < next_at)) AS acked,
        (converted_at IS NOT NULL AND converted_at >= created_at AND (next_at IS NULL OR converted_at < next_at)) AS converted
      FROM held
    ),
    ranked AS (
      SELECT agent_id, acknowledged_at - created_at AS ms,
        ROW_NUMBER() OVER (PARTITION BY agent_id ORDER BY acknowledged_at - created_at) AS rn,
        COUNT(*) OVER (PARTITION BY agent_id) AS cnt
      FROM marked WHERE acked
    ),
    medians AS (
      SELECT agent_id, avg(ms) AS median_ms FROM ranked WHERE rn IN ((cnt + 1) / 2, (cnt + 2) / 2) GROUP BY agent_id
    ),
    totals AS (
      SELECT agent_id, count(*) AS assignments, ${byKind},
        count(DISTINCT alert_id) AS alerts,
        count(DISTINCT CASE WHEN acked THEN alert_id END) AS acknowledged,
        count(DISTINCT CASE WHEN converted THEN alert_id END) AS conversions
      FROM marked GROUP BY agent_id
    )
    SELECT t.*, m.median_ms, u.name
    FROM totals t
    LEFT JOIN medians m ON m.agent_id = t.agent_id
    LEFT JOIN users u ON u.org_id = ${org} AND u.id = t.agent_id
    ORDER BY t.conversions DESC, t.acknowledged DESC, t.assignments DESC, t.agent_id
    LIMIT ${ROUTING_STATS_MAX_ROWS + 1}
  `);
  // SQLite returns the bare rule_name of the row holding max(created_at): the rule's latest name.
  const rulesQuery = db.all<RuleRow & { latest: number }>(sql`
    SELECT rule_id, rule_name, max(created_at) AS latest, count(*) AS assignments, ${byKind}, sum(kind = 'queued') AS queued
    FROM alert_assignments
    WHERE ${inWindow} AND rule_id IS NOT NULL
    GROUP BY rule_id
    ORDER BY assignments DESC, rule_id
    LIMIT ${ROUTING_STATS_MAX_ROWS + 1}
  `);
  const kindsQuery = db.all<{ kind: string; n: number }>(sql`
    SELECT kind, count(*) AS n FROM alert_assignments WHERE ${inWindow} GROUP BY kind
  `);
  const [agentRows, ruleRows, kindRows] = await Promise.all([agentsQuery, rulesQuery, kindsQuery]);

  const kinds = { routed: 0, manual: 0, escalated: 0, queued: 0 };
  for (const { kind, n } of kindRows) if (kind in kinds) kinds[kind as keyof typeof kinds] = n;
  return {
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
    assignments: kinds.routed + kinds.manual + kinds.escalated + kinds.queued,
    byKind: kinds,
    agents: agentRows.slice(0, ROUTING_STATS_MAX_ROWS).map((r) => ({
      agentId: r.agent_id,
      name: r.name,
      assignments: r.assignments,
      byKind: { routed: r.routed, manual: r.manual, escalated: r.escalated },
      alerts: r.alerts,
      acknowledged: r.acknowledged,
      medianTimeToAcknowledgeMs: r.median_ms === null ? null : Math.round(r.median_ms),
      conversions: r.conversions,
      conversionRate: r.alerts === 0 ? null : r.conversions / r.alerts,
    })),
    rules: ruleRows.slice(0, ROUTING_STATS_MAX_ROWS).map((r) => ({
      ruleId: r.rule_id,
      name: r.rule_name,
      assignments: r.assignments,
      byKind: { routed: r.routed, manual: r.manual, escalated: r.escalated, queued: r.queued },
    })),
    truncated: agentRows.length > ROUTING_STATS_MAX_ROWS || ruleRows.length > ROUTING_STATS_MAX_ROWS,
  };
}
