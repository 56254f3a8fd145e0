import { and, eq } from "drizzle-orm";
import { z } from "zod";
import type { Config } from "../config";
import { devOutbox, notifications, type DeliveryRow } from "../db/schema";
import { newId } from "../lib/ids";
import { personalizeEmail, preferencesUrl } from "./email-templates";
import { callProvider, MalformedResponse } from "./http";
import type { ChannelSender, SendContext, SendOutcome } from "./types";
import { signUnsubscribeToken, unsubscribeUrl } from "./unsubscribe";

/** The payload of an email delivery, as rendered by `renderEmail` when the delivery was created. */
export const EmailPayload = z.object({
  subject: z.string().min(1),
  html: z.string().min(1),
  text: z.string().min(1),
  headers: z.record(z.string(), z.string()).optional(),
  /** The notification type (payloads rendered before it was stored: looked up). */
  type: z.string().optional(),
});
export type EmailPayload = z.infer<typeof EmailPayload>;

/** What the log providers write: one dev outbox row, and one console line. */
export interface OutboxEntry {
  to: string;
  subject?: string;
  text?: string;
  html?: string;
  headers?: Record<string, string>;
}

/**
 * Records a message "sent" by a `log` provider in `dev_outbox` (read at
 * GET /api/v1/dev/outbox) and logs a one-line summary. Returns the outbox id,
 * which becomes the provider message id.
 */
export async function recordInDevOutbox(ctx: SendContext, delivery: DeliveryRow, entry: OutboxEntry): Promise<string> {
  const id = newId("obx");
  await ctx.db.insert(devOutbox).values({
    id,
    orgId: delivery.orgId,
    deliveryId: delivery.id,
    channel: delivery.channel,
    to: entry.to,
    subject: entry.subject ?? null,
    text: entry.text ?? null,
    html: entry.html ?? null,
    headers: entry.headers ?? {},
    createdAt: new Date(),
  });
  const what = entry.subject !== undefined ? JSON.stringify(entry.subject) : JSON.stringify((entry.text ?? "").slice(0, 80));
  console.log(`herald outbox: ${delivery.channel} to ${entry.to} ${what} (delivery ${delivery.id}, ${id})`);
  return id;
}

/** "Name <addr@example.com>" or "addr@example.com" → its parts. */
export function parseMailbox(value: string): { email: string; name?: string } {
  const match = /^\s*"?([^"<]*?)"?\s*<([^>]+)>\s*$/.exec(value);
  if (!match) return { email: value.trim() };
  const name = match[1]!.trim();
  return name ? { email: match[2]!.trim(), name } : { email: match[2]!.trim() };
}

/** The address and payload of an email delivery, or the permanent failure explaining why it cannot be sent. */
function readDelivery(delivery: DeliveryRow): { to: string; payload: EmailPayload } | SendOutcome {
  if (!delivery.address) return { kind: "permanent", error: "email delivery has no address" };
  const parsed = EmailPayload.safeParse(delivery.payload);
  if (!parsed.success) {
    return { kind: "permanent", error: `malformed email payload: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}` };
  }
  return { to: delivery.address, payload: parsed.data };
}

async function sendWithLog(ctx: SendContext, delivery: DeliveryRow, to: string, p: EmailPayload): Promise<SendOutcome> {
  const id = await recordInDevOutbox(ctx, delivery, { to, subject: p.subject, text: p.text, html: p.html, headers: p.headers });
  return { kind: "sent", providerMessageId: id };
}

/**
 * The email as this send delivers it: the recipient's signed one-click
 * unsubscribe link (for this org, user and notification type) in the body
 * and in the List-Unsubscribe headers. No signing key (JWKS-only auth without
 * UNSUBSCRIBE_SECRET) → the body links to the preferences, no header.
 */
async function personalize(ctx: SendContext, delivery: DeliveryRow, p: EmailPayload): Promise<EmailPayload> {
  const { unsubscribeSecret: secret, publicBaseUrl } = ctx.config.delivery;
  let link: string | undefined;
  if (secret && delivery.userId) {
    const type = p.type ?? (await notificationType(ctx, delivery));
    if (type) link = unsubscribeUrl(publicBaseUrl, await signUnsubscribeToken(secret, { orgId: delivery.orgId, userId: delivery.userId, type }));
  }
  return personalizeEmail(p, { unsubscribeUrl: link, preferencesUrl: preferencesUrl(publicBaseUrl) });
}

async function notificationType(ctx: SendContext, delivery: DeliveryRow): Promise<string | undefined> {
  if (!delivery.notificationId) return undefined;
  const row = await ctx.db
    .select({ type: notifications.type })
    .from(notifications)
    .where(and(eq(notifications.orgId, delivery.orgId), eq(notifications.id, delivery.notificationId)))
    .get();
  return row?.type;
}

/**
 * A Message-ID that is the same on every attempt of a delivery:
 * `<delivery id@the EMAIL_FROM domain>`.
 */
export function deliveryMessageId(deliveryId: string, emailFrom: string): string {
  const domain = parseMailbox(emailFrom).email.split("@")[1]?.trim() || "herald.invalid";
  return `<${deliveryId}@${domain}>`;
}

/**
 * SendGrid v3 mail send. SendGrid has no idempotency key: a retry after a
 * lost 202 can send a second copy. What we can do: the same `Message-ID`
 * header on every attempt (mailbox providers may collapse copies that share
 * one; none is obliged to) and the delivery id in `custom_args`, which the
 * Event Webhook and Activity Feed echo, to find and count duplicates. The
 * delivery row's status guards against every other kind of second send.
 */
async function sendWithSendgrid(ctx: SendContext, delivery: DeliveryRow, to: string, p: EmailPayload): Promise<SendOutcome> {
  const key = ctx.config.delivery.sendgridApiKey;
  if (!key) return { kind: "permanent", error: "EMAIL_PROVIDER=sendgrid needs SENDGRID_API_KEY" };
  const headers = { ...p.headers, "Message-ID": deliveryMessageId(delivery.id, ctx.config.delivery.emailFrom) };
  return callProvider({
    provider: "sendgrid",
    url: "https://api.sendgrid.com/v3/mail/send",
    signal: ctx.signal,
    timeoutMs: ctx.config.delivery.timeoutMs,
    init: {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        personalizations: [{ to: [{ email: to }] }],
        from: parseMailbox(ctx.config.delivery.emailFrom),
        subject: p.subject,
        // SendGrid requires text/plain before text/html.
        content: [
          { type: "text/plain", value: p.text },
          { type: "text/html", value: p.html },
        ],
        headers,
        custom_args: { delivery_id: delivery.id },
      }),
    },
    // 202 has an empty body; X-Message-Id is informational, so its absence is no reason to send twice.
    onSuccess: async (res) => ({ kind: "sent", providerMessageId: res.headers.get("X-Message-Id") ?? undefined }),
  });
}

/** Resend, with the delivery id as Idempotency-Key: a retried request returns the first response instead of a second email. */
async function sendWithResend(ctx: SendContext, delivery: DeliveryRow, to: string, p: EmailPayload): Promise<SendOutcome> {
  const key = ctx.config.delivery.resendApiKey;
  if (!key) return { kind: "permanent", error: "EMAIL_PROVIDER=resend needs RESEND_API_KEY" };
  return callProvider({
    provider: "resend",
    url: "https://api.resend.com/emails",
    signal: ctx.signal,
    timeoutMs: ctx.config.delivery.timeoutMs,
    init: {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", "Idempotency-Key": delivery.id },
      body: JSON.stringify({
        from: ctx.config.delivery.emailFrom,
        to: [to],
        subject: p.subject,
        html: p.html,
        text: p.text,
        ...(p.headers && Object.keys(p.headers).length > 0 && { headers: p.headers }),
      }),
    },
    onSuccess: async (res) => {
      const body = (await res.json().catch(() => null)) as { id?: unknown } | null;
      if (!body || typeof body.id !== "string" || !body.id) throw new MalformedResponse("no id in the response");
      return { kind: "sent", providerMessageId: body.id };
    },
    // The same key while the first request is still in flight: try again once it has finished.
    classify: (status, body) => (status === 409 && body.includes("concurrent_idempotent_requests") ? "retry" : undefined),
  });
}

const PROVIDERS: Record<Config["delivery"]["emailProvider"], typeof sendWithLog> = {
  log: sendWithLog,
  sendgrid: sendWithSendgrid,
  resend: sendWithResend,
};

/** Email through EMAIL_PROVIDER: `log` (dev outbox), `sendgrid` or `resend`. */
export const emailSender: ChannelSender = {
  async send(ctx, delivery) {
    const read = readDelivery(delivery);
    if ("kind" in read) return read;
    return PROVIDERS[ctx.config.delivery.emailProvider](ctx, delivery, read.to, await personalize(ctx, delivery, read.payload));
  },
};
