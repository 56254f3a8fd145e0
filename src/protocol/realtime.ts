import { z } from "zod";
import { StreamSchema } from "./enums";
import { ScopeShapeSchema, SubscriptionSchema } from "./scopes";

/** `presence:online` / `presence:offline` data, sent when a user's first socket opens / last one closes. */
export const PresenceEventDataSchema = z.object({ userId: z.string(), online: z.boolean(), connections: z.number(), lastSeenAt: z.string() });
export type PresenceEventData = z.infer<typeof PresenceEventDataSchema>;

/** Presence of one user in the org (`GET /api/v1/realtime/presence`); `lastSeenAt` is null for a user never seen. */
export const PresenceInfoSchema = PresenceEventDataSchema.extend({ lastSeenAt: z.string().nullable() });
export type PresenceInfo = z.infer<typeof PresenceInfoSchema>;

/** A connection as the admin endpoints list it. */
export const ConnectionInfoSchema = z.object({
  connectionId: z.string(),
  userId: z.string(),
  stream: StreamSchema,
  subscriptions: z.array(SubscriptionSchema),
  connectedAt: z.string(),
  lastActivityAt: z.string(),
});
export type ConnectionInfo = z.infer<typeof ConnectionInfoSchema>;

/** What `GET /api/v1/realtime/stats` returns. */
export const RealtimeStatsSchema = z.object({
  since: z.string(),
  connections: z.object({ user: z.number(), org: z.number(), total: z.number() }),
  onlineUsers: z.number(),
  channels: z.array(z.object({ channel: z.string(), scope: ScopeShapeSchema, subscribers: z.number() })),
  messages: z.array(z.object({ type: z.string(), publishes: z.number(), sent: z.number(), avgLatencyMs: z.number(), maxLatencyMs: z.number() })),
  latency: z.object({ avgMs: z.number().nullable(), maxMs: z.number().nullable() }),
});
export type RealtimeStats = z.infer<typeof RealtimeStatsSchema>;
