import { z } from "zod";
import type { Config } from "../config";
import type { DeliveryRow } from "../db/schema";
import { recordInDevOutbox } from "./email";
import { callProvider, MalformedResponse } from "./http";
import type { ChannelSender, SendContext, SendOutcome } from "./types";

/** The payload of an SMS delivery, as rendered by `renderSms`. */
export const SmsPayload = z.object({ text: z.string().min(1) });
export type SmsPayload = z.infer<typeof SmsPayload>;

async function sendWithLog(ctx: SendContext, delivery: DeliveryRow, to: string, p: SmsPayload): Promise<SendOutcome> {
  const id = await recordInDevOutbox(ctx, delivery, { to, text: p.text });
  return { kind: "sent", providerMessageId: id };
}

/**
 * Twilio Messages API: form-encoded, HTTP basic auth with the account SID and
 * auth token. TWILIO_FROM is a phone number, or a Messaging Service SID (MG…).
 */
async function sendWithTwilio(ctx: SendContext, _delivery: DeliveryRow, to: string, p: SmsPayload): Promise<SendOutcome> {
  const { twilioAccountSid: sid, twilioAuthToken: token, twilioFrom: from } = ctx.config.delivery;
  if (!sid || !token || !from) {
    return { kind: "permanent", error: "SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM" };
  }
  const form = new URLSearchParams({ To: to, Body: p.text });
  form.set(/^MG[0-9a-f]{32}$/i.test(from) ? "MessagingServiceSid" : "From", from);
  return callProvider({
    provider: "twilio",
    url: `https://api.twilio.com/2010-04-01/Accounts/${encodeURIComponent(sid)}/Messages.json`,
    signal: ctx.signal,
    timeoutMs: ctx.config.delivery.timeoutMs,
    init: {
      method: "POST",
      headers: { Authorization: `Basic ${btoa(`${sid}:${token}`)}`, "Content-Type": "application/x-www-form-urlencoded" },
      body: form.toString(),
    },
    // A 2xx without a sid is retried: Twilio has no idempotency key, but SMS is the
    // CRITICAL channel, where a possible duplicate beats a silent loss.
    onSuccess: async (res) => {
      const body = (await res.json().catch(() => null)) as { sid?: unknown } | null;
      if (!body || typeof body.sid !== "string" || !body.sid) throw new MalformedResponse("no sid in the response");
      return { kind: "sent", providerMessageId: body.sid };
    },
  });
}

const PROVIDERS: Record<Config["delivery"]["smsProvider"], typeof sendWithLog> = {
  log: sendWithLog,
  twilio: sendWithTwilio,
};

/** SMS through SMS_PROVIDER: `log` (dev outbox) or `twilio`. */
export const smsSender: ChannelSender = {
  async send(ctx, delivery) {
    if (!delivery.address) return { kind: "permanent", error: "sms delivery has no address" };
    const parsed = SmsPayload.safeParse(delivery.payload);
    if (!parsed.success) return { kind: "permanent", error: "malformed sms payload: text must be a non-empty string" };
    return PROVIDERS[ctx.config.delivery.smsProvider](ctx, delivery, delivery.address, parsed.data);
  },
};
