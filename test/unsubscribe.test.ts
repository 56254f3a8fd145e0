import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { signUnsubscribeToken, verifyUnsubscribeToken } from "../src/delivery/unsubscribe";
import { call, makeToken, uniqueOrg } from "./helpers";
import { runQueue } from "./queue-helpers";
import { orgBeside, orgD1 } from "./shard-helpers";

/** Issue 9, item 15: RFC 8058 one-click unsubscribe. */

const logEnv = { ...env, EMAIL_PROVIDER: "log", SENDGRID_API_KEY: "", RESEND_API_KEY: "" } as Env;

async function org(orgId = uniqueOrg("unsub")) {
  const admin = await makeToken({ org: orgId, sub: "boss", role: "admin" });
  for (const id of ["reader", "bystander"]) {
    const res = await call("PUT", `/api/v1/users/${id}`, { token: admin, body: { role: "agent", email: `${id}@example.com` } });
    expect([200, 201]).toContain(res.status);
  }
  const reader = await makeToken({ org: orgId, sub: "reader", role: "agent" });
  const bystander = await makeToken({ org: orgId, sub: "bystander", role: "agent" });
  return { orgId, admin, reader, bystander };
}

/** Notifies `userId` (HIGH: in-app, realtime, email) and returns the email as the log provider sent it. */
async function sendEmail(orgId: string, admin: string, userId: string, type = "deal.won") {
  const res = await call("POST", "/api/v1/notifications", {
    token: admin,
    body: { userIds: [userId], type, title: `A ${type} for you`, priority: "HIGH" },
  });
  expect(res.status, res.text).toBe(201);
  const notificationId = res.json.ids[0] as string;
  const d1 = await orgD1(orgId);
  const delivery = await d1.prepare("SELECT id FROM deliveries WHERE org_id = ? AND notification_id = ? AND channel = 'email'")
    .bind(orgId, notificationId)
    .first<{ id: string }>();
  expect(delivery).not.toBeNull();
  // The background consumer may have sent it already; either way exactly one outbox entry results.
  await runQueue("herald-deliveries", [{ body: { deliveryId: delivery!.id, orgId } }], logEnv);
  const outbox = await d1.prepare("SELECT headers, text, html FROM dev_outbox WHERE delivery_id = ?").bind(delivery!.id).all<{ headers: string; text: string; html: string }>();
  expect(outbox.results).toHaveLength(1);
  const row = outbox.results[0]!;
  return { notificationId, deliveryId: delivery!.id, headers: JSON.parse(row.headers) as Record<string, string>, text: row.text, html: row.html };
}

const tokenOf = (listUnsubscribe: string) => new URL(listUnsubscribe.slice(1, -1)).searchParams.get("token")!;

const oneClick = (token: string, headers: Record<string, string> = {}) =>
  call("POST", `/unsubscribe?token=${encodeURIComponent(token)}`, {
    rawBody: "List-Unsubscribe=One-Click",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
  });

const prefsOf = async (token: string) => {
  const res = await call("GET", "/api/v1/me/preferences", { token });
  expect(res.status).toBe(200);
  return res.json.preferences;
};

describe("List-Unsubscribe on every notification email", () => {
  it("carries a signed one-click link in the headers and both bodies", async () => {
    const o = await org();
    const email = await sendEmail(o.orgId, o.admin, "reader");
    expect(email.headers["List-Unsubscribe"]).toMatch(/^<https?:\/\/[^>]+\/unsubscribe\?token=[A-Za-z0-9_.-]+>$/);
    expect(email.headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
    const url = email.headers["List-Unsubscribe"]!.slice(1, -1);
    expect(email.text).toContain(`Unsubscribe from these emails: ${url}`);
    expect(email.html).toContain(`<a href="${url}"`);
    expect(email.text).not.toContain("%%herald");
    expect(email.html).not.toContain("%%herald");
    await expect(verifyUnsubscribeToken(new TextEncoder().encode(env.JWT_SECRET!), tokenOf(email.headers["List-Unsubscribe"]!))).resolves.toEqual({
      orgId: o.orgId,
      userId: "reader",
      type: "deal.won",
    });
  });
});

describe("POST /unsubscribe (RFC 8058 one-click)", () => {
  it("turns off exactly that type's emails for exactly that user, idempotently", async () => {
    const o = await org();
    const put = await call("PUT", "/api/v1/me/preferences", { token: o.reader, body: { channels: { sms: false }, types: { "alert.new": { sms: false } } } });
    expect(put.status, put.text).toBe(200);
    // The same user id in another organization must not be touched.
    const elsewhere = await org(await orgBeside(o.orgId, "unsub"));

    const email = await sendEmail(o.orgId, o.admin, "reader");
    const token = tokenOf(email.headers["List-Unsubscribe"]!);

    const first = await oneClick(token);
    expect(first.status, first.text).toBe(200);
    expect(first.json).toEqual({ unsubscribed: true, type: "deal.won", channel: "email" });
    const expected = { channels: { sms: false }, types: { "alert.new": { sms: false }, "deal.won": { email: false } } };
    expect(await prefsOf(o.reader)).toEqual(expected);
    expect(await prefsOf(o.bystander)).toEqual({});
    expect(await prefsOf(elsewhere.reader)).toEqual({});

    const second = await oneClick(token);
    expect(second.status).toBe(200);
    expect(second.json).toEqual({ unsubscribed: true, type: "deal.won", channel: "email" });
    expect(await prefsOf(o.reader)).toEqual(expected);

    // The next deal.won reaches the inbox but not the mailbox; other types still email.
    const next = await call("POST", "/api/v1/notifications", { token: o.admin, body: { userIds: ["reader"], type: "deal.won", title: "Another", priority: "HIGH" } });
    const other = await call("POST", "/api/v1/notifications", { token: o.admin, body: { userIds: ["reader"], type: "report.ready", title: "Report", priority: "HIGH" } });
    const emailsFor = async (id: string) =>
      (await (await orgD1(o.orgId)).prepare("SELECT COUNT(*) AS n FROM deliveries WHERE notification_id = ? AND channel = 'email'").bind(id).first<{ n: number }>())!.n;
    expect(await emailsFor(next.json.ids[0])).toBe(0);
    expect(await emailsFor(other.json.ids[0])).toBe(1);
  });

  it("works for a user who never saved preferences, and answers a browser with a page", async () => {
    const o = await org();
    const token = await signUnsubscribeToken(new TextEncoder().encode(env.JWT_SECRET!), { orgId: o.orgId, userId: "bystander", type: "alert.new" });
    const res = await oneClick(token, { Accept: "text/html" });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(res.text).toContain("You are unsubscribed");
    expect(await prefsOf(o.bystander)).toEqual({ types: { "alert.new": { email: false } } });
  });

  it("refuses a tampered, foreign or missing token with 400 and changes nothing", async () => {
    const o = await org();
    const secret = new TextEncoder().encode(env.JWT_SECRET!);
    const good = await signUnsubscribeToken(secret, { orgId: o.orgId, userId: "reader", type: "deal.won" });
    const [header, payload, signature] = good.split(".");
    const claims = JSON.parse(atob(payload!.replace(/-/g, "+").replace(/_/g, "/")));
    const forgedPayload = btoa(JSON.stringify({ ...claims, sub: "bystander" })).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const flipped = signature!.slice(0, -2) + (signature!.at(-2) === "A" ? "B" : "A") + signature!.at(-1);
    // Signed with JWT_SECRET itself, not the derived unsubscribe key: an API secret's signature is not enough.
    const withApiKey = await new SignJWT({ org: o.orgId, nt: "deal.won" }).setProtectedHeader({ alg: "HS256" }).setSubject("reader").setAudience("herald:unsubscribe").setIssuedAt().sign(secret);

    for (const token of [`${header}.${payload}.${flipped}`, `${header}.${forgedPayload}.${signature}`, withApiKey, o.reader, "not-a-token"]) {
      const res = await oneClick(token);
      expect(res.status, token).toBe(400);
      expect(res.json.error.code).toBe("UNSUBSCRIBE_TOKEN_INVALID");
    }
    const missing = await call("POST", "/unsubscribe", { rawBody: "List-Unsubscribe=One-Click", headers: { "Content-Type": "application/x-www-form-urlencoded" } });
    expect(missing.status).toBe(400);
    expect(missing.json.error.code).toBe("VALIDATION_FAILED");
    expect(await prefsOf(o.reader)).toEqual({});
    expect(await prefsOf(o.bystander)).toEqual({});
  });
});

describe("GET /unsubscribe", () => {
  it("shows a confirmation page that POSTs, and unsubscribes nothing (link scanners fetch every URL)", async () => {
    const o = await org();
    const token = await signUnsubscribeToken(new TextEncoder().encode(env.JWT_SECRET!), { orgId: o.orgId, userId: "reader", type: "deal.won" });
    const res = await call("GET", `/unsubscribe?token=${encodeURIComponent(token)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(res.text).toContain(`<form method="post" action="/unsubscribe?token=${encodeURIComponent(token)}">`);
    expect(res.text).toContain(`name="List-Unsubscribe" value="One-Click"`);
    expect(res.text).toContain("deal.won");
    expect(await prefsOf(o.reader)).toEqual({});

    const bad = await call("GET", `/unsubscribe?token=${encodeURIComponent(token.slice(0, -3))}abc`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("UNSUBSCRIBE_TOKEN_INVALID");
  });

  it("is in the OpenAPI document with operationIds and no security requirement", async () => {
    const doc = (await call("GET", "/openapi.json")).json;
    expect(doc.paths["/unsubscribe"].post).toMatchObject({ operationId: "unsubscribeOneClick", security: [] });
    expect(doc.paths["/unsubscribe"].get).toMatchObject({ operationId: "showUnsubscribePage", security: [] });
  });
});
