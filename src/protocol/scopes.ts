import { z } from "zod";
import type { Role } from "./enums";

/** Org channels with a fixed meaning; any other valid channel name is free (kpi, backlog, …). */
export const Channels = { alerts: "alerts", stats: "stats", presence: "presence", system: "system" } as const;
/** Channels agents and members may not subscribe to (they get their own alerts on the user stream). */
export const PRIVILEGED_CHANNELS: ReadonlySet<string> = new Set([Channels.alerts, Channels.presence]);

/** Whether a role may subscribe to a channel: agents and members never get `alerts` or `presence`. */
export function maySubscribe(role: Role, channel: string): boolean {
  if (role === "admin" || role === "service") return true;
  return !PRIVILEGED_CHANNELS.has(channel);
}

export const ChannelNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z][a-z0-9_-]*$/, "Channel names are lowercase letters, digits, - and _");

/**
 * A scope as the server reports it (in frames, stats, connection listings):
 * the shape alone. `ScopeSchema` adds the rules a scope from a client must follow.
 */
export const ScopeShapeSchema = z.object({ dept: z.string().optional(), queue: z.string().optional() });

const ScopePart = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/);

/** Where in the org an event or subscription applies: the org, a department, or one queue of it. */
export const ScopeSchema = ScopeShapeSchema.extend({ dept: ScopePart.optional(), queue: ScopePart.optional() })
  .strict()
  .refine((s) => s.queue === undefined || s.dept !== undefined, { message: "A queue scope needs its dept", path: ["queue"] });
export type Scope = z.infer<typeof ScopeShapeSchema>;

/** A channel subscription of one org socket. */
export const SubscriptionSchema = z.object({ channel: z.string(), scope: ScopeShapeSchema });
export type Subscription = z.infer<typeof SubscriptionSchema>;

/**
 * Whether an event for scope `event` reaches a subscription with scope `sub`:
 * when one contains the other (org ⊇ dept ⊇ queue).
 */
export function scopesOverlap(event: Scope, sub: Scope): boolean {
  if (event.dept === undefined || sub.dept === undefined) return true;
  if (event.dept !== sub.dept) return false;
  if (event.queue === undefined || sub.queue === undefined) return true;
  return event.queue === sub.queue;
}

/** Canonical text of a scope, for maps and tables: "", "sales", "sales/inbound". */
export function scopeKey(scope: Scope): string {
  if (scope.dept === undefined) return "";
  return scope.queue === undefined ? scope.dept : `${scope.dept}/${scope.queue}`;
}
