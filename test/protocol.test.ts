import { describe, expect, expectTypeOf, it } from "vitest";
import {
  ClientFrameSchema,
  HERALD_EVENT_NAMES,
  isHeraldFrame,
  maySubscribe,
  OrgClientFrameSchema,
  UserClientFrameSchema,
  type AckFrame,
  type AlertEventData,
  type EventMap,
  type OrgStreamFrame,
  type UnreadCountData,
  type UserStreamFrame,
} from "../src/protocol";

/**
 * The protocol package as a client uses it: per-stream client frames, telling
 * Herald's frames from producers' events, and the types a `switch` narrows.
 */

describe("protocol package", () => {
  it("splits client frames by stream while the hubs still parse every frame of both", () => {
    const subscribe = { type: "subscribe", ref: "s1", channels: ["kpi"] };
    const markRead = { type: "mark:read", ref: "m1", notificationId: "ntf_1" };
    expect(OrgClientFrameSchema.safeParse(subscribe).success).toBe(true);
    expect(UserClientFrameSchema.safeParse(subscribe).success).toBe(false);
    expect(UserClientFrameSchema.safeParse(markRead).success).toBe(true);
    expect(OrgClientFrameSchema.safeParse(markRead).success).toBe(false);
    for (const frame of [subscribe, markRead, { type: "ping" }, { type: "resume", since: 3 }, { type: "mark:all:read", ref: "a" }]) {
      expect(ClientFrameSchema.safeParse(frame).success, JSON.stringify(frame)).toBe(true);
    }
  });

  it("tells Herald's frames from producers' events by name", () => {
    for (const type of [...HERALD_EVENT_NAMES, "connected", "ack", "error", "pong", "resync-required"]) expect(isHeraldFrame({ type })).toBe(true);
    expect(isHeraldFrame({ type: "deal:won" })).toBe(false);
    expect(isHeraldFrame({ type: "alerts:digest" })).toBe(false);
  });

  it("keeps alerts and presence to admins and services", () => {
    expect(maySubscribe("admin", "alerts")).toBe(true);
    expect(maySubscribe("service", "presence")).toBe(true);
    expect(maySubscribe("agent", "alerts")).toBe(false);
    expect(maySubscribe("member", "presence")).toBe(false);
    expect(maySubscribe("member", "kpi")).toBe(true);
  });

  it("narrows a received frame by its type", () => {
    const onUser = (frame: UserStreamFrame) => {
      if (!isHeraldFrame(frame)) return expectTypeOf(frame.data).toBeUnknown();
      switch (frame.type) {
        case "alert:new":
          return expectTypeOf(frame.data).toEqualTypeOf<AlertEventData>();
        case "unread:count":
          return expectTypeOf(frame.data).toEqualTypeOf<UnreadCountData>();
        case "ack":
          return expectTypeOf(frame.notificationId).toEqualTypeOf<string | undefined>();
        case "error":
          return expectTypeOf(frame.code).not.toEqualTypeOf<"SUBSCRIPTION_LIMIT">();
      }
    };
    const onOrg = (frame: OrgStreamFrame) => {
      if (isHeraldFrame(frame) && frame.type === "presence:online") expectTypeOf(frame.data.userId).toBeString();
      if (isHeraldFrame(frame) && frame.type === "stats:updated") expectTypeOf(frame.channel).toBeString();
    };
    expectTypeOf<EventMap["alert:updated"]>().toEqualTypeOf<AlertEventData>();
    expectTypeOf<AckFrame["subscriptions"]>().toEqualTypeOf<{ channel: string; scope: { dept?: string; queue?: string } }[] | undefined>();
    expect([onUser, onOrg]).toHaveLength(2);
  });
});
