import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { users, type UserRow } from "../db/schema";
import { AppError, ErrorCode, forbidden, notFound } from "../errors";
import { assertRole } from "../lib/roles";
import type { UpsertUserInput, User } from "../schemas/users";
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

/**
 * Records the user behind a verified token in the directory (lazy upsert), so
 * notifications can reach people who never had a profile PUT for them.
 * Claims fill email/name/role; fields only an admin sets (phone, departments)
 * are never touched. Service tokens are machines, not recipients, and are skipped.
 */
export async function recordUserFromClaims(db: Db, claims: Claims, now = new Date()): Promise<void> {
  if (claims.role === "service") return;
  const cacheKey = `${claims.org}\u0000${claims.sub}`;
  const fingerprint = `${claims.role}\u0000${claims.email ?? ""}\u0000${claims.name ?? ""}`;
  if (seenClaims.get(cacheKey) === fingerprint) return;

  await db
    .insert(users)
    .values({
      orgId: claims.org,
      id: claims.sub,
      email: claims.email ?? null,
      name: claims.name ?? null,
      role: claims.role,
      createdAt: now,
      updatedAt: now,
      lastSeenAt: now,
    })
    .onConflictDoUpdate({
      target: [users.orgId, users.id],
      set: {
        role: claims.role,
        email: claims.email !== undefined ? claims.email : sql`${users.email}`,
        name: claims.name !== undefined ? claims.name : sql`${users.name}`,
        lastSeenAt: now,
        updatedAt: now,
      },
    });

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
