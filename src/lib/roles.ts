import { forbidden } from "../errors";
import type { Claims, Role } from "../types";

/** Whether the actor's role is one of `roles`. */
export function hasRole(actor: Pick<Claims, "role">, ...roles: readonly Role[]): boolean {
  return roles.includes(actor.role);
}

/**
 * Throws 403 `FORBIDDEN` with `message` unless the actor's role is one of
 * `roles`: the role check of a service function. Routes whose role rule is
 * unconditional list `requireRole(...)` (src/lib/router.ts) instead, so it
 * runs before validation.
 */
export function assertRole(actor: Pick<Claims, "role">, roles: readonly [Role, ...Role[]], message: string): void {
  if (!roles.includes(actor.role)) throw forbidden(message);
}
