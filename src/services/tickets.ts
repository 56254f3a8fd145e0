import { and, eq, gt, isNull } from "drizzle-orm";
import type { Db } from "../db/client";
import { wsTickets } from "../db/schema";
import { AppError, ErrorCode } from "../errors";
import { fromBase64Url, toBase64Url } from "../lib/base64url";
import { sha256Hex } from "../lib/json";
import type { Claims } from "../types";

/** A ticket as issued to the client. */
export interface Ticket {
  ticket: string;
  expiresAt: string;
}

const WWW_AUTHENTICATE = { "WWW-Authenticate": 'Bearer realm="herald", error="invalid_token"' };

/**
 * When realtime access granted by a token ends (ms since epoch): the token's
 * `exp` itself. A REST request is checked once, at its arrival, with a clock
 * tolerance (30 s, for clock skew); a ticket or a socket lasts, so it
 * never outlives the token: no ticket is issued, no upgrade accepted, and an
 * open socket is closed (4001) at `exp`. Past it: 401 `TOKEN_EXPIRED`, the
 * code REST answers once the tolerance is spent too.
 */
export function realtimeExpiry(claims: Claims, now = Date.now()): number {
  if (claims.exp === undefined) throw new AppError(401, ErrorCode.AUTH_FAILED, "The token has no exp claim", undefined, WWW_AUTHENTICATE);
  const exp = claims.exp * 1000;
  if (exp <= now) {
    throw new AppError(401, ErrorCode.TOKEN_EXPIRED, "The token has expired; get a new one", undefined, WWW_AUTHENTICATE);
  }
  return exp;
}

/**
 * Issues a single-use ticket for opening a WebSocket without putting the
 * token in a URL (URLs end up in logs). Bound to the caller, valid
 * `ttlSeconds`, and never longer than the token it was issued for: a token at
 * or past its `exp` gets 401 `TOKEN_EXPIRED` (see realtimeExpiry), never a
 * ticket that is born expired. Only its hash is stored.
 */
export async function issueTicket(db: Db, claims: Claims, ttlSeconds: number, now = new Date()): Promise<Ticket> {
  // The org rides in the ticket (not secret to its holder): redeeming it must find the org's shard.
  const ticket = `tkt_${toBase64Url(claims.org)}.${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;
  const tokenExpiresAt = new Date(realtimeExpiry(claims, now.getTime()));
  const expiresAt = new Date(Math.min(now.getTime() + ttlSeconds * 1000, tokenExpiresAt.getTime()));
  await db.insert(wsTickets).values({
    hash: await sha256Hex(ticket),
    orgId: claims.org,
    userId: claims.sub,
    role: claims.role,
    email: claims.email ?? null,
    name: claims.name ?? null,
    tokenExpiresAt,
    expiresAt,
  });
  return { ticket, expiresAt: expiresAt.toISOString() };
}

/** The org a ticket was issued in (see issueTicket), or 401 `TICKET_INVALID` for anything else. */
export function ticketOrg(ticket: string): string {
  const m = /^tkt_([A-Za-z0-9_-]{1,400})\.[A-Za-z0-9_-]{43}$/.exec(ticket);
  if (m) {
    try {
      return fromBase64Url(m[1]!);
    } catch {
      // fall through
    }
  }
  throw invalidTicket();
}

const invalidTicket = () =>
  new AppError(401, ErrorCode.TICKET_INVALID, "The ticket is unknown, expired or already used; request a new one", undefined, WWW_AUTHENTICATE);

/**
 * Redeems a ticket (on its org's shard, see ticketOrg): atomically marks it used and returns the identity it was
 * issued for. Unknown, expired or already used → 401 `TICKET_INVALID`.
 */
export async function redeemTicket(db: Db | null, ticket: string, now = new Date()): Promise<Claims> {
  if (db === null) throw invalidTicket();
  const [row] = await db
    .update(wsTickets)
    .set({ usedAt: now })
    .where(and(eq(wsTickets.hash, await sha256Hex(ticket)), isNull(wsTickets.usedAt), gt(wsTickets.expiresAt, now)))
    .returning();
  if (!row) throw invalidTicket();
  return {
    sub: row.userId,
    org: row.orgId,
    role: row.role,
    ...(row.email !== null && { email: row.email }),
    ...(row.name !== null && { name: row.name }),
    exp: Math.floor(row.tokenExpiresAt.getTime() / 1000),
  };
}
