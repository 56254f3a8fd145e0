import type { RoutingRuleRow } from "../../db/schema";
import { orgHub } from "../../outbox";
import type { Reservation } from "../../realtime/router";
import type { AgentCandidate, RoutableAlert, RoutingDecision } from "../../routing/decide";

/** What the org hub's `route` RPC takes. */
export interface RouteRequest {
  alert: RoutableAlert;
  rules: RoutingRuleRow[];
  agents: AgentCandidate[];
  /** Reserve the alert for the chosen agent (a real assignment), or only decide (preview). */
  reserve: boolean;
  exclude?: string[];
  /**
   * When the assignment takes effect (ms): the create's or reassignment's own
   * time, the alert's `assignedAt`. The escalation's first due time is this +
   * SLA, so the hub's later clock (the request's duration) does not shift it.
   * Defaults to the hub's clock.
   */
  assignedAt?: number;
}

/** The hub's decision; with `reserve`, the reservation it made (to give back with `release` if the write does not happen). */
export type RoutedDecision = RoutingDecision & { reservation?: Reservation };

/** How services reach the org hub's routing (docs/ROUTING.md): decide, reserve, give a reservation back. */
export interface RoutingPort {
  route(orgId: string, request: RouteRequest): Promise<RoutedDecision>;
  /**
   * Gives back a reservation whose write did not happen (a lost idempotent
   * race, a reassignment that lost its race, a failed write) and the
   * escalation it scheduled; with the `reservation` the route returned, the
   * loads and the rule's rotation return to what they were at once.
   */
  release(orgId: string, alertId: string, reservation?: Reservation): Promise<void>;
}

/** The routing port over this env's org hubs. */
export function routingPort(env: Env): RoutingPort {
  return {
    route: (orgId, request) => orgHub(env, orgId).route(request),
    release: (orgId, alertId, reservation) => orgHub(env, orgId).releaseRoute(alertId, reservation),
  };
}
