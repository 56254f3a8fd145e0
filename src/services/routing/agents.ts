import { and, asc, count, eq, gt, inArray, isNotNull } from "drizzle-orm";
import type { Config } from "../../config";
import type { Db } from "../../db/client";
import { idList } from "../../db/sql";
import { alerts, users } from "../../db/schema";
import { badRequest, ErrorCode } from "../../errors";
import { fromBase64Url, toBase64Url } from "../../lib/base64url";
import { assertRole } from "../../lib/roles";
import type { AlertStatus, PresenceInfo } from "../../protocol";
import type { RoutingAgent, RoutingAgentsInput } from "../../schemas/routing";
import type { Claims } from "../../types";

/** Statuses that count toward an agent's open load (docs/ROUTING.md). */
export const OPEN_LOAD_STATUSES: readonly AlertStatus[] = ["PENDING", "ACKNOWLEDGED", "IN_PROGRESS"];

/** Where `GET /api/v1/routing/agents` reads presence: the org hub's `presence()` RPC. */
export interface PresenceSource {
  presence(): Promise<PresenceInfo[]>;
}

const encodeCursor = (id: string) => toBase64Url(JSON.stringify({ i: id }));

function decodeCursor(raw: string): string {
  try {
    const parsed: unknown = JSON.parse(fromBase64Url(raw));
    const id = (parsed as { i?: unknown }).i;
    if (typeof id === "string" && id.length > 0 && id.length <= 128) return id;
  } catch {
    // falls through to the error below
  }
  throw badRequest(ErrorCode.INVALID_CURSOR, "cursor is not a nextCursor this API returned");
}

/**
 * The org's routable agents (directory entries with role agent or admin), by
 * id, a page at a time, each with their profile, effective capacity, open load
 * and presence (admin, service). The open load is read from D1, the truth (one
 * GROUP BY over the page's agents, the ids bound as one JSON parameter): the
 * org hub's own counters only guard concurrent routing decisions. Online comes
 * from the org hub's presence registry (one RPC per page); when the hub
 * cannot be reached the page still answers, with `online: null` (unknown)
 * for every agent.
 */
export async function listRoutingAgents(
  db: Db,
  config: Config,
  hub: PresenceSource,
  actor: Claims,
  query: RoutingAgentsInput,
): Promise<{ items: RoutingAgent[]; nextCursor: string | null }> {
  assertRole(actor, ["admin", "service"], "Only admins and services list routing agents");
  const conditions = [eq(users.orgId, actor.org), inArray(users.role, ["agent", "admin"])];
  if (query.cursor) conditions.push(gt(users.id, decodeCursor(query.cursor)));
  const rows = await db
    .select()
    .from(users)
    .where(and(...conditions))
    .orderBy(asc(users.id))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  const ids = page.map((r) => r.id);
  const [loads, presence] = await Promise.all([
    ids.length === 0
      ? Promise.resolve([])
      : db
          .select({ agentId: alerts.assigneeId, n: count() })
          .from(alerts)
          .where(
            and(
              eq(alerts.orgId, actor.org),
              isNotNull(alerts.assigneeId),
              inArray(alerts.assigneeId, idList(ids)),
              inArray(alerts.status, [...OPEN_LOAD_STATUSES]),
            ),
          )
          .groupBy(alerts.assigneeId),
    ids.length === 0
      ? Promise.resolve([])
      : hub.presence().catch((err: unknown) => {
          // The listing still answers: profiles and loads are D1's; presence is unknown (online null).
          console.error(`herald: routing agents of org ${actor.org}: the org hub's presence could not be read:`, err);
          return null;
        }),
  ]);
  const loadOf = new Map(loads.map((l) => [l.agentId!, l.n]));
  const onlineOf = presence && new Map(presence.map((p) => [p.userId, p.online]));
  const items = page.map(
    (r): RoutingAgent => ({
      id: r.id,
      name: r.name,
      email: r.email,
      role: r.role,
      territories: r.territories,
      skills: r.skills,
      capacity: r.capacity,
      effectiveCapacity: r.capacity ?? config.routing.defaultCapacity,
      availability: r.availability,
      online: onlineOf ? (onlineOf.get(r.id) ?? false) : null,
      openLoad: loadOf.get(r.id) ?? 0,
      lastSeenAt: r.lastSeenAt?.toISOString() ?? null,
    }),
  );
  const last = page.at(-1);
  return { items, nextCursor: rows.length > query.limit && last ? encodeCursor(last.id) : null };
}
