/**
 * Herald's realtime wire protocol: every frame on /api/v1/ws and
 * /api/v1/ws/org, every event name with its data, the payload shapes, scopes,
 * close codes and the enums they use, as zod schemas and TypeScript types.
 * The hubs, the services, the routes that publish, the tests and the client
 * SDK import this package; nothing restates a frame or event name elsewhere.
 * It imports nothing but zod and type-checks for a browser (its own
 * tsconfig: DOM libs, no Workers types). docs/PROTOCOL.md documents it with
 * an example of each frame.
 */

export const PROTOCOL_VERSION = 1;

/** The exact ping/pong texts of the hibernation auto-response (a ping never wakes a hub). */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

export * from "./enums";
export * from "./names";
export * from "./scopes";
export * from "./alerts";
export * from "./lifecycle";
export * from "./notifications";
export * from "./realtime";
export * from "./routing";
export * from "./events";
export * from "./server-frames";
export * from "./client-frames";
export * from "./close-codes";
