import type { Scope } from "../protocol";
import type { Role } from "../types";

/**
 * What the Worker and the hubs agree on: the verified identity an upgrade
 * carries, and the events and results of a publish. No hub code: routes and
 * the outbox import this without pulling in a Durable Object class.
 */

/** The identity the Worker verified, passed to a hub with the upgrade request. */
export interface ConnectIdentity {
  userId: string;
  orgId: string;
  role: Role;
  /** Token expiry, ms since epoch. */
  exp: number;
  /** The token's email and name claims: the org hub records them in the directory (SeenClaims). */
  email?: string;
  name?: string;
}

/** Header carrying the verified identity from the Worker to a hub (never from a client). */
export const IDENTITY_HEADER = "X-Herald-Identity";

/** Header carrying the Worker's request id to a hub, so a hub's refusal names the request as the Worker's own do. */
export const REQUEST_ID_HEADER = "X-Request-Id";

/** An upgrade the Worker forwarded: its internal URL, the verified identity, `since` if resuming. */
export interface ConnectRequest {
  url: URL;
  identity: ConnectIdentity;
  since: number | undefined;
}

/** The identity header of a forwarded upgrade, or undefined when it is missing or malformed. */
export function readIdentity(request: Request): ConnectIdentity | undefined {
  const raw = request.headers.get(IDENTITY_HEADER);
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as ConnectIdentity;
    if (typeof v.userId === "string" && typeof v.orgId === "string" && typeof v.role === "string" && typeof v.exp === "number") return v;
  } catch {
    // fall through
  }
  return undefined;
}

/** An event handed to a hub to append and fan out. */
export interface HubEvent {
  id: string;
  type: string;
  /** When the publish started (ms): the basis of publish-to-send latency. */
  ts: number;
  data: unknown;
  channel?: string;
  scope?: Scope;
}

/** What a hub reports for one publish. */
export interface PublishResult {
  seq: number;
  /** Sockets the frame was sent to (0 for a duplicate: it was sent the first time). */
  delivered: number;
  duplicate: boolean;
  latencyMs: number;
}
