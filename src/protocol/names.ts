import { z } from "zod";

/** Event names: `noun:verb` style, lowercase, at most 64 characters. */
export const EVENT_NAME_PATTERN = /^[a-z][a-z0-9_-]*(:[a-z0-9_-]+)*$/;

/** Server control frame types; refused as event names. */
export const CONTROL_TYPES = ["connected", "ack", "error", "pong", "resync-required"] as const;
export type ControlType = (typeof CONTROL_TYPES)[number];
/** Client frame types; refused as event names. */
export const CLIENT_TYPES = ["subscribe", "unsubscribe", "ping", "resume", "mark:read", "mark:all:read"] as const;
/** Every name an event may not take, because the protocol uses it. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([...CONTROL_TYPES, ...CLIENT_TYPES, "event", "message", "close", "open"]);

/** Events Herald itself publishes. Producers may broadcast none of them, nor any name in their namespaces (`isReservedEventName`). */
export const Events = {
  alertNew: "alert:new",
  alertUpdated: "alert:updated",
  alertAssigned: "alert:assigned",
  alertConverted: "alert:converted",
  alertEscalated: "alert:escalated",
  statsUpdated: "stats:updated",
  presenceOnline: "presence:online",
  presenceOffline: "presence:offline",
} as const;
export type HeraldEvent = (typeof Events)[keyof typeof Events];

/** The inbox's events on the user stream (every device of the user), and its badge state frame. */
export const NotificationEvents = {
  new: "notification:new",
  read: "notification:read",
  unread: "notification:unread",
  seen: "notification:seen",
  archived: "notification:archived",
  deleted: "notification:deleted",
  /** A state frame (no id/seq, never replayed): the latest badge, after every change and every (re)connect. */
  unreadCount: "unread:count",
} as const;
export type NotificationEvent = (typeof NotificationEvents)[keyof typeof NotificationEvents];

/** Every event (and state frame) Herald publishes itself, from the constants above. */
export const HERALD_EVENT_NAMES: readonly string[] = [...Object.values(Events), ...Object.values(NotificationEvents)];

/**
 * The namespaces (the part before the first `:`) of Herald's own events and of
 * the client frames: `alert`, `stats`, `presence`, `notification`, `unread`,
 * `mark`. Producers may publish nothing in them, so an event Herald adds to a
 * namespace later is reserved already, and a new namespace as soon as its
 * constant is added above.
 */
export const HERALD_EVENT_NAMESPACES: ReadonlySet<string> = new Set(
  [...HERALD_EVENT_NAMES, ...CLIENT_TYPES].filter((name) => name.includes(":")).map((name) => name.split(":")[0]!),
);

/** Whether producers may not publish `name`: a frame type, or any name in one of Herald's namespaces. */
export function isReservedEventName(name: string): boolean {
  return RESERVED_NAMES.has(name) || HERALD_EVENT_NAMESPACES.has(name.split(":")[0]!);
}

/**
 * The name of an event a producer publishes (`POST /api/v1/realtime/broadcast`):
 * well formed, and not one Herald reserves (`isReservedEventName`), so a
 * broadcast can never pass for an alert, a notification, the badge, presence,
 * statistics or a control frame.
 */
export const EventNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(EVENT_NAME_PATTERN, "Event names are lowercase words separated by ':' (e.g. deal:won)")
  .superRefine((name, ctx) => {
    if (RESERVED_NAMES.has(name)) ctx.addIssue({ code: "custom", message: "This name is reserved by the protocol (a frame type)" });
    else if (isReservedEventName(name)) {
      const ns = name.split(":")[0];
      ctx.addIssue({ code: "custom", message: `Herald publishes ${ns}:* events itself; choose a name in another namespace (e.g. deal:won)` });
    }
  });
