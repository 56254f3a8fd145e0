import type { Config } from "../config";
import type { OUTBOUND_CHANNELS } from "../db/schema";
import { emailSender } from "./email";
import { smsSender } from "./sms";
import type { ChannelSender } from "./types";
import { webhookSender } from "./webhook";

/** An outbound channel: what a delivery row's `channel` may be. */
export type OutboundChannel = (typeof OUTBOUND_CHANNELS)[number];

/** The sender of each outbound channel; the queue consumer dispatches on `deliveries.channel`. */
export const channelSenders: Record<OutboundChannel, ChannelSender> = {
  email: emailSender,
  sms: smsSender,
  webhook: webhookSender,
};

/** The provider a channel sends through under this configuration, recorded on each attempt. */
export function providerFor(channel: OutboundChannel, config: Config): string {
  if (channel === "email") return config.delivery.emailProvider;
  if (channel === "sms") return config.delivery.smsProvider;
  return "webhook";
}
