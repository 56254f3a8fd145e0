import { z } from "zod";
import { ChannelNameSchema, ScopeSchema } from "./scopes";

/**
 * Frames a client sends, per stream. A hub parses every frame with
 * `ClientFrameSchema` (both streams' frames), so a frame of the other stream
 * is answered `UNSUPPORTED` rather than `INVALID_MESSAGE`; a client sends
 * `UserClientFrame`s on /api/v1/ws and `OrgClientFrame`s on /api/v1/ws/org.
 */

const Ref = z.string().min(1).max(64);

/** `{"type":"ping"}`: answered by the runtime's auto-response when sent as exactly this text. */
export const PingFrameSchema = z.object({ type: z.literal("ping") }).strict();
/** A frame that names channels (org stream), optionally in a scope. */
const channelsFrame = <T extends "subscribe" | "unsubscribe">(type: T) =>
  z
    .object({
      type: z.literal(type),
      ref: Ref,
      channels: z.array(ChannelNameSchema).min(1).max(50),
      scope: ScopeSchema.optional(),
    })
    .strict();
/** Subscribe to channels (org stream), optionally in a scope. */
export const SubscribeFrameSchema = channelsFrame("subscribe");
/** Unsubscribe from channels (org stream) in a scope. */
export const UnsubscribeFrameSchema = channelsFrame("unsubscribe");
/** Replay the stream after `since` (both streams); acked only with a `ref`. */
export const ResumeFrameSchema = z.object({ type: z.literal("resume"), ref: Ref.optional(), since: z.number().int().min(0) }).strict();
/** Mark one of the user's notifications read (user stream). */
export const MarkReadFrameSchema = z.object({ type: z.literal("mark:read"), ref: Ref, notificationId: z.string().min(1).max(64) }).strict();
/** Mark every notification of the user read (user stream). */
export const MarkAllReadFrameSchema = z.object({ type: z.literal("mark:all:read"), ref: Ref }).strict();

/** What a client may send on the user stream. */
export const UserClientFrameSchema = z.discriminatedUnion("type", [PingFrameSchema, ResumeFrameSchema, MarkReadFrameSchema, MarkAllReadFrameSchema]);
export type UserClientFrame = z.infer<typeof UserClientFrameSchema>;

/** What a client may send on the org stream. */
export const OrgClientFrameSchema = z.discriminatedUnion("type", [PingFrameSchema, SubscribeFrameSchema, UnsubscribeFrameSchema, ResumeFrameSchema]);
export type OrgClientFrame = z.infer<typeof OrgClientFrameSchema>;

/** Every client frame of either stream: what the hubs parse (see above). */
export const ClientFrameSchema = z.discriminatedUnion("type", [
  PingFrameSchema,
  SubscribeFrameSchema,
  UnsubscribeFrameSchema,
  ResumeFrameSchema,
  MarkReadFrameSchema,
  MarkAllReadFrameSchema,
]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;
