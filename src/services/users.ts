import { and, eq, inArray, isNull, or, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { z } from "zod";
import type { Db } from "../db/client";
import { chunkJsonRows } from "../db/limits";
import type { Page } from "../db/pagination";
import { users, type UserRow } from "../db/schema";
import { AppError, badRequest, ErrorCode, forbidden, notFound } from "../errors";
import { fromBase64Url, toBase64Url } from "../lib/base64url";
import { assertRole } from "../lib/roles";
import type { Availability } from "../protocol";
import type { ListUsersInput, UpsertUserInput, User } from "../schemas/users";
import type { Claims } from "../types";

/** API shape of a directory entry. */
export function toUser(row: UserRow): User {
  return {
    id: row.id,
    organizationId: row.orgId,
    email: row.email,
    name: row.name,
    phone: row.phone,
    role: row.role,
    departments: row.departments,
    territories: row.territories,
    skills: row.skills,
    capacity: row.capacity,
    availability: row.availability,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    lastSeenAt: row.lastSeenAt?.toISOString() ?? null,
  };
}

/**
 * Claims already written by this isolate, so a busy user costs one D1 write
 * per isolate, not one per request. Bounded: the oldest entry goes first.
 */
const seenClaims = new Map<string, string>();
const SEEN_CLAIMS_MAX = 10_000;

/** A new directory row for the person behind `claims`, seen at `now`. */
function userFromClaims(claims: Claims, now: Date) {
  return {
    orgId: claims.org,
    id: claims.sub,
    email: claims.email ?? null,
    name: claims.name ?? null,
    role: claims.role,
    createdAt: now,
    updatedAt: now,
    lastSeenAt: now,
  };
}

/** What a verified token says about its holder: what the directory records of them (recordSeenUsers). */
export interface SeenUser {
  orgId: string;
  id: string;
  role: Claims["role"];
  email?: string;
  name?: string;
}

/** The part of a token's claims the directory records, as one string: a holder whose fingerprint is unchanged needs no write. */
export function seenFingerprint(seen: Pick<SeenUser, "role" | "email" | "name">): string {
  return `${seen.role}\u0000${seen.email ?? ""}\u0000${seen.name ?? ""}`;
}

/**
 * Upserts the directory rows of people seen with a verified token, any
 * number in one statement per ~512 KB (the rows travel as one JSON
 * parameter: D1's 100-parameter limit never applies). A new person gets a row
 * (role, email and name from the claims, defaults elsewhere); a known one
 * gets the claims' role, the email and name the claims carry (an absent
 * claim keeps the stored value) and `last_seen_at`. Fields only an admin sets
 * (phone, departments, the agent profile) are never touched.
 */
export async function recordSeenUsers(d1: D1Database, seen: readonly SeenUser[], now = Date.now()): Promise<void> {
  if (seen.length === 0) return;
  const rows = seen.map((u) => JSON.stringify({ org: u.orgId, id: u.id, role: u.role, email: u.email ?? null, name: u.name ?? null }));
  const upsert = d1.prepare(
    `INSERT INTO users (org_id, id, email, name, role, created_at, updated_at, last_seen_at)
     SELECT value ->> 'org', value ->> 'id', value ->> 'email', value ->> 'name', value ->> 'role', ?2, ?2, ?2
     FROM json_each(?1) WHERE true ORDER BY key
     ON CONFLICT (org_id, id) DO UPDATE SET
       role = excluded.role,
       email = coalesce(excluded.email, users.email),
       name = coalesce(excluded.name, users.name),
       updated_at = excluded.updated_at,
       last_seen_at = excluded.last_seen_at`,
  );
  await d1.batch(chunkJsonRows(rows).map((part) => upsert.bind(`[${part.join(",")}]`, now)));
}

/**
 * Records the user behind a verified token in the directory (lazy upsert), so
 * notifications can reach people who never had a profile PUT for them.
 * Claims fill email/name/role; fields only an admin sets (phone, departments)
 * are never touched. Service tokens are machines, not recipients, and are
 * skipped. Sockets are recorded by the org hub instead (OrgHub, `SeenClaims`).
 */
export async function recordUserFromClaims(d1: D1Database, claims: Claims, now = new Date()): Promise<void> {
  if (claims.role === "service") return;
  const cacheKey = `${claims.org}\u0000${claims.sub}`;
  const fingerprint = seenFingerprint(claims);
  if (seenClaims.get(cacheKey) === fingerprint) return;

  await recordSeenUsers(d1, [{ orgId: claims.org, id: claims.sub, role: claims.role, email: claims.email, name: claims.name }], now.getTime());

  if (seenClaims.size >= SEEN_CLAIMS_MAX) seenClaims.delete(seenClaims.keys().next().value!);
  seenClaims.delete(cacheKey);
  seenClaims.set(cacheKey, fingerprint);
}

/** Drops the isolate's memory of written claims (tests that inspect the directory use it). */
export function forgetSeenClaims(): void {
  seenClaims.clear();
}

/** Creates or updates a recipient profile. Returns the row and whether it was created. */
export async function upsertUser(
  db: Db,
  actor: Claims,
  id: string,
  input: UpsertUserInput,
  now = new Date(),
): Promise<{ user: User; created: boolean }> {
  assertRole(actor, ["admin", "service"], "Only admins and services manage the directory");
  const existing = await db.query.users.findFirst({ where: and(eq(users.orgId, actor.org), eq(users.id, id)) });
  const patch = {
    ...(input.email !== undefined && { email: input.email }),
    ...(input.name !== undefined && { name: input.name }),
    ...(input.phone !== undefined && { phone: input.phone }),
    ...(input.role !== undefined && { role: input.role }),
    ...(input.departments !== undefined && { departments: input.departments }),
    ...(input.territories !== undefined && { territories: input.territories }),
    ...(input.skills !== undefined && { skills: input.skills }),
    ...(input.capacity !== undefined && { capacity: input.capacity }),
    ...(input.availability !== undefined && { availability: input.availability }),
  };
  const [row] = await db
    .insert(users)
    .values({ orgId: actor.org, id, role: "member", departments: [], ...patch, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({ target: [users.orgId, users.id], set: { ...patch, updatedAt: now } })
    .returning();
  if (!row) throw new AppError(500, ErrorCode.INTERNAL, "Upsert returned no row");
  return { user: toUser(row), created: !existing };
}

/** Reads a profile. Members may read only their own; others any in their org. */
export async function getUser(db: Db, actor: Claims, id: string): Promise<User> {
  if (actor.role === "member" && actor.sub !== id) throw forbidden("Members may read only their own profile");
  const row = await db.query.users.findFirst({ where: and(eq(users.orgId, actor.org), eq(users.id, id)) });
  if (!row) throw notFound(ErrorCode.USER_NOT_FOUND, `No user ${id} in your organization`);
  return toUser(row);
}

/** The directory row of a user of the org, or undefined. */
export async function findUser(db: Db, orgId: string, id: string): Promise<UserRow | undefined> {
  return db.query.users.findFirst({ where: and(eq(users.orgId, orgId), eq(users.id, id)) });
}

/** Position after the last user of a directory page: its name (null for unnamed users, who come last) and id. */
const UserCursorSchema = z.object({ n: z.string().max(200).nullable(), i: z.string().min(1).max(128) });
type UserCursor = z.infer<typeof UserCursorSchema>;

const encodeUserCursor = (c: UserCursor) => toBase64Url(JSON.stringify(c));

function decodeUserCursor(raw: string): UserCursor {
  try {
    return UserCursorSchema.parse(JSON.parse(fromBase64Url(raw)));
  } catch {
    throw badRequest(ErrorCode.INVALID_CURSOR, "cursor is not a nextCursor this API returned");
  }
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (ch) => `\\${ch}`);
const byName = sql`${users.name} COLLATE NOCASE`;

/**
 * The org's directory (admin, service), one page at a time, ordered by name
 * case-insensitively, then id; users without a name come last, by id. `q`
 * matches text in the id, name or email (case-insensitive); `role` keeps the
 * listed roles. Keyset pagination over (name IS NULL, name, id), so a page is
 * stable while users are added. Every row of the org is a candidate (there is
 * no index on the name): fine for directories of tens of thousands.
 */
export async function listUsers(db: Db, actor: Claims, query: ListUsersInput): Promise<Page<User>> {
  assertRole(actor, ["admin", "service"], "Only admins and services list the directory");
  const conditions: (SQL | undefined)[] = [eq(users.orgId, actor.org)];
  if (query.role) conditions.push(inArray(users.role, query.role));
  if (query.q) {
    const pattern = `%${escapeLike(query.q)}%`;
    const match = (column: SQLiteColumn) => sql`${column} LIKE ${pattern} ESCAPE '\\'`;
    conditions.push(or(match(users.id), match(users.name), match(users.email)));
  }
  if (query.cursor) {
    const { n, i } = decodeUserCursor(query.cursor);
    conditions.push(
      n === null
        ? and(isNull(users.name), sql`${users.id} > ${i}`)
        : or(isNull(users.name), sql`${byName} > ${n}`, and(sql`${byName} = ${n}`, sql`${users.id} > ${i}`)),
    );
  }
  const rows = await db
    .select()
    .from(users)
    .where(and(...conditions))
    .orderBy(sql`${users.name} IS NULL`, byName, users.id)
    .limit(query.limit + 1);
  const items = rows.slice(0, query.limit);
  const last = items.at(-1);
  return {
    items: items.map(toUser),
    nextCursor: rows.length > query.limit && last ? encodeUserCursor({ n: last.name, i: last.id }) : null,
  };
}

/**
 * Sets the caller's own availability (any person; services are not routed to:
 * 403). Creates the directory row from the token's claims if it is missing.
 */
export async function setMyAvailability(db: Db, actor: Claims, availability: Availability, now = new Date()): Promise<User> {
  assertRole(actor, ["admin", "agent", "member"], "Services have no availability");
  const [row] = await db
    .insert(users)
    .values({ ...userFromClaims(actor, now), availability })
    .onConflictDoUpdate({ target: [users.orgId, users.id], set: { availability, updatedAt: now } })
    .returning();
  if (!row) throw new AppError(500, ErrorCode.INTERNAL, "Upsert returned no row");
  return toUser(row);
}
