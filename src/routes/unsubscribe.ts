import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { appDeps, orgDeps } from "../deps";
import { verifyUnsubscribeToken } from "../delivery/unsubscribe";
import { escapeHtml } from "../lib/html";
import { createRouter } from "../lib/router";
import { ErrorSchema } from "../schemas/common";
import { turnOffEmailType } from "../services/notifications";
import type { AppEnv } from "../types";

const tags = ["Unsubscribe"];

const TokenQuery = z.object({
  token: z.string().min(1).max(2048).openapi({ description: "The signed token from the email's List-Unsubscribe link" }),
});

const Unsubscribed = z
  .object({
    unsubscribed: z.literal(true),
    type: z.string().openapi({ example: "alert.new" }),
    channel: z.literal("email"),
  })
  .openapi("Unsubscribed");

const html = (description: string) => ({ description, content: { "text/html": { schema: z.string() } } });
const invalidToken = {
  400: {
    description: "UNSUBSCRIBE_TOKEN_INVALID (malformed, tampered or not signed by this deployment) or VALIDATION_FAILED (no token)",
    content: { "application/json": { schema: ErrorSchema } },
  },
};

/**
 * The token is in the URL, so the page must not leak it (Referer), be cached,
 * or be indexed; it has no script and posts only to itself.
 */
function page(c: Context<AppEnv>, title: string, body: string) {
  c.header("Cache-Control", "no-store");
  c.header("Referrer-Policy", "no-referrer");
  c.header("X-Robots-Tag", "noindex");
  c.header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
  return c.html(
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title></head>
<body style="margin:0;padding:48px 24px;background:#f3f4f6;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#111827">
<main style="max-width:480px;margin:0 auto;background:#fff;border-radius:8px;padding:24px">
<h1 style="margin:0 0 12px;font-size:20px">${escapeHtml(title)}</h1>
${body}
</main>
</body></html>
`,
    200,
  );
}

/**
 * RFC 8058 one-click unsubscribe, outside `/api/v1` and its bearer auth: the
 * signed token is the authorization. POST performs it (what mailbox providers
 * call, with the body `List-Unsubscribe=One-Click`); GET only shows a
 * confirmation page whose button POSTs, because link scanners and previews
 * fetch every URL in an email.
 */
export const unsubscribeRouter = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/unsubscribe",
      operationId: "showUnsubscribePage",
      tags,
      security: [],
      summary: "A confirmation page for an email's unsubscribe link (changes nothing)",
      request: { query: TokenQuery },
      responses: { 200: html("A page with a button that POSTs the one-click unsubscribe"), ...invalidToken },
    }),
    async (c) => {
      const { token } = c.req.valid("query");
      const claims = await verifyUnsubscribeToken(appDeps(c.env).config.delivery.unsubscribeSecret, token);
      const action = `/unsubscribe?token=${encodeURIComponent(token)}`;
      return page(
        c,
        "Unsubscribe from these emails?",
        `<p style="margin:0 0 16px">You will no longer get <strong>${escapeHtml(claims.type)}</strong> notifications by email. In-app notifications are not affected.</p>
<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit" style="padding:10px 16px;background:#111827;color:#fff;border:0;border-radius:6px;font-size:14px">Unsubscribe</button></form>`,
      );
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/unsubscribe",
      operationId: "unsubscribeOneClick",
      tags,
      security: [],
      summary: "RFC 8058 one-click unsubscribe: turns this notification type's emails off for the token's user (idempotent)",
      description:
        "Mailbox providers POST `List-Unsubscribe=One-Click` (form-encoded) to the List-Unsubscribe URL; the body is not required. " +
        "Sets `types[<type>].email = false` in the user's own preferences. Answers HTML to a browser (Accept: text/html), JSON otherwise.",
      request: { query: TokenQuery },
      responses: {
        200: {
          description: "Unsubscribed (also when it already was)",
          content: { "application/json": { schema: Unsubscribed }, "text/html": { schema: z.string() } },
        },
        ...invalidToken,
      },
    }),
    async (c) => {
      const { token } = c.req.valid("query");
      const claims = await verifyUnsubscribeToken(appDeps(c.env).config.delivery.unsubscribeSecret, token);
      await turnOffEmailType((await orgDeps(c.env, claims.orgId)).db, claims.orgId, claims.userId, claims.type);
      if ((c.req.header("Accept") ?? "").includes("text/html")) {
        return page(
          c,
          "You are unsubscribed",
          `<p style="margin:0">You will no longer get <strong>${escapeHtml(claims.type)}</strong> notifications by email. You can turn them back on in your notification preferences.</p>`,
        );
      }
      c.header("Cache-Control", "no-store");
      return c.json({ unsubscribed: true as const, type: claims.type, channel: "email" as const }, 200);
    },
  );
