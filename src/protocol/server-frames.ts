import type { Stream } from "./enums";
import type { OrgEventMap, OrgEventName, StateMap, StateName, UserEventMap, UserEventName } from "./events";
import { CONTROL_TYPES, HERALD_EVENT_NAMES } from "./names";
import type { Scope, Subscription } from "./scopes";

/**
 * Every frame the server sends, as TypeScript types: per stream a
 * discriminated union of Herald's own frames (`UserServerFrame`,
 * `OrgServerFrame`) that `switch (frame.type)` narrows, plus the events
 * producers publish (`EventFrame`), whose names are theirs. The hubs check
 * what they send against these with `satisfies`.
 */

/**
 * An event as delivered: `seq` is the stream's sequence number (per hub, +1
 * per event); org-stream events name their channel and scope. Any event,
 * Herald's or a producer's (`data` is whatever `T` says); for Herald's own,
 * `UserEventFrame` / `OrgEventFrame` type the data by name.
 */
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

/** One of Herald's events on the user stream, by name (all of them by default). */
export type UserEventFrame<K extends UserEventName = UserEventName> = {
  [N in K]: { type: N; id: string; stream: "user"; seq: number; ts: string; data: UserEventMap[N] };
}[K];

/** One of Herald's events on the org stream, by name (all of them by default): always with its channel and scope. */
export type OrgEventFrame<K extends OrgEventName = OrgEventName> = {
  [N in K]: { type: N; id: string; stream: "org"; seq: number; ts: string; channel: string; scope: Scope; data: OrgEventMap[N] };
}[K];

/**
 * A state frame: the current value of something (the unread badge), not an
 * event. It has no `id`/`seq`, is never logged or replayed, and is sent again
 * after every (re)connect, so a client just keeps the latest. Only the user
 * stream has one today (`unread:count`).
 */
export interface StateFrame<T = StateMap[StateName]> {
  type: StateName;
  stream: "user";
  ts: string;
  data: T;
}

/** The `unread:count` badge. */
export type UnreadCountFrame = StateFrame<StateMap["unread:count"]>;

/** Sent once per socket after any replay: the client is live from here. */
export interface ConnectedFrame<S extends Stream = Stream> {
  type: "connected";
  connectionId: string;
  userId: string;
  organizationId: string;
  stream: S;
  /** The stream's head: the seq of its latest event (0 when none). */
  seq: number;
  /** True when the connect or resume asked for `since` and every missed event was replayed. */
  resumed: boolean;
  /** How many events were replayed before this frame. */
  replayed: number;
  /** Channels this socket starts subscribed to (org stream; empty on the user stream). */
  subscriptions: Subscription[];
  serverTime: string;
  protocol: number;
}

// Each ack names the other acks' fields as never, so a client can read any of them off an `AckFrame` (undefined when absent).

/** The answer to `resume` (with a ref), after the replayed events. */
export interface ResumeAck {
  type: "ack";
  ref: string;
  resumed: boolean;
  replayed: number;
  /** The stream's head. */
  seq: number;
  subscriptions?: never;
  notificationId?: never;
  readAt?: never;
  updated?: never;
}

/** The answer to `subscribe` and `unsubscribe` (org stream): every subscription the socket now has. */
export interface SubscriptionsAck {
  type: "ack";
  ref: string;
  subscriptions: Subscription[];
  resumed?: never;
  replayed?: never;
  seq?: never;
  notificationId?: never;
  readAt?: never;
  updated?: never;
}

/** The answer to `mark:read` (user stream). */
export interface MarkReadAck {
  type: "ack";
  ref: string;
  notificationId: string;
  readAt: string | null;
  resumed?: never;
  replayed?: never;
  seq?: never;
  subscriptions?: never;
  updated?: never;
}

/** The answer to `mark:all:read` (user stream): how many notifications it marked read. */
export interface MarkAllReadAck {
  type: "ack";
  ref: string;
  updated: number;
  resumed?: never;
  replayed?: never;
  seq?: never;
  subscriptions?: never;
  notificationId?: never;
  readAt?: never;
}

/** The acks of the user stream. */
export type UserAckFrame = ResumeAck | MarkReadAck | MarkAllReadAck;
/** The acks of the org stream. */
export type OrgAckFrame = ResumeAck | SubscriptionsAck;
/** The answer to a client frame that carried a `ref`. */
export type AckFrame = UserAckFrame | OrgAckFrame;

/** Error codes sent in `error` frames. */
export const SocketErrorCode = {
  INVALID_MESSAGE: "INVALID_MESSAGE",
  MESSAGE_TOO_LARGE: "MESSAGE_TOO_LARGE",
  RATE_LIMIT_EXCEEDED: "RATE_LIMIT_EXCEEDED",
  UNAUTHORIZED: "UNAUTHORIZED",
  SUBSCRIPTION_LIMIT: "SUBSCRIPTION_LIMIT",
  NOT_FOUND: "NOT_FOUND",
  UNSUPPORTED: "UNSUPPORTED",
  /** The frame could not be applied now (the org is moving between D1 shards for a few seconds); send it again shortly. */
  UNAVAILABLE: "UNAVAILABLE",
  INTERNAL: "INTERNAL",
} as const;
export type SocketErrorCode = (typeof SocketErrorCode)[keyof typeof SocketErrorCode];

/** The error codes a user-stream socket can get (channels are the org stream's). */
export type UserErrorCode = Exclude<SocketErrorCode, "UNAUTHORIZED" | "SUBSCRIPTION_LIMIT">;
/** The error codes an org-stream socket can get (notifications are the user stream's). */
export type OrgErrorCode = Exclude<SocketErrorCode, "NOT_FOUND">;

/** A refused or failed client frame (docs/PROTOCOL.md, "error"); `ref` echoes the frame's. */
export interface ErrorFrame<C extends SocketErrorCode = SocketErrorCode> {
  type: "error";
  ref?: string;
  code: C;
  message: string;
}

/** Sent instead of a replay when the missed range is no longer kept, or `since` is beyond the head. */
export interface ResyncRequiredFrame {
  type: "resync-required";
  /** `expired`: the missed events are older than the replay window; `ahead`: `since` is beyond the head. */
  reason: "expired" | "ahead";
  /** The stream's head; continue from here after reloading state over REST. */
  seq: number;
  /** The oldest seq the stream can still replay (head + 1 when the log is empty). */
  oldestSeq: number;
}

export interface PongFrame {
  type: "pong";
}

/** Herald's own frames on the user stream: `switch (frame.type)` narrows them. */
export type UserServerFrame =
  | UserEventFrame
  | UnreadCountFrame
  | ConnectedFrame<"user">
  | UserAckFrame
  | ErrorFrame<UserErrorCode>
  | ResyncRequiredFrame
  | PongFrame;

/** Herald's own frames on the org stream: `switch (frame.type)` narrows them. */
export type OrgServerFrame = OrgEventFrame | ConnectedFrame<"org"> | OrgAckFrame | ErrorFrame<OrgErrorCode> | ResyncRequiredFrame | PongFrame;

/** Everything a user-stream socket receives: Herald's frames and producers' events (tell them apart with `isHeraldFrame`). */
export type UserStreamFrame = UserServerFrame | EventFrame;
/** Everything an org-stream socket receives: Herald's frames and producers' events (tell them apart with `isHeraldFrame`). */
export type OrgStreamFrame = OrgServerFrame | EventFrame;
/** Any frame of either stream. */
export type ServerFrame = UserStreamFrame | OrgStreamFrame;

const HERALD_FRAME_TYPES: ReadonlySet<string> = new Set([...CONTROL_TYPES, ...HERALD_EVENT_NAMES]);

/**
 * Whether a received frame is one of Herald's own (a control frame, one of its
 * events or the badge) rather than a producer's event. Producers may not use
 * Herald's names (`isReservedEventName`), so the name decides; after this
 * check `switch (frame.type)` narrows to the frame's exact shape.
 */
export function isHeraldFrame<F extends { type: string }>(frame: F): frame is Extract<F, UserServerFrame | OrgServerFrame> {
  return HERALD_FRAME_TYPES.has(frame.type);
}
