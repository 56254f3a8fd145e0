import { describe, expect, it } from "vitest";
import { alertBody, call, makeToken, uniqueOrg } from "./helpers";
import { orgD1 } from "./shard-helpers";

/**
 * Issue 9, item 9: titles were HTML-escaped when a template was rendered and
 * again by the email renderer. Notifications are stored and sent as plain
 * text; only the email's HTML part is escaped, once.
 */
const TITLE = `Fish & Chips <Co> "Q"`;
const ESCAPED = "Fish &amp; Chips &lt;Co&gt; &quot;Q&quot;";

async function orgWithRecipient() {
  const org = uniqueOrg("plain");
  const admin = await makeToken({ org, sub: "boss", role: "admin" });
  const agent = await makeToken({ org, sub: "fryer", role: "agent" });
  const put = await call("PUT", "/api/v1/users/fryer", { token: admin, body: { role: "agent", email: "fryer@example.com", name: "Fran Fryer" } });
  expect([200, 201]).toContain(put.status);
  return { org, admin, agent };
}

async function emailPayloads(org: string) {
  const { results } = await (await orgD1(org)).prepare("SELECT payload FROM deliveries WHERE org_id = ? AND channel = 'email'")
    .bind(org)
    .all<{ payload: string }>();
  return results.map((r) => JSON.parse(r.payload) as { subject: string; text: string; html: string });
}

function expectPlainEverywhereButHtml(email: { subject: string; text: string; html: string }, plainTitle: string) {
  expect(email.subject).toBe(`[HIGH] ${plainTitle}`);
  expect(email.text).toContain(plainTitle);
  expect(email.text).not.toContain("&amp;");
  expect(email.text).not.toContain("&lt;");
  expect(email.html).toContain(ESCAPED);
  expect(email.html).not.toContain("&amp;amp;");
  expect(email.html).not.toContain("&amp;lt;");
  expect(email.html).not.toContain("&amp;quot;");
  expect(email.html).not.toContain(TITLE);
}

describe("plain text in notifications, escaped once in HTML", () => {
  it("an alert's title reaches the in-app notification and the email as written", async () => {
    const { org, admin, agent } = await orgWithRecipient();
    const created = await call("POST", "/api/v1/alerts", { token: admin, body: alertBody({ title: TITLE, priority: "HIGH", assigneeId: "fryer" }) });
    expect(created.status, created.text).toBe(201);
    expect(created.json.title).toBe(TITLE);

    const inbox = await call("GET", "/api/v1/notifications", { token: agent });
    expect(inbox.status).toBe(200);
    const notification = inbox.json.items.find((n: { type: string }) => n.type === "alert.new");
    expect(notification.title).toBe(`New HIGH alert: ${TITLE}`);
    expect(notification.message).toBe("Jane Doe — LIKELY_TO_SELL (confidence 0.87)");

    const emails = await emailPayloads(org);
    expect(emails).toHaveLength(1);
    expectPlainEverywhereButHtml(emails[0]!, `New HIGH alert: ${TITLE}`);
  });

  it("a template's variables reach the in-app notification and the email as written", async () => {
    const { org, admin, agent } = await orgWithRecipient();
    const res = await call("POST", "/api/v1/notifications", {
      token: admin,
      body: { userIds: ["fryer"], template: "deal.won", variables: { account: TITLE, owner: "Ada & Bob", amount: "<$5>" }, priority: "HIGH" },
    });
    expect(res.status, res.text).toBe(201);

    const [item] = (await call("GET", "/api/v1/notifications", { token: agent })).json.items;
    expect(item.title).toBe(`Deal won: ${TITLE}`);
    expect(item.message).toBe(`Ada & Bob closed ${TITLE} for <$5>`);

    const emails = await emailPayloads(org);
    expect(emails).toHaveLength(1);
    expectPlainEverywhereButHtml(emails[0]!, `Deal won: ${TITLE}`);
    expect(emails[0]!.text).toContain(`Ada & Bob closed ${TITLE} for <$5>`);
    expect(emails[0]!.html).toContain(`Ada &amp; Bob closed ${ESCAPED} for &lt;$5&gt;`);
  });
});
