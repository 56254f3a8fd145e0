import { z } from "@hono/zod-openapi";
import {
  ChannelNameSchema,
  ConnectionInfoSchema,
  EventNameSchema,
  PresenceInfoSchema,
  RealtimeStatsSchema as ProtocolRealtimeStatsSchema,
  ScopeSchema,
  ScopeShapeSchema,
  StreamSchema,
} from "../protocol";
import { IdString } from "./common";

const channelList = z
  .string()
  .transform((s) => s.split(",").map((v) => v.trim()).filter(Boolean))
  .pipe(z.array(ChannelNameSchema).max(50));

const sinceParam = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,15})$/, "since is the seq of the last event seen (a non-negative integer)")
  .transform(Number);

/** Query of the upgrade routes. `token`/`ticket` are read by the auth middleware. */
export const UserStreamQuery = z.object({
  since: sinceParam.optional().openapi({ description: "Replay the user stream after this seq before going live" }),
  token: z.string().optional().openapi({ description: "A bearer token, when the client cannot send headers (prefer ticket)" }),
  ticket: z.string().optional().openapi({ description: "A single-use ticket from POST /api/v1/realtime/ticket" }),
});

export const OrgStreamQuery = UserStreamQuery.extend({
  since: sinceParam.optional().openapi({ description: "Replay the org stream after this seq (for the channels below) before going live" }),
  channels: channelList.optional().openapi({ description: "Channels to start subscribed to (comma-separated)" }),
  dept: z.string().min(1).max(64).optional(),
  queue: z.string().min(1).max(64).optional(),
}).superRefine((q, ctx) => {
  const scope = ScopeSchema.safeParse({ ...(q.dept && { dept: q.dept }), ...(q.queue && { queue: q.queue }) });
  if (!scope.success) for (const issue of scope.error.issues) ctx.addIssue({ ...issue, code: "custom", message: issue.message });
});

export const TicketSchema = z
  .object({ ticket: z.string(), expiresAt: z.string(), urls: z.object({ user: z.string(), org: z.string() }) })
  .openapi("WebSocketTicket");

export const BroadcastBody = z
  .object({
    event: EventNameSchema.openapi({
      example: "deal:won",
      description: "Your event's name: lowercase words separated by ':'; not in Herald's own namespaces (alert:, notification:, unread:, presence:, stats:, mark:) nor a frame type (docs/PROTOCOL.md)",
    }),
    data: z.unknown().optional().openapi({ description: "Any JSON, at most MAX_BROADCAST_DATA_BYTES serialized" }),
    target: z
      .object({
        userIds: z
          .array(IdString)
          .min(1)
          .refine((ids) => new Set(ids).size === ids.length, "Ids must be unique")
          .optional(),
        channel: ChannelNameSchema.optional(),
        scope: ScopeSchema.optional(),
      })
      .strict()
      .refine((t) => t.userIds !== undefined || t.channel !== undefined, "Name userIds, a channel, or both")
      .refine((t) => t.scope === undefined || t.channel !== undefined, { message: "A scope needs a channel", path: ["scope"] }),
  })
  .strict()
  .openapi("Broadcast");

export const BroadcastResultSchema = z
  .object({
    id: z.string(),
    event: z.string(),
    reached: z.number().openapi({ description: "Connections the event was sent to (0 on an idempotent replay)" }),
    userSeqs: z.record(z.string(), z.number()),
    orgSeq: z.number().nullable(),
  })
  .openapi("BroadcastResult");

// The shapes are the protocol's (the SDK reads them too); registered here under their OpenAPI names.
export const PresenceSchema = PresenceInfoSchema.openapi("Presence");

export const ConnectionSchema = ConnectionInfoSchema.openapi("Connection");

export const RealtimeStatsSchema = ProtocolRealtimeStatsSchema.openapi("RealtimeStats");

export const EventsQuery = z
  .object({
    since: z.string().min(1).max(64).optional().openapi({ description: "nextCursor of the previous poll" }),
    limit: z.coerce.number().int().min(1).max(100).default(50),
    channels: channelList.optional(),
    dept: z.string().min(1).max(64).optional(),
    queue: z.string().min(1).max(64).optional(),
  })
  .superRefine((q, ctx) => {
    const scope = ScopeSchema.safeParse({ ...(q.dept && { dept: q.dept }), ...(q.queue && { queue: q.queue }) });
    if (!scope.success) for (const issue of scope.error.issues) ctx.addIssue({ ...issue, code: "custom", message: issue.message });
  });

export const PolledEventSchema = z
  .object({
    id: z.string(),
    type: z.string(),
    stream: StreamSchema,
    channel: z.string().optional(),
    scope: ScopeShapeSchema.optional(),
    ts: z.string(),
    data: z.unknown(),
  })
  .openapi("PolledEvent");

export const EventPageSchema = z
  .object({ items: z.array(PolledEventSchema), nextCursor: z.string(), hasMore: z.boolean() })
  .openapi("EventPage");

export const EventAckBody = z
  .object({ ids: z.array(z.string().min(1).max(64)).min(1).max(100) })
  .strict()
  .openapi("EventAck");

export type BroadcastInput = z.infer<typeof BroadcastBody>;
export type BroadcastResult = z.infer<typeof BroadcastResultSchema>;
export type EventsInput = z.infer<typeof EventsQuery>;
export type PolledEvent = z.infer<typeof PolledEventSchema>;
