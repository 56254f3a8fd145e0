import { z } from "zod";

/**
 * Herald's realtime wire protocol: every frame on /api/v1/ws and
 * /api/v1/ws/org, as zod schemas and TypeScript types. The hubs, the routes
 * that publish, the client SDK and the tests import this module; nothing
 * restates a frame or event name elsewhere. docs/PROTOCOL.md documents it with
 * an example of each frame.
 */

export const PROTOCOL_VERSION = 1;

/** Which stream a socket (and an event) belongs to. */
export const StreamSchema = z.enum(["user", "org"]);
export type Stream = z.infer<typeof StreamSchema>;

/** Event names: `noun:verb` style, lowercase, at most 64 characters. */
export const EVENT_NAME_PATTERN = /^[a-z][a-z0-9_-]*(:[a-z0-9_-]+)*$/;

/** Server control frame types; refused as event names. */
export const CONTROL_TYPES = ["connected", "ack", "error", "pong", "resync-required"] as const;
/** Client frame types; refused as event names. */
export const CLIENT_TYPES = ["subscribe", "unsubscribe", "ping", "resume", "mark:read", "mark:all:read"] as const;
/** Every name an event may not take, because the protocol uses it. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([...CONTROL_TYPES, ...CLIENT_TYPES, "event", "message", "close", "open"]);

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

/** Events Herald itself publishes. Producers may broadcast none of them, nor any name in their namespaces (`isReservedEventName`). */
export const Events = {
  alertNew: "alert:new",
  alertUpdated: "alert:updated",
  alertAssigned: "alert:assigned",
  alertConverted: "alert:converted",
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

/** Org channels with a fixed meaning; any other valid channel name is free (kpi, backlog, …). */
export const Channels = { alerts: "alerts", stats: "stats", presence: "presence", system: "system" } as const;
/** Channels agents and members may not subscribe to (they get their own alerts on the user stream). */
export const PRIVILEGED_CHANNELS: ReadonlySet<string> = new Set([Channels.alerts, Channels.presence]);

export const ChannelNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z][a-z0-9_-]*$/, "Channel names are lowercase letters, digits, - and _");

const ScopePart = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/);

/** Where in the org an event or subscription applies: the org, a department, or one queue of it. */
export const ScopeSchema = z
  .object({ dept: ScopePart.optional(), queue: ScopePart.optional() })
  .strict()
  .refine((s) => s.queue === undefined || s.dept !== undefined, { message: "A queue scope needs its dept", path: ["queue"] });
export type Scope = z.infer<typeof ScopeSchema>;

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

// ───────────────────────────── server → client ─────────────────────────────

/** An event as delivered: `seq` is the stream's sequence number (per hub, +1 per event). */
export interface EventFrame<T = unknown> {
  type: string;
  id: string;
  stream: Stream;
  seq: number;
  ts: string;
  channel?: string;
  scope?: Scope;
  data: T;
}

export interface ConnectedFrame {
  type: "connected";
  connectionId: string;
  userId: string;
  organizationId: string;
  stream: Stream;
  /** The stream's head: the seq of its latest event (0 when none). */
  seq: number;
  /** True when the connect or resume asked for `since` and every missed event was replayed. */
  resumed: boolean;
  /** How many events were replayed before this frame. */
  replayed: number;
  /** Channels this socket starts subscribed to (org stream). */
  subscriptions: { channel: string; scope: Scope }[];
  serverTime: string;
  protocol: number;
}

export interface AckFrame {
  type: "ack";
  ref: string;
  [key: string]: unknown;
}

/** Error codes sent in `error` frames. */
export const SocketErrorCode = {
  INVALID_MESSAGE: "INVALID_MESSAGE",
  MESSAGE_TOO_LARGE: "MESSAGE_TOO_LARGE",
  RATE_LIMIT_EXCEEDED: "RATE_LIMIT_EXCEEDED",
  UNAUTHORIZED: "UNAUTHORIZED",
  SUBSCRIPTION_LIMIT: "SUBSCRIPTION_LIMIT",
  NOT_FOUND: "NOT_FOUND",
  UNSUPPORTED: "UNSUPPORTED",
  INTERNAL: "INTERNAL",
} as const;
export type SocketErrorCode = (typeof SocketErrorCode)[keyof typeof SocketErrorCode];

export interface ErrorFrame {
  type: "error";
  ref?: string;
  code: SocketErrorCode;
  message: string;
}

export interface ResyncRequiredFrame {
  type: "resync-required";
  /** `expired`: the missed events are older than the replay window; `ahead`: `since` is beyond the head. */
  reason: "expired" | "ahead";
  /** The stream's head; continue from here after reloading state over REST. */
  seq: number;
  /** The oldest seq the stream can still replay (head + 1 when the log is empty). */
  oldestSeq: number;
}

export type PongFrame = { type: "pong" };

/**
 * A state frame: the current value of something (the unread badge), not an
 * event. It has no `id`/`seq`, is never logged or replayed, and is sent again
 * after every (re)connect, so a client just keeps the latest.
 */
export interface StateFrame<T = unknown> {
  type: string;
  stream: Stream;
  ts: string;
  data: T;
}

/** `unread:count` data. */
export interface UnreadCountData {
  count: number;
  unseen: number;
}

export type ServerFrame = EventFrame | ConnectedFrame | AckFrame | ErrorFrame | ResyncRequiredFrame | PongFrame | StateFrame;

/** The exact ping/pong texts of the hibernation auto-response (a ping never wakes a hub). */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

// ───────────────────────────── client → server ─────────────────────────────

const Ref = z.string().min(1).max(64);

export const ClientFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ping") }).strict(),
  z
    .object({
      type: z.literal("subscribe"),
      ref: Ref,
      channels: z.array(ChannelNameSchema).min(1).max(50),
      scope: ScopeSchema.optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal("unsubscribe"),
      ref: Ref,
      channels: z.array(ChannelNameSchema).min(1).max(50),
      scope: ScopeSchema.optional(),
    })
    .strict(),
  z.object({ type: z.literal("resume"), ref: Ref.optional(), since: z.number().int().min(0) }).strict(),
  z.object({ type: z.literal("mark:read"), ref: Ref, notificationId: z.string().min(1).max(64) }).strict(),
  z.object({ type: z.literal("mark:all:read"), ref: Ref }).strict(),
]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;

/**
 * WebSocket close codes Herald uses (docs/PROTOCOL.md, "Close codes"). A
 * refused upgrade is completed and closed at once with 4000 + the HTTP status
 * the API would have answered (`refusalCloseCode`), so a browser, which never
 * sees the status of a failed upgrade, can still tell why.
 */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  /** An open socket reached its token's expiry. */
  TOKEN_EXPIRED: 4001,
  /** Refused: the request is invalid (`VALIDATION_FAILED`). Fix it; do not retry it unchanged. */
  REFUSED_BAD_REQUEST: 4400,
  /** Refused: no, bad or expired credentials (`AUTH_*`, `TOKEN_EXPIRED`, `TICKET_INVALID`). Get a new ticket or token, then retry. */
  REFUSED_UNAUTHORIZED: 4401,
  /** Refused: not allowed (`ORIGIN_NOT_ALLOWED`, `FORBIDDEN`). Do not retry. */
  REFUSED_FORBIDDEN: 4403,
  /** Refused: too many connections or requests (`CONNECTION_LIMIT`, `RATE_LIMITED`). Retry after `retryAfter` seconds. */
  REFUSED_TOO_MANY: 4429,
} as const;

/** The close code of an upgrade refused with HTTP `status`: 4000 + status (4400–4599). */
export function refusalCloseCode(status: number): number {
  return 4000 + status;
}

/** The reason (JSON text) of a refusal close: the API's error code and message, and `retryAfter` seconds for 4429. */
export interface RefusalReason {
  code: string;
  message: string;
  retryAfter?: number;
}

/** A close reason may hold at most 123 bytes of UTF-8 (RFC 6455 §5.5). */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * The JSON close reason of a refusal, within MAX_CLOSE_REASON_BYTES: `code`
 * and `retryAfter` are always kept whole; `message` is shortened (ending in
 * "…") until the text fits.
 */
export function refusalReason(reason: RefusalReason): string {
  const encoder = new TextEncoder();
  const text = (message: string) => JSON.stringify({ code: reason.code, message, ...(reason.retryAfter !== undefined && { retryAfter: reason.retryAfter }) });
  const full = text(reason.message);
  if (encoder.encode(full).byteLength <= MAX_CLOSE_REASON_BYTES) return full;
  const chars = Array.from(reason.message);
  let lo = 0;
  let hi = chars.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (encoder.encode(text(`${chars.slice(0, mid).join("")}…`)).byteLength <= MAX_CLOSE_REASON_BYTES) lo = mid;
    else hi = mid - 1;
  }
  return text(lo === 0 ? "" : `${chars.slice(0, lo).join("")}…`);
}

// ───────────────────────────── payloads ─────────────────────────────

/** `presence:online` / `presence:offline` data. */
export interface PresenceEventData {
  userId: string;
  online: boolean;
  connections: number;
  lastSeenAt: string;
}
