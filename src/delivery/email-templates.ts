import type { Priority } from "../protocol";
import { escapeHtml } from "../lib/html";

/** The parts of a notification an email or SMS shows (a `NotificationRow` fits). */
export interface MessageNotification {
  id: string;
  type: string;
  title: string;
  message?: string | null;
  actionUrl?: string | null;
  actionText?: string | null;
  priority: Priority;
  data?: Record<string, unknown> | null;
}

/** What `renderEmail` needs. */
export interface RenderEmailInput {
  notification: MessageNotification;
  recipient: { name?: string | null; email: string };
  /** The recipient's organization. */
  orgId: string;
  /** PUBLIC_BASE_URL, without a trailing slash. */
  publicBaseUrl: string;
}

/** A rendered email: the delivery payload of the email channel. */
export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
  headers: Record<string, string>;
  /** The notification type, which the one-click unsubscribe link names (added at send time). */
  type: string;
}

/**
 * Where the recipient's one-click unsubscribe URL goes in the body. The link
 * is signed when the email is sent (WebCrypto is async, rendering is not),
 * and `personalizeEmail` puts it here and in the List-Unsubscribe headers.
 */
export const UNSUBSCRIBE_URL_SLOT = "%%herald-unsubscribe-url%%";

/** Longest SMS body: two concatenated segments. */
export const MAX_SMS_CHARS = 320;
const MAX_SUBJECT_CHARS = 200;
const MAX_DETAILS = 10;

const ACCENT: Record<Priority, string> = {
  CRITICAL: "#b91c1c",
  HIGH: "#c2410c",
  MEDIUM: "#1d4ed8",
  LOW: "#4b5563",
};

/** The URL if it is absolute http(s), else undefined: a `javascript:` or relative link never reaches a mail client. */
export function safeHttpUrl(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** The address of the preferences API, linked from every email's footer. */
export function preferencesUrl(publicBaseUrl: string): string {
  return `${publicBaseUrl.replace(/\/+$/, "")}/api/v1/me/preferences`;
}

/** Scalar entries of `data`, shown as a short "details" list. */
function details(data: Record<string, unknown> | null | undefined): [string, string][] {
  return Object.entries(data ?? {})
    .filter(([, v]) => typeof v === "string" || typeof v === "number" || typeof v === "boolean")
    .slice(0, MAX_DETAILS)
    .map(([k, v]) => [k, String(v)]);
}

const oneLine = (s: string) => s.replace(/[\r\n\t]+/g, " ").trim();

/**
 * Renders a notification as an email: subject "[PRIORITY] title", an HTML body
 * (every interpolated value escaped, once: titles and messages are plain
 * text) and its plain-text twin (unescaped), with an unsubscribe link slot
 * that `personalizeEmail` fills when the email is sent.
 */
export function renderEmail(input: RenderEmailInput): RenderedEmail {
  const { notification: n, recipient } = input;
  const action = safeHttpUrl(n.actionUrl);
  const actionText = n.actionText?.trim() || "Open in Herald";
  const prefs = preferencesUrl(input.publicBaseUrl);
  const facts = details(n.data);
  const subject = oneLine(`[${n.priority}] ${n.title}`).slice(0, MAX_SUBJECT_CHARS);
  const greeting = recipient.name ? `Hi ${recipient.name},` : "Hi,";

  const text = [
    greeting,
    "",
    `[${n.priority}] ${n.title}`,
    ...(n.message ? ["", n.message] : []),
    ...(facts.length ? ["", ...facts.map(([k, v]) => `${k}: ${v}`)] : []),
    ...(action ? ["", `${actionText}: ${action}`] : []),
    "",
    "--",
    "You receive this because of your Herald notification preferences.",
    `Unsubscribe from these emails: ${UNSUBSCRIBE_URL_SLOT}`,
    `Change them: ${prefs}`,
  ].join("\n");

  const e = escapeHtml;
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${e(subject)}</title></head>
<body style="margin:0;padding:24px;background:#f3f4f6;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#111827">
<table role="presentation" width="100%" style="max-width:560px;margin:0 auto;background:#fff;border-radius:8px;border-top:4px solid ${ACCENT[n.priority]}">
<tr><td style="padding:24px">
<p style="margin:0 0 16px">${e(greeting)}</p>
<p style="margin:0 0 4px;font-size:12px;font-weight:bold;color:${ACCENT[n.priority]}">${e(n.priority)}</p>
<h1 style="margin:0 0 12px;font-size:20px">${e(n.title)}</h1>
${n.message ? `<p style="margin:0 0 16px;white-space:pre-line">${e(n.message)}</p>\n` : ""}${
    facts.length
      ? `<table role="presentation" style="margin:0 0 16px;font-size:14px">${facts
          .map(([k, v]) => `<tr><td style="padding:2px 12px 2px 0;color:#6b7280">${e(k)}</td><td>${e(v)}</td></tr>`)
          .join("")}</table>\n`
      : ""
  }${
    action
      ? `<p style="margin:0 0 16px"><a href="${e(action)}" style="display:inline-block;padding:10px 16px;background:${ACCENT[n.priority]};color:#fff;text-decoration:none;border-radius:6px">${e(actionText)}</a></p>\n`
      : ""
  }</td></tr>
<tr><td style="padding:16px 24px;border-top:1px solid #e5e7eb;font-size:12px;color:#6b7280">
You receive this because of your Herald notification preferences. <a href="${UNSUBSCRIBE_URL_SLOT}" style="color:#6b7280">Unsubscribe from these emails</a> · <a href="${e(prefs)}" style="color:#6b7280">Change them</a>.
</td></tr>
</table>
</body></html>
`;

  return {
    subject,
    html,
    text,
    headers: {
      // A unique ref per notification stops Gmail from threading unrelated alerts that share a subject.
      "X-Entity-Ref-ID": n.id,
    },
    type: n.type,
  };
}

/** What `personalizeEmail` fills in at send time. */
export interface EmailPersonalization {
  /** The signed one-click URL (PUBLIC_BASE_URL/unsubscribe?token=…); absent when no signing key is configured. */
  unsubscribeUrl?: string;
  /** Where the body's unsubscribe link points without a one-click URL. */
  preferencesUrl: string;
}

/**
 * Fills a rendered email for one send: the unsubscribe link in both bodies
 * (escaped in the HTML part), and the RFC 8058 headers
 * `List-Unsubscribe: <url>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
 * Without a one-click URL the body links to the preferences and no
 * List-Unsubscribe header is sent (a link that needs a login is no one-click).
 */
export function personalizeEmail<T extends { subject: string; html: string; text: string; headers?: Record<string, string> }>(
  email: T,
  p: EmailPersonalization,
): T & { headers: Record<string, string> } {
  const link = p.unsubscribeUrl ?? p.preferencesUrl;
  const { "List-Unsubscribe": _old, "List-Unsubscribe-Post": _oldPost, ...headers } = email.headers ?? {};
  return {
    ...email,
    html: email.html.replaceAll(UNSUBSCRIBE_URL_SLOT, escapeHtml(link)),
    text: email.text.replaceAll(UNSUBSCRIBE_URL_SLOT, link),
    headers: p.unsubscribeUrl
      ? { ...headers, "List-Unsubscribe": `<${p.unsubscribeUrl}>`, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" }
      : headers,
  };
}

/**
 * Renders a notification as one SMS of at most MAX_SMS_CHARS characters:
 * "[PRIORITY] title — message", then the action link when it fits whole.
 */
export function renderSms(notification: MessageNotification): { text: string } {
  const n = notification;
  const link = safeHttpUrl(n.actionUrl);
  const body = oneLine(`[${n.priority}] ${n.title}${n.message ? ` — ${n.message}` : ""}`);
  const linkPart = link && link.length <= 120 ? ` ${link}` : "";
  return { text: cut(body, MAX_SMS_CHARS - linkPart.length) + linkPart };
}

/** Cuts at a code point boundary, so an emoji is never split into a broken surrogate. */
function cut(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}
