import { Webhook as StandardWebhook } from "standardwebhooks";
import pkg from "../../package.json";
import { deliveries, type DeliveryRow } from "../db/schema";
import { eq } from "drizzle-orm";
import { checkWebhookUrl } from "../lib/ssrf";
import { disableWebhook, recordWebhookFailure, recordWebhookSuccess, webhookForDelivery } from "../services/webhooks";
import { callProvider } from "./http";
import type { ChannelSender, SendContext, SendOutcome } from "./types";

/** Sent with every delivery, so receivers can recognise (and allow-list) Herald. */
export const WEBHOOK_USER_AGENT = `Herald-Webhooks/${pkg.version}`;

/** The Standard Webhooks headers of one attempt. */
export interface WebhookSignatureHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/**
 * Signs a body per the Standard Webhooks spec: `v1,<base64 HMAC-SHA256 of
 * "{id}.{timestamp}.{body}">` keyed with the base64-decoded part of the
 * `whsec_` secret. Uses the spec's reference library (`standardwebhooks`,
 * pure JS, so it runs in workerd). `id` stays the same across retries so
 * receivers can deduplicate; the timestamp is the attempt's.
 */
export function signWebhook(secret: string, id: string, body: string, at = new Date()): WebhookSignatureHeaders {
  const signature = new StandardWebhook(secret).sign(id, at, body);
  return { "webhook-id": id, "webhook-timestamp": String(Math.floor(at.getTime() / 1000)), "webhook-signature": signature };
}

/**
 * Sends webhook deliveries: POSTs the stored payload (the exact JSON body) to
 * the endpoint, signed. Outcomes: 2xx → sent (provider message id = the
 * webhook-id); 410 → permanent, and the endpoint is disabled; other 4xx
 * (except 408/429) and 3xx (redirects are never followed: they could point
 * anywhere, including inside a network) → permanent; 408/429/5xx, network
 * errors and timeouts → retry, honouring Retry-After. An endpoint that is
 * disabled, deleted, or whose URL no longer passes the SSRF policy is a
 * permanent failure without any request.
 */
export const webhookSender: ChannelSender = {
  async send(ctx: SendContext, delivery: DeliveryRow): Promise<SendOutcome> {
    const endpoint = await webhookForDelivery(ctx.db, delivery);
    if (!endpoint) return { kind: "permanent", error: "endpoint deleted" };
    if (!endpoint.enabled) return { kind: "permanent", error: `endpoint disabled${endpoint.disabledReason ? ` (${endpoint.disabledReason})` : ""}` };

    // The policy may have tightened since the endpoint was saved (ALLOW_INSECURE_WEBHOOKS).
    const check = checkWebhookUrl(endpoint.url, { allowInsecure: ctx.config.delivery.allowInsecureWebhooks });
    if (!check.ok) return { kind: "permanent", error: `URL not allowed: ${check.reason}` };

    // Pending retries follow the endpoint to its current URL (an admin who
    // fixed a wrong URL wants them there); the row records where it went.
    if (delivery.address !== endpoint.url) {
      await ctx.db.update(deliveries).set({ address: endpoint.url }).where(eq(deliveries.id, delivery.id));
    }

    const body = JSON.stringify(delivery.payload);
    const id = delivery.eventId ?? delivery.id;
    const outcome = await callProvider({
      provider: "webhook",
      url: endpoint.url,
      signal: ctx.signal,
      timeoutMs: ctx.config.delivery.timeoutMs,
      init: {
        method: "POST",
        redirect: "manual",
        headers: {
          "Content-Type": "application/json",
          "User-Agent": WEBHOOK_USER_AGENT,
          ...signWebhook(endpoint.secret, id, body),
        },
        body,
      },
      onSuccess: async (res) => {
        // Drain the body so the connection is released; its content is not part of the contract.
        await res.body?.cancel();
        return { kind: "sent", providerMessageId: id };
      },
      // A receiver's 2xx is all we read, so a malformed success body cannot happen;
      // 3xx falls through to "permanent" (not 408/429/5xx).
    });
    if (outcome.kind === "permanent" && outcome.status === 410) {
      await disableWebhook(ctx.env, ctx.db, endpoint.orgId, endpoint.id, "endpoint answered 410 Gone");
      return { ...outcome, error: `${outcome.error} (endpoint answered 410; disabled)` };
    }
    return outcome;
  },

  async onSent(ctx: SendContext, delivery: DeliveryRow): Promise<void> {
    if (delivery.webhookId) await recordWebhookSuccess(ctx.db, delivery.orgId, delivery.webhookId);
  },

  async onFailed(ctx: SendContext, delivery: DeliveryRow, reason: string): Promise<void> {
    if (!delivery.webhookId) return;
    await recordWebhookFailure(ctx.env, ctx.db, delivery.orgId, delivery.webhookId, reason, ctx.config.delivery.webhookDisableAfterFailures);
  },
};
