import { describe, expect, it } from "vitest";
import { personalizeEmail, renderEmail, renderSms, safeHttpUrl, UNSUBSCRIBE_URL_SLOT, type MessageNotification } from "../src/delivery/email-templates";
import { escapeHtml } from "../src/lib/html";

const BASE_URL = "https://herald.example.com";

function notification(overrides: Partial<MessageNotification> = {}): MessageNotification {
  return {
    id: "ntf_1",
    type: "alert.new",
    title: "Jane Doe is likely to sell",
    message: "Score jumped after three signals",
    actionUrl: "https://app.example.com/alerts/1",
    actionText: "Open the alert",
    priority: "HIGH",
    data: { score: 0.91 },
    ...overrides,
  };
}

const render = (n: Partial<MessageNotification> = {}, name: string | null = "Avery Agent") =>
  renderEmail({ notification: notification(n), recipient: { name, email: "avery@example.com" }, orgId: "acme", publicBaseUrl: BASE_URL });

describe("renderEmail", () => {
  it("puts the priority in the subject", () => {
    expect(render().subject).toBe("[HIGH] Jane Doe is likely to sell");
    expect(render({ priority: "CRITICAL", title: "Line one\r\nBcc: x@evil.test" }).subject).toBe("[CRITICAL] Line one Bcc: x@evil.test");
  });

  it("escapes every interpolated value in HTML and keeps the plain text raw", () => {
    const email = render(
      {
        title: "<script>alert(1)</script>",
        message: `Tom & "Jerry" <b>bold</b>`,
        actionText: `"><img src=x onerror=alert(1)>`,
        data: { "<k>": "<v>" },
      },
      "<i>Eve</i>",
    );
    expect(email.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(email.html).not.toContain("<script>");
    expect(email.html).toContain("Tom &amp; &quot;Jerry&quot; &lt;b&gt;bold&lt;/b&gt;");
    expect(email.html).toContain("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
    expect(email.html).not.toContain("<img");
    expect(email.html).toContain("Hi &lt;i&gt;Eve&lt;/i&gt;,");
    expect(email.html).toContain("&lt;k&gt;");
    expect(email.text).toContain("<script>alert(1)</script>");
    expect(email.text).toContain(`Tom & "Jerry" <b>bold</b>`);
    expect(email.text).toContain("Hi <i>Eve</i>,");
  });

  it("links the action when it is an http(s) URL", () => {
    const email = render();
    expect(email.html).toContain(`<a href="https://app.example.com/alerts/1"`);
    expect(email.html).toContain(">Open the alert</a>");
    expect(email.text).toContain("Open the alert: https://app.example.com/alerts/1");
  });

  it.each(["javascript:alert(1)", "data:text/html,<script>x</script>", "/relative/path", "not a url", ""])(
    "omits an action URL that is not http(s): %s",
    (actionUrl) => {
      const email = render({ actionUrl });
      expect(email.html).not.toContain("Open the alert");
      expect(email.html).not.toContain("javascript:");
      expect(email.text).not.toContain("Open the alert");
    },
  );

  it("leaves a slot for the unsubscribe link (signed at send time) and links the preferences", () => {
    const email = render();
    expect(email.type).toBe("alert.new");
    expect(email.headers["List-Unsubscribe"]).toBeUndefined();
    expect(email.text).toContain(`Unsubscribe from these emails: ${UNSUBSCRIBE_URL_SLOT}`);
    expect(email.html).toContain(`<a href="${UNSUBSCRIBE_URL_SLOT}"`);
    expect(email.html).toContain(`href="${BASE_URL}/api/v1/me/preferences"`);
    expect(email.text).toContain(`${BASE_URL}/api/v1/me/preferences`);
  });

  it("greets without a name and skips empty parts", () => {
    const email = render({ message: null, actionUrl: null, data: {} }, null);
    expect(email.text.startsWith("Hi,\n")).toBe(true);
    expect(email.text).not.toContain("null");
    expect(email.html).not.toContain("null");
  });
});

describe("personalizeEmail", () => {
  const link = `${BASE_URL}/unsubscribe?token=a.b.c`;
  const prefs = `${BASE_URL}/api/v1/me/preferences`;

  it("fills the slot in both bodies and adds the RFC 8058 headers", () => {
    const email = personalizeEmail(render(), { unsubscribeUrl: link, preferencesUrl: prefs });
    expect(email.headers).toEqual({
      "X-Entity-Ref-ID": "ntf_1",
      "List-Unsubscribe": `<${link}>`,
      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    });
    expect(email.text).toContain(`Unsubscribe from these emails: ${link}`);
    expect(email.html).toContain(`<a href="${link}"`);
    expect(email.html + email.text).not.toContain(UNSUBSCRIBE_URL_SLOT);
  });

  it("without a signing key links the preferences and sends no List-Unsubscribe (it would need a login)", () => {
    const legacy = { ...render(), headers: { "X-Entity-Ref-ID": "ntf_1", "List-Unsubscribe": `<${prefs}>` } };
    const email = personalizeEmail(legacy, { preferencesUrl: prefs });
    expect(email.headers).toEqual({ "X-Entity-Ref-ID": "ntf_1" });
    expect(email.text).toContain(`Unsubscribe from these emails: ${prefs}`);
  });

  it("escapes the title once in HTML only (Fish & Chips <Co> \"Q\")", () => {
    const email = personalizeEmail(render({ title: `Fish & Chips <Co> "Q"` }), { unsubscribeUrl: link, preferencesUrl: prefs });
    expect(email.subject).toBe(`[HIGH] Fish & Chips <Co> "Q"`);
    expect(email.text).toContain(`[HIGH] Fish & Chips <Co> "Q"`);
    expect(email.html).toContain("Fish &amp; Chips &lt;Co&gt; &quot;Q&quot;");
    expect(email.html).not.toContain("&amp;amp;");
  });
});

describe("renderSms", () => {
  it("prefixes the priority and stays within 320 characters, keeping the link whole", () => {
    const { text } = renderSms(notification({ priority: "CRITICAL", message: "m".repeat(1000) }));
    expect(text.startsWith("[CRITICAL] Jane Doe is likely to sell — mmm")).toBe(true);
    expect(text.endsWith("… https://app.example.com/alerts/1")).toBe(true);
    expect(Array.from(text).length).toBeLessThanOrEqual(320);
  });

  it("never splits an emoji at the cut", () => {
    const { text } = renderSms(notification({ actionUrl: null, message: "🔥".repeat(400) }));
    expect(Array.from(text).length).toBeLessThanOrEqual(320);
    expect(text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it("leaves out a non-http link", () => {
    expect(renderSms(notification({ actionUrl: "javascript:alert(1)", message: null })).text).toBe("[HIGH] Jane Doe is likely to sell");
  });
});

describe("helpers", () => {
  it("escapes the five HTML specials", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  it("accepts only absolute http(s) URLs", () => {
    expect(safeHttpUrl("http://example.com/a?b=1")).toBe("http://example.com/a?b=1");
    expect(safeHttpUrl("JAVASCRIPT:alert(1)")).toBeUndefined();
    expect(safeHttpUrl(null)).toBeUndefined();
  });
});
