import type { AlertEventData, AlertStats } from "./alerts";
import type {
  NotificationAllData,
  NotificationChangeData,
  NotificationDeletedData,
  NotificationNewData,
  UnreadCountData,
} from "./notifications";
import type { HeraldEvent, NotificationEvent } from "./names";
import type { PresenceEventData } from "./realtime";

/** Herald's alert events, on the user streams of the people concerned and on the org `alerts` channel. */
export interface AlertEventMap {
  "alert:new": AlertEventData;
  "alert:updated": AlertEventData;
  "alert:assigned": AlertEventData;
  "alert:converted": AlertEventData;
  /** An alert nobody acknowledged within its rule's SLA went to the next agent (or found nobody: `assignment.agentId` null). */
  "alert:escalated": AlertEventData;
}

/** The inbox's events, on the user stream (every device of the user). */
export interface NotificationEventMap {
  "notification:new": NotificationNewData;
  "notification:read": NotificationChangeData | NotificationAllData;
  "notification:unread": NotificationChangeData;
  "notification:seen": NotificationAllData;
  "notification:archived": NotificationChangeData;
  "notification:deleted": NotificationDeletedData;
}

/** Events Herald publishes on the org stream besides alerts: `stats` and `presence` channels. */
export interface OrgFeedEventMap {
  "stats:updated": AlertStats;
  "presence:online": PresenceEventData;
  "presence:offline": PresenceEventData;
}

/** Herald's events on the user stream (logged, with id and seq), by name. */
export interface UserEventMap extends AlertEventMap, NotificationEventMap {}
/** Herald's events on the org stream (logged, with id, seq, channel and scope), by name. */
export interface OrgEventMap extends AlertEventMap, OrgFeedEventMap {}
/** State frames (no id or seq, never replayed; keep the latest), by name. */
export interface StateMap {
  "unread:count": UnreadCountData;
}

/**
 * Everything Herald itself publishes, by name, with its data: what a client's
 * `on("alert:new", ({ alert }) => …)` is typed with. Producers' own events
 * (`POST /api/v1/realtime/broadcast`) are not in it: their data is theirs.
 */
export interface EventMap extends UserEventMap, OrgEventMap, StateMap {}

export type UserEventName = keyof UserEventMap;
export type OrgEventName = keyof OrgEventMap;
export type StateName = keyof StateMap;
export type EventName = keyof EventMap;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// The map and the name constants (names.ts) cannot drift apart: this fails to type-check if they do.
true satisfies Same<EventName, HeraldEvent | NotificationEvent>;
