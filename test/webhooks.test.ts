import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import { getConfig } from "../src/config";
import { deliveries, type DeliveryRow } from "../src/db/schema";
import { webhookSender } from "../src/delivery/webhook";
import { newWebhookDelivery, patternMatches } from "../src/outbox/webhooks";
import type { SendContext } from "../src/delivery/types";
import { checkWebhookUrl } from "../src/lib/ssrf";
import { deliverEvents, sweepUnpublished, type OutboundEvent } from "../src/outbox";
import { alertBody, BASE, call, makeToken, setupOrg } from "./helpers";
import { runQueue as runSharedQueue } from "./queue-helpers";
import { orgBeside, orgD1, orgDb } from "./shard-helpers";

type Org = Awaited<ReturnType<typeof setupOrg>>;

/** A URL under the reserved .test TLD: it never resolves, so nothing leaves the test even if a real fetch happened. */
const hookUrl = (name = crypto.randomUUID().slice(0, 8)) => `https://crm.herald-hooks.test/in/${name}`;

async function createHook(token: string, body: Record<string, unknown>) {
  const res = await call("POST", "/api/v1/webhooks", { token, body: { url: hookUrl(), events: ["alert:*"], ...body } });
  expect(res.status, res.text).toBe(201);
  return res.json as { id: string; secret: string; url: string; events: string[] };
}

async function hookRow(org: Org, id: string) {
  return (await orgD1(org.org)).prepare("SELECT enabled, disabled_reason, consecutive_failures, url FROM webhooks WHERE id = ?")
    .bind(id)
    .first<{ enabled: number; disabled_reason: string | null; consecutive_failures: number; url: string }>();
}

async function deliveryRows(orgId: string) {
  return (await orgDb(orgId)).select().from(deliveries).where(eq(deliveries.orgId, orgId));
}

async function readDelivery(org: Org, id: string): Promise<DeliveryRow> {
  const [row] = await (await orgDb(org.org)).select().from(deliveries).where(eq(deliveries.id, id));
  return row!;
}

/** A queued delivery of a made-up event to an endpoint, straight into D1 (no queue message). */
async function seedDelivery(org: Org, hook: { id: string; url: string }, type = "alert:new"): Promise<DeliveryRow> {
  const now = new Date();
  const row = newWebhookDelivery({ id: hook.id, orgId: org.org, url: hook.url }, { id: `evt_${crypto.randomUUID()}`, type, ts: now.getTime(), data: { hello: "world" } }, now);
  await (await orgDb(org.org)).insert(deliveries).values(row);
  return readDelivery(org, row.id!);
}

/** What the queue consumer hands a sender for a delivery of `org` (over its shard). */
async function sendContext(org: Org, overrides: Partial<Env> = {}, signal = new AbortController().signal): Promise<SendContext> {
  const e = { ...env, ...overrides };
  return { env: e, db: await orgDb(org.org), config: getConfig(e), signal };
}

interface Captured {
  url: string;
  headers: Headers;
  body: string;
  redirect: RequestInit["redirect"];
}

/**
 * Stubs fetch for this test's endpoint URLs. Other test endpoints (whose
 * deliveries the background queue consumer may be sending meanwhile) get a
 * 503 without being recorded; anything else goes to the real fetch.
 */
function stubFetch(urls: string[], respond: (req: Captured, signal?: AbortSignal | null) => Promise<Response> | Response) {
  const captured: Captured[] = [];
  const real = globalThis.fetch.bind(globalThis);
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!urls.includes(url)) {
      if (url.includes("herald-hooks.test") || url.startsWith("http://localhost:8788")) return new Response("not this test's endpoint", { status: 503 });
      return real(input, init);
    }
    const req: Captured = { url, headers: new Headers(init?.headers), body: String(init?.body ?? ""), redirect: init?.redirect };
    captured.push(req);
    return respond(req, init?.signal);
  });
  return { captured, spy };
}

afterEach(() => {
  vi.restoreAllMocks();
});

// The queue consumer keeps delivering in the background between tests (and
// after the last one), when no test stubs fetch: answer this file's test
// endpoints here, so nothing ever tries to resolve a .test host. Not a vi
// spy, so restoreAllMocks leaves it in place; stubFetch layers on top of it.
const networkFetch = globalThis.fetch.bind(globalThis);
globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
  const url = input instanceof Request ? input.url : String(input);
  if (url.includes("herald-hooks.test")) return new Response("no test is listening", { status: 503 });
  return networkFetch(input, init);
}) as typeof fetch;

// ─────────────── an independent Standard Webhooks verifier (WebCrypto only) ───────────────

function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/**
 * Verifies per https://www.standardwebhooks.com: the key is the base64 after
 * "whsec_"; the signed content is "{webhook-id}.{webhook-timestamp}.{body}";
 * webhook-signature is a space-separated list of "v1,<base64 HMAC-SHA256>";
 * the timestamp must be within 5 minutes.
 */
async function verifyStandardWebhook(secret: string, headers: Headers, body: string): Promise<boolean> {
  const id = headers.get("webhook-id");
  const timestamp = headers.get("webhook-timestamp");
  const signatures = headers.get("webhook-signature");
  if (!id || !timestamp || !signatures || !secret.startsWith("whsec_")) return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = await crypto.subtle.importKey("raw", fromBase64(secret.slice("whsec_".length)), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const content = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
  for (const entry of signatures.split(" ")) {
    const [version, sig] = entry.split(",");
    if (version !== "v1" || !sig) continue;
    if (await crypto.subtle.verify("HMAC", key, fromBase64(sig), content)) return true;
  }
  return false;
}

// ─────────────────────────────── CRUD ───────────────────────────────

describe("webhook endpoints: CRUD, roles, isolation", () => {
  it("creates an endpoint and shows its secret once, never in GET", async () => {
    const org = await setupOrg();
    const url = hookUrl();
    const res = await call("POST", "/api/v1/webhooks", {
      token: org.tokens.admin,
      body: { url, events: ["alert:*", "deal:won", "alert:*"], description: "Acme CRM" },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({
      organizationId: org.org,
      url,
      description: "Acme CRM",
      events: ["alert:*", "deal:won"],
      enabled: true,
      disabledReason: null,
      consecutiveFailures: 0,
    });
    expect(res.json.id).toMatch(/^whk_[0-9A-Z]{26}$/);
    expect(res.headers.get("Location")).toBe(`/api/v1/webhooks/${res.json.id}`);
    // whsec_ + base64 of 24 bytes = 32 characters, no padding.
    expect(res.json.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(fromBase64(res.json.secret.slice(6)).byteLength).toBe(24);

    const one = await call("GET", `/api/v1/webhooks/${res.json.id}`, { token: org.tokens.admin });
    expect(one.status).toBe(200);
    expect(one.json).not.toHaveProperty("secret");
    expect(one.text).not.toContain(res.json.secret);
    const { secret: _secret, ...withoutSecret } = res.json;
    expect(one.json).toEqual(withoutSecret);

    const list = await call("GET", "/api/v1/webhooks", { token: org.tokens.admin });
    expect(list.status).toBe(200);
    expect(list.json.items).toEqual([withoutSecret]);
    expect(list.text).not.toContain(res.json.secret);

    const second = await createHook(org.tokens.admin, {});
    expect(second.secret).not.toBe(res.json.secret);
  });

  it("updates url, events and description, and deletes", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, { description: "old" });
    const url = hookUrl("moved");
    const res = await call("PATCH", `/api/v1/webhooks/${hook.id}`, {
      token: org.tokens.admin,
      body: { url, events: ["alert:new"], description: null },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ url, events: ["alert:new"], description: null, enabled: true });
    expect(res.json).not.toHaveProperty("secret");

    expect((await call("DELETE", `/api/v1/webhooks/${hook.id}`, { token: org.tokens.admin })).status).toBe(204);
    const gone = await call("GET", `/api/v1/webhooks/${hook.id}`, { token: org.tokens.admin });
    expect(gone.status).toBe(404);
    expect(gone.json.error.code).toBe("WEBHOOK_NOT_FOUND");
    const again = await call("DELETE", `/api/v1/webhooks/${hook.id}`, { token: org.tokens.admin });
    expect(again.json.error.code).toBe("WEBHOOK_NOT_FOUND");
  });

  it.each(["service", "agent", "member"] as const)("refuses %s with 403 FORBIDDEN on every route", async (role) => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, {});
    const token = org.tokens[role];
    const attempts = [
      call("POST", "/api/v1/webhooks", { token, body: { url: hookUrl(), events: ["*"] } }),
      call("GET", "/api/v1/webhooks", { token }),
      call("GET", `/api/v1/webhooks/${hook.id}`, { token }),
      call("PATCH", `/api/v1/webhooks/${hook.id}`, { token, body: { enabled: false } }),
      call("DELETE", `/api/v1/webhooks/${hook.id}`, { token }),
      call("POST", `/api/v1/webhooks/${hook.id}/test`, { token }),
      call("GET", `/api/v1/webhooks/${hook.id}/deliveries`, { token }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status, res.text).toBe(403);
      expect(res.json.error.code).toBe("FORBIDDEN");
    }
    expect((await hookRow(org, hook.id))!.enabled).toBe(1);
  });

  it("answers 404 WEBHOOK_NOT_FOUND for another org's endpoint, and lists only its own", async () => {
    const a = await setupOrg();
    // On a's shard, so only the org check keeps a's endpoint from b.
    const b = await setupOrg(await orgBeside(a.org));
    const hook = await createHook(a.tokens.admin, {});
    const token = b.tokens.admin;
    const attempts = [
      call("GET", `/api/v1/webhooks/${hook.id}`, { token }),
      call("PATCH", `/api/v1/webhooks/${hook.id}`, { token, body: { enabled: false } }),
      call("DELETE", `/api/v1/webhooks/${hook.id}`, { token }),
      call("POST", `/api/v1/webhooks/${hook.id}/test`, { token }),
      call("GET", `/api/v1/webhooks/${hook.id}/deliveries`, { token }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status, res.text).toBe(404);
      expect(res.json.error.code).toBe("WEBHOOK_NOT_FOUND");
    }
    expect((await call("GET", "/api/v1/webhooks", { token })).json.items).toEqual([]);
    expect((await hookRow(a, hook.id))!.enabled).toBe(1);
  });

  it.each([
    ["no events", { events: [] }],
    ["21 patterns", { events: Array.from({ length: 21 }, (_, i) => `kpi:e${i}`) }],
    ["an uppercase name", { events: ["Alert:New"] }],
    ["a trailing colon", { events: ["alert:"] }],
    ["a glob inside a word", { events: ["al*"] }],
    ["a leading wildcard", { events: ["*:new"] }],
    ["a double star", { events: ["alert:**"] }],
    ["a reserved protocol name", { events: ["connected"] }],
    ["a non-string pattern", { events: [42] }],
    ["a URL that is not a URL", { url: "crm.example.com/hook" }],
    ["an unknown field", { secret: "whsec_mine" }],
    ["a description over 500 characters", { description: "d".repeat(501) }],
  ])("refuses %s with 400 VALIDATION_FAILED", async (_what, override) => {
    const org = await setupOrg();
    const res = await call("POST", "/api/v1/webhooks", { token: org.tokens.admin, body: { url: hookUrl(), events: ["alert:*"], ...override } });
    expect(res.status, res.text).toBe(400);
    expect(res.json.error.code).toBe("VALIDATION_FAILED");
    expect((await call("GET", "/api/v1/webhooks", { token: org.tokens.admin })).json.items).toEqual([]);
  });

  it("accepts 20 patterns of every form, and refuses an empty PATCH", async () => {
    const org = await setupOrg();
    const events = ["*", "alert:*", "alert:new", "presence:*", "deal:won:big", ...Array.from({ length: 15 }, (_, i) => `kpi:e${i}`)];
    const hook = await createHook(org.tokens.admin, { events });
    expect(hook.events).toEqual(events);
    const res = await call("PATCH", `/api/v1/webhooks/${hook.id}`, { token: org.tokens.admin, body: {} });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("VALIDATION_FAILED");
  });
});

// ─────────────────────────────── URL safety ───────────────────────────────

const app = createApp();

/** Calls a fresh app with ALLOW_INSECURE_WEBHOOKS overridden, as that deployment would run. */
async function callWith(overrides: Partial<Env>, method: string, path: string, token: string, body?: unknown) {
  const headers = new Headers({ Authorization: `Bearer ${token}` });
  if (body !== undefined) headers.set("Content-Type", "application/json");
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`${BASE}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
}

const SECURE = { ALLOW_INSECURE_WEBHOOKS: "false" } as Partial<Env>;

const REFUSED: [string, string][] = [
  ["plain http", "http://crm.example.com/hook"],
  ["an ftp URL", "ftp://crm.example.com/hook"],
  ["a file URL", "file:///etc/passwd"],
  ["a javascript URL", "javascript:alert(1)"],
  ["a gopher URL", "gopher://crm.example.com:70/_x"],
  ["credentials", "https://user:pass@crm.example.com/hook"],
  ["a username only", "https://token@crm.example.com/hook"],
  ["localhost", "https://localhost/hook"],
  ["localhost with a trailing dot", "https://localhost./hook"],
  ["*.localhost", "https://api.localhost/hook"],
  ["a .internal name", "https://metadata.google.internal/computeMetadata/v1/"],
  ["a single-label host", "https://intranet/hook"],
  ["loopback 127.0.0.1", "https://127.0.0.1/hook"],
  ["loopback 127.8.9.10", "https://127.8.9.10:8443/hook"],
  ["IPv6 loopback", "https://[::1]/hook"],
  ["0.0.0.0", "https://0.0.0.0/hook"],
  ["IPv6 unspecified", "https://[::]/hook"],
  ["private 10/8", "https://10.1.2.3/hook"],
  ["private 172.16/12", "https://172.16.0.1/hook"],
  ["private 172.31.x", "https://172.31.255.255/hook"],
  ["private 192.168/16", "https://192.168.1.10/hook"],
  ["unique local fc00::/7", "https://[fc00::1]/hook"],
  ["unique local fd00::", "https://[fd12:3456::1]/hook"],
  ["the metadata address", "https://169.254.169.254/latest/meta-data/"],
  ["link-local 169.254/16", "https://169.254.1.1/hook"],
  ["IPv6 link-local", "https://[fe80::1]/hook"],
  ["CGNAT 100.64/10", "https://100.64.0.1/hook"],
  ["CGNAT 100.127.x", "https://100.127.255.254/hook"],
  ["IPv4-mapped loopback", "https://[::ffff:127.0.0.1]/hook"],
  ["IPv4-mapped private (hex form)", "https://[::ffff:a00:1]/hook"],
  ["IPv4-mapped metadata", "https://[::ffff:169.254.169.254]/hook"],
  ["NAT64 of the metadata address", "https://[64:ff9b::a9fe:a9fe]/hook"],
  ["decimal IPv4 (127.0.0.1)", "https://2130706433/hook"],
  ["octal IPv4", "https://0177.0.0.1/hook"],
  ["hex IPv4", "https://0x7f000001/hook"],
  ["short hex IPv4", "https://0x7f.1/hook"],
  ["decimal metadata address", "https://2852039166/hook"],
  ["multicast", "https://224.0.0.1/hook"],
  ["broadcast", "https://255.255.255.255/hook"],
  // Issue 9: IPv4-translated (RFC 2765/6145) and local-use NAT64 (RFC 8215) forms of loopback and metadata.
  ["IPv4-translated loopback", "https://[::ffff:0:7f00:1]/"],
  ["IPv4-translated metadata", "https://[::ffff:0:a9fe:a9fe]/"],
  ["local-use NAT64 of loopback", "https://[64:ff9b:1::7f00:1]/"],
  ["local-use NAT64 of the metadata address", "https://[64:ff9b:1::a9fe:a9fe]/"],
  ["local-use NAT64 of a public address (the prefix is never global)", "https://[64:ff9b:1::808:808]/"],
  ["NAT64 of loopback", "https://[64:ff9b::127.0.0.1]/"],
  ["IPv4-mapped loopback (hex form)", "https://[::ffff:7f00:1]/"],
  ["IPv4-compatible loopback", "https://[::127.0.0.1]/"],
  ["IPv4-compatible (deprecated) public", "https://[::8.8.8.8]/"],
  ["6to4 of loopback", "https://[2002:7f00:1::1]/"],
  ["6to4 of the metadata address", "https://[2002:a9fe:a9fe::1]/"],
  ["6to4 of a private address", "https://[2002:c0a8:101::1]/"],
  ["Teredo", "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/"],
  ["IPv6 documentation 2001:db8::/32", "https://[2001:db8::1]/"],
  ["IPv6 discard-only 100::/64", "https://[100::1]/"],
  ["IPv6 site-local", "https://[fec0::1]/"],
  ["IPv6 multicast", "https://[ff02::1]/"],
  ["IPv6 outside 2000::/3", "https://[4000::1]/"],
  ["TEST-NET-1", "https://192.0.2.10/"],
  ["TEST-NET-3", "https://203.0.113.7/"],
  ["benchmarking 198.18/15", "https://198.18.0.1/"],
  ["the 6to4 relay anycast", "https://192.88.99.1/"],
  ["decimal IPv4 over http", "http://2130706433/"],
  ["loopback with a trailing dot", "https://127.0.0.1./"],
  ["localhost with two trailing dots", "https://localhost../"],
  ["*.localhost with a trailing dot", "https://a.b.localhost./"],
  ["LOCALHOST in capitals", "https://LOCALHOST/"],
];

describe("webhook URL safety (SSRF)", () => {
  it.each(REFUSED)("refuses %s with 400 WEBHOOK_URL_NOT_ALLOWED when ALLOW_INSECURE_WEBHOOKS=false", async (_what, url) => {
    const org = await setupOrg();
    const res = await callWith(SECURE, "POST", "/api/v1/webhooks", org.tokens.admin, { url, events: ["alert:*"] });
    expect(res.status, res.text).toBe(400);
    expect(res.json.error.code).toBe("WEBHOOK_URL_NOT_ALLOWED");
    expect(res.json.error.details.reason).toEqual(expect.any(String));
    expect(checkWebhookUrl(url, { allowInsecure: false }).ok).toBe(false);
  });

  it.each([
    "https://crm.example.com/hooks/herald?tenant=1",
    "https://crm.example.com:8443/hook",
    "https://8.8.8.8/hook",
    "https://172.32.0.1/hook",
    "https://100.128.0.1/hook",
    "https://192.169.0.1/hook",
    "https://[2606:4700:4700::1111]/hook",
    // Embedded IPv4 forms are judged by the address they embed.
    "https://[::ffff:8.8.8.8]/hook",
    "https://[64:ff9b::808:808]/hook",
    "https://[2002:808:808::1]/hook",
    "https://hooks.example.com./hook",
    "https://0xface.cafe/hook",
    "https://1password.example.com/hook",
  ])("allows the public target %s", (url) => {
    expect(checkWebhookUrl(url, { allowInsecure: false })).toMatchObject({ ok: true });
  });

  it("refuses a PATCH to a forbidden URL and keeps the old one", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, { url: "https://crm.example.com/hook" });
    const res = await callWith(SECURE, "PATCH", `/api/v1/webhooks/${hook.id}`, org.tokens.admin, { url: "https://169.254.169.254/" });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("WEBHOOK_URL_NOT_ALLOWED");
    expect((await hookRow(org, hook.id))!.url).toBe("https://crm.example.com/hook");
  });

  it("allows http://localhost and private targets when ALLOW_INSECURE_WEBHOOKS=true (local dev)", async () => {
    const org = await setupOrg();
    const insecure = { ALLOW_INSECURE_WEBHOOKS: "true" } as Partial<Env>;
    for (const url of ["http://localhost:8788/hook", "http://127.0.0.1:9000/in", "https://10.0.0.5/hook", "http://[::1]:3000/x"]) {
      const res = await callWith(insecure, "POST", "/api/v1/webhooks", org.tokens.admin, { url, events: ["alert:*"] });
      expect(res.status, `${url}: ${res.text}`).toBe(201);
    }
    // Still never: credentials, or a scheme other than http(s).
    for (const url of ["http://user:pw@localhost:8788/hook", "ftp://localhost/x"]) {
      const res = await callWith(insecure, "POST", "/api/v1/webhooks", org.tokens.admin, { url, events: ["alert:*"] });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("WEBHOOK_URL_NOT_ALLOWED");
    }
  });

  // A URL stored while ALLOW_INSECURE_WEBHOOKS=true (or before a policy fix) is refused at send time, with no request.
  it.each(REFUSED.filter(([, url]) => checkWebhookUrl(url, { allowInsecure: true }).ok))(
    "refuses at send time %s stored earlier, without a request",
    async (_what, url) => {
      const org = await setupOrg();
      const created = await callWith({ ALLOW_INSECURE_WEBHOOKS: "true" } as Partial<Env>, "POST", "/api/v1/webhooks", org.tokens.admin, { url, events: ["alert:*"] });
      expect(created.status, created.text).toBe(201);
      const hook = created.json as { id: string; url: string };
      const { spy } = stubFetch([hook.url], () => new Response("ok"));
      const outcome = await webhookSender.send(await sendContext(org, SECURE), await seedDelivery(org, hook));
      expect(outcome).toMatchObject({ kind: "permanent", error: expect.stringMatching(/^URL not allowed: /) });
      expect(spy).not.toHaveBeenCalledWith(hook.url, expect.anything());
    },
  );

  it("refuses at send time a URL the current policy no longer allows, without a request", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, { url: "http://localhost:8788/hook" });
    const { captured } = stubFetch([hook.url], () => new Response("ok"));
    const delivery = await seedDelivery(org, hook);
    const outcome = await webhookSender.send(await sendContext(org, SECURE), delivery);
    expect(outcome).toMatchObject({ kind: "permanent" });
    expect(outcome.kind === "permanent" && outcome.error).toMatch(/URL not allowed: only https/);
    expect(captured).toHaveLength(0);
  });
});

// ─────────────────────────────── fan-out ───────────────────────────────

describe("webhook fan-out from events", () => {
  it("matches patterns: exact, prefix, and * without the internal high-frequency events", () => {
    expect(patternMatches("alert:*", "alert:new")).toBe(true);
    expect(patternMatches("alert:*", "alert:assigned")).toBe(true);
    expect(patternMatches("alert:*", "alerts:new")).toBe(false);
    expect(patternMatches("alert:new", "alert:new")).toBe(true);
    expect(patternMatches("alert:new", "alert:updated")).toBe(false);
    expect(patternMatches("*", "alert:new")).toBe(true);
    expect(patternMatches("*", "deal:won")).toBe(true);
    for (const internal of ["presence:online", "presence:offline", "stats:updated", "notification:new", "notification:read", "unread:count"]) {
      expect(patternMatches("*", internal)).toBe(false);
    }
    expect(patternMatches("presence:*", "presence:online")).toBe(true);
    expect(patternMatches("stats:updated", "stats:updated")).toBe(true);
    expect(patternMatches("notification:*", "notification:new")).toBe(true);
  });

  it("creates one delivery per matching endpoint for a new alert, none for the others, and never doubles on re-delivery", async () => {
    const org = await setupOrg();
    const prefix = await createHook(org.tokens.admin, { events: ["alert:*"] });
    const exact = await createHook(org.tokens.admin, { events: ["alert:new"] });
    const all = await createHook(org.tokens.admin, { events: ["*"] });
    const other = await createHook(org.tokens.admin, { events: ["alert:assigned", "deal:*"] });
    const disabled = await createHook(org.tokens.admin, { events: ["*"], enabled: false });
    // On the same shard, so only the org check keeps its endpoint out of this org's fan-out.
    const elsewhere = await setupOrg(await orgBeside(org.org));
    const foreign = await createHook(elsewhere.tokens.admin, { events: ["*"] });

    const created = await call("POST", "/api/v1/alerts", { token: org.tokens.service, body: alertBody() });
    expect(created.status, created.text).toBe(201);
    const alert = created.json;

    const rows = await deliveryRows(org.org);
    const webhookRows = rows.filter((r) => r.channel === "webhook");
    const byHook = (id: string) => webhookRows.filter((r) => r.webhookId === id);
    expect(byHook(prefix.id)).toHaveLength(1);
    expect(byHook(exact.id)).toHaveLength(1);
    expect(byHook(all.id)).toHaveLength(1);
    expect(byHook(other.id)).toHaveLength(0);
    expect(byHook(disabled.id)).toHaveLength(0);
    expect(webhookRows).toHaveLength(3);
    expect(await deliveryRows(elsewhere.org)).toHaveLength(0);
    expect(foreign.id).toBeTruthy();

    const row = byHook(prefix.id)[0]!;
    const d1 = await orgD1(org.org);
    const event = await d1.prepare("SELECT id, created_at FROM realtime_events WHERE org_id = ? AND type = 'alert:new' AND source = ?")
      .bind(org.org, `alert:${alert.id}`)
      .first<{ id: string; created_at: number }>();
    expect(row).toMatchObject({
      dedupeKey: `w:${prefix.id}:${event!.id}`,
      eventId: event!.id,
      channel: "webhook",
      address: prefix.url,
      provider: "webhook",
    });
    expect(row.payload).toEqual({
      id: event!.id,
      type: "alert:new",
      timestamp: new Date(event!.created_at).toISOString(),
      organizationId: org.org,
      data: { alert },
    });

    // The hubs' retry path and the cron sweep both run the fan-out again: nothing doubles.
    const ev: OutboundEvent = { id: event!.id, orgId: org.org, type: "alert:new", data: { alert }, ts: event!.created_at, userIds: [], source: `alert:${alert.id}` };
    const db = await orgDb(org.org);
    await deliverEvents(env, db, [ev]);
    await d1.prepare("UPDATE realtime_events SET published_at = NULL, created_at = created_at - 60000 WHERE id = ?").bind(event!.id).run();
    const swept = await sweepUnpublished(env, db, 10_000);
    expect(swept.delivered).toBeGreaterThanOrEqual(1);
    const after = (await deliveryRows(org.org)).filter((r) => r.channel === "webhook");
    expect(after.map((r) => r.id).sort()).toEqual(webhookRows.map((r) => r.id).sort());
    const published = await d1.prepare("SELECT published_at FROM realtime_events WHERE id = ?").bind(event!.id).first<{ published_at: number | null }>();
    expect(published!.published_at).not.toBeNull();
  });

  it("sends later events to an endpoint enabled in between (nothing is cached)", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, { events: ["alert:new"], enabled: false });
    await call("POST", "/api/v1/alerts", { token: org.tokens.admin, body: alertBody() });
    expect((await deliveryRows(org.org)).filter((r) => r.webhookId === hook.id)).toHaveLength(0);
    await call("PATCH", `/api/v1/webhooks/${hook.id}`, { token: org.tokens.admin, body: { enabled: true } });
    await call("POST", "/api/v1/alerts", { token: org.tokens.admin, body: alertBody() });
    expect((await deliveryRows(org.org)).filter((r) => r.webhookId === hook.id)).toHaveLength(1);
  });
});

// ─────────────────────────────── the sender ───────────────────────────────

describe("webhook sender", () => {
  it("POSTs the stored payload, signed per Standard Webhooks (verified independently)", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, {});
    const { captured } = stubFetch([hook.url], () => new Response(null, { status: 204 }));
    const delivery = await seedDelivery(org, hook);

    const outcome = await webhookSender.send(await sendContext(org), delivery);
    expect(outcome).toEqual({ kind: "sent", providerMessageId: delivery.eventId });
    expect(captured).toHaveLength(1);
    const req = captured[0]!;
    expect(req.url).toBe(hook.url);
    expect(req.redirect).toBe("manual");
    expect(req.headers.get("content-type")).toBe("application/json");
    expect(req.headers.get("user-agent")).toMatch(/^Herald-Webhooks\/\d+\.\d+\.\d+/);
    expect(req.headers.get("webhook-id")).toBe(delivery.eventId);
    expect(req.headers.get("webhook-signature")).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(req.body).toBe(JSON.stringify(delivery.payload));
    expect(JSON.parse(req.body)).toMatchObject({ id: delivery.eventId, type: "alert:new", organizationId: org.org, data: { hello: "world" } });

    expect(await verifyStandardWebhook(hook.secret, req.headers, req.body)).toBe(true);
    // A tampered body, another secret or another id fail.
    expect(await verifyStandardWebhook(hook.secret, req.headers, req.body.replace("world", "w0rld"))).toBe(false);
    const other = await createHook(org.tokens.admin, {});
    expect(await verifyStandardWebhook(other.secret, req.headers, req.body)).toBe(false);
    const forged = new Headers(req.headers);
    forged.set("webhook-id", "evt_other");
    expect(await verifyStandardWebhook(hook.secret, forged, req.body)).toBe(false);

    // A retry keeps the webhook-id (receivers deduplicate on it).
    await webhookSender.send(await sendContext(org), delivery);
    expect(captured[1]!.headers.get("webhook-id")).toBe(delivery.eventId);
    expect(await verifyStandardWebhook(hook.secret, captured[1]!.headers, captured[1]!.body)).toBe(true);
  });

  it.each([
    [200, {}, { kind: "sent" }],
    [202, {}, { kind: "sent" }],
    [400, {}, { kind: "permanent", status: 400 }],
    [401, {}, { kind: "permanent", status: 401 }],
    [404, {}, { kind: "permanent", status: 404 }],
    [422, {}, { kind: "permanent", status: 422 }],
    [302, { Location: "http://169.254.169.254/" }, { kind: "permanent", status: 302 }],
    [408, {}, { kind: "retry", status: 408 }],
    [429, { "Retry-After": "120" }, { kind: "retry", status: 429, retryAfterSeconds: 120 }],
    [500, {}, { kind: "retry", status: 500 }],
    [502, {}, { kind: "retry", status: 502 }],
    [503, {}, { kind: "retry", status: 503 }],
  ] as const)("classifies HTTP %i", async (status, headers, expected) => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, {});
    stubFetch([hook.url], () => new Response(status === 302 ? null : "receiver says no", { status, headers }));
    const outcome = await webhookSender.send(await sendContext(org), await seedDelivery(org, hook));
    expect(outcome).toMatchObject(expected);
    // Only 410 disables an endpoint by itself.
    expect((await hookRow(org, hook.id))!.enabled).toBe(1);
  });

  it("retries a network error and a timeout", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, {});
    stubFetch([hook.url], () => Promise.reject(new TypeError("Network connection lost.")));
    const network = await webhookSender.send(await sendContext(org), await seedDelivery(org, hook));
    expect(network).toMatchObject({ kind: "retry" });
    expect(network.kind === "retry" && network.error).toMatch(/^webhook: connection refused or closed before any response by crm\.herald-hooks\.test:443/);

    vi.restoreAllMocks();
    const controller = new AbortController();
    stubFetch([hook.url], (_req, signal) => {
      const hung = new Promise<Response>((_resolve, reject) => signal!.addEventListener("abort", () => reject(signal!.reason)));
      // DELIVERY_TIMEOUT_MS elapses while the receiver hangs (simulated, no waiting).
      controller.abort(new DOMException("The operation timed out.", "TimeoutError"));
      return hung;
    });
    const pending = webhookSender.send(await sendContext(org, {}, controller.signal), await seedDelivery(org, hook));
    const timeout = await pending;
    expect(timeout).toMatchObject({ kind: "retry" });
    expect(timeout.kind === "retry" && timeout.error).toMatch(/^webhook: timed out after \d+ ms — The operation timed out\.$/);
  });

  it("disables the endpoint on 410 Gone and tells the org's admins", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, {});
    stubFetch([hook.url], () => new Response("gone", { status: 410 }));
    const outcome = await webhookSender.send(await sendContext(org), await seedDelivery(org, hook));
    expect(outcome).toMatchObject({ kind: "permanent", status: 410 });
    const row = await hookRow(org, hook.id);
    expect(row!.enabled).toBe(0);
    expect(row!.disabled_reason).toMatch(/410/);

    const read = await call("GET", `/api/v1/webhooks/${hook.id}`, { token: org.tokens.admin });
    expect(read.json).toMatchObject({ enabled: false, disabledReason: expect.stringMatching(/410/) });
    await expectDisabledNotification(org, hook, /410/);

    // onFailed for that same delivery neither counts nor notifies again.
    await webhookSender.onFailed!(await sendContext(org), await seedDelivery(org, hook), "webhook 410: gone", 410);
    expect((await hookRow(org, hook.id))!.consecutive_failures).toBe(0);
    expect(await disabledNotifications(org)).toHaveLength(1);
  });

  it("refuses a disabled or deleted endpoint without a request", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, {});
    const { captured } = stubFetch([hook.url], () => new Response("ok"));
    const delivery = await seedDelivery(org, hook);
    await call("PATCH", `/api/v1/webhooks/${hook.id}`, { token: org.tokens.admin, body: { enabled: false } });
    const disabled = await webhookSender.send(await sendContext(org), delivery);
    expect(disabled).toMatchObject({ kind: "permanent", error: expect.stringMatching(/^endpoint disabled/) });
    expect((await hookRow(org, hook.id))!.disabled_reason).toBe("disabled by admin1");

    await call("DELETE", `/api/v1/webhooks/${hook.id}`, { token: org.tokens.admin });
    expect(await webhookSender.send(await sendContext(org), delivery)).toMatchObject({ kind: "permanent", error: "endpoint deleted" });
    expect(captured).toHaveLength(0);
  });

  it("follows the endpoint's current URL and records it on the delivery", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, {});
    const delivery = await seedDelivery(org, hook);
    const moved = hookUrl("moved");
    await call("PATCH", `/api/v1/webhooks/${hook.id}`, { token: org.tokens.admin, body: { url: moved } });
    const { captured } = stubFetch([moved], () => new Response("ok"));
    expect(await webhookSender.send(await sendContext(org), delivery)).toMatchObject({ kind: "sent" });
    expect(captured[0]!.url).toBe(moved);
    expect((await readDelivery(org, delivery.id)).address).toBe(moved);
  });
});

// ─────────────────────────── endpoint health ───────────────────────────

async function disabledNotifications(org: Org) {
  const { results } = await (await orgD1(org.org)).prepare("SELECT user_id, type, priority, data FROM notifications WHERE org_id = ? AND type = 'webhook.disabled'")
    .bind(org.org)
    .all<{ user_id: string; type: string; priority: string; data: string }>();
  return results;
}

async function expectDisabledNotification(org: Org, hook: { id: string; url: string }, reason: RegExp) {
  const rows = await disabledNotifications(org);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ user_id: "admin1", priority: "HIGH" });
  const data = JSON.parse(rows[0]!.data);
  expect(data).toMatchObject({ webhookId: hook.id, url: hook.url });
  expect(data.reason).toMatch(reason);
}

describe("endpoint health", () => {
  it("disables an endpoint after WEBHOOK_DISABLE_AFTER_FAILURES failed deliveries in a row, notifies admins once, and PATCH enabled resets it", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, {});
    const ctx = await sendContext(org);
    expect(ctx.config.delivery.webhookDisableAfterFailures).toBe(3);

    await webhookSender.onFailed!(ctx, await seedDelivery(org, hook), "webhook 500: boom", 500);
    await webhookSender.onFailed!(ctx, await seedDelivery(org, hook), "webhook 500: boom", 500);
    expect(await hookRow(org, hook.id)).toMatchObject({ enabled: 1, consecutive_failures: 2 });
    expect(await disabledNotifications(org)).toHaveLength(0);

    await webhookSender.onFailed!(ctx, await seedDelivery(org, hook), "webhook 500: boom", 500);
    const row = await hookRow(org, hook.id);
    expect(row).toMatchObject({ enabled: 0, consecutive_failures: 3 });
    expect(row!.disabled_reason).toMatch(/3 deliveries in a row failed.*webhook 500: boom/);
    await expectDisabledNotification(org, hook, /3 deliveries in a row/);

    await webhookSender.onFailed!(ctx, await seedDelivery(org, hook), "endpoint disabled");
    expect(await hookRow(org, hook.id)).toMatchObject({ consecutive_failures: 3 });
    expect(await disabledNotifications(org)).toHaveLength(1);

    const res = await call("PATCH", `/api/v1/webhooks/${hook.id}`, { token: org.tokens.admin, body: { enabled: true } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ enabled: true, disabledReason: null, consecutiveFailures: 0 });
  });

  it("a delivered message resets the failure count", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, {});
    const ctx = await sendContext(org);
    await webhookSender.onFailed!(ctx, await seedDelivery(org, hook), "webhook 503", 503);
    await webhookSender.onFailed!(ctx, await seedDelivery(org, hook), "webhook 503", 503);
    await webhookSender.onSent!(ctx, await seedDelivery(org, hook));
    expect(await hookRow(org, hook.id)).toMatchObject({ enabled: 1, consecutive_failures: 0 });
    await webhookSender.onFailed!(ctx, await seedDelivery(org, hook), "webhook 503", 503);
    expect(await hookRow(org, hook.id)).toMatchObject({ enabled: 1, consecutive_failures: 1 });
  });
});

// ─────────────────────── test deliveries and the log ───────────────────────

describe("test deliveries and the delivery log", () => {
  it("queues a signed webhook:test delivery and shows it in the log", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, {});
    const res = await call("POST", `/api/v1/webhooks/${hook.id}/test`, { token: org.tokens.admin });
    expect(res.status, res.text).toBe(202);
    expect(res.json).toMatchObject({ deliveryId: expect.stringMatching(/^dlv_/), eventId: expect.stringMatching(/^evt_/), status: "queued" });

    const log = await call("GET", `/api/v1/webhooks/${hook.id}/deliveries`, { token: org.tokens.admin });
    expect(log.status).toBe(200);
    expect(log.json.items).toHaveLength(1);
    expect(log.json.items[0]).toMatchObject({
      id: res.json.deliveryId,
      webhookId: hook.id,
      eventId: res.json.eventId,
      eventType: "webhook:test",
      url: hook.url,
      payload: { id: res.json.eventId, type: "webhook:test", organizationId: org.org, data: { webhookId: hook.id } },
    });

    const { captured } = stubFetch([hook.url], () => new Response("ok"));
    const outcome = await webhookSender.send(await sendContext(org), await readDelivery(org, res.json.deliveryId));
    expect(outcome).toMatchObject({ kind: "sent", providerMessageId: res.json.eventId });
    const sent = captured.at(-1)!;
    expect(JSON.parse(sent.body)).toMatchObject({ type: "webhook:test" });
    expect(await verifyStandardWebhook(hook.secret, sent.headers, sent.body)).toBe(true);
  });

  it("refuses to test a disabled endpoint with 409 WEBHOOK_DISABLED", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, { enabled: false });
    const res = await call("POST", `/api/v1/webhooks/${hook.id}/test`, { token: org.tokens.admin });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("WEBHOOK_DISABLED");
  });

  it("pages the log newest first and filters by status", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, {});
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await call("POST", `/api/v1/webhooks/${hook.id}/test`, { token: org.tokens.admin })).json.deliveryId);
    await (await orgD1(org.org)).prepare("UPDATE deliveries SET status = 'failed', last_error = 'webhook 404' WHERE id = ?").bind(ids[0]).run();

    const first = await call("GET", `/api/v1/webhooks/${hook.id}/deliveries?limit=2`, { token: org.tokens.admin });
    expect(first.json.items.map((d: { id: string }) => d.id)).toEqual([ids[2], ids[1]]);
    expect(first.json.nextCursor).toEqual(expect.any(String));
    const second = await call("GET", `/api/v1/webhooks/${hook.id}/deliveries?limit=2&cursor=${first.json.nextCursor}`, { token: org.tokens.admin });
    expect(second.json.items.map((d: { id: string }) => d.id)).toEqual([ids[0]]);
    expect(second.json.nextCursor).toBeNull();

    const failed = await call("GET", `/api/v1/webhooks/${hook.id}/deliveries?status=failed`, { token: org.tokens.admin });
    expect(failed.json.items).toEqual([expect.objectContaining({ id: ids[0], status: "failed", lastError: "webhook 404" })]);

    for (const [query, code] of [
      ["limit=101", "VALIDATION_FAILED"],
      ["status=lost", "VALIDATION_FAILED"],
      ["cursor=not-ours", "INVALID_CURSOR"],
    ]) {
      const res = await call("GET", `/api/v1/webhooks/${hook.id}/deliveries?${query}`, { token: org.tokens.admin });
      expect(res.status, query).toBe(400);
      expect(res.json.error.code).toBe(code);
    }
  });
});

// ─────────────────────────── through the queue consumer ───────────────────────────

/** The consumer on one message about `delivery`. */
const runQueue = (msgId: string, attempts: number, delivery: { id: string; orgId: string }) =>
  runSharedQueue("herald-deliveries", [{ id: msgId, attempts, body: { deliveryId: delivery.id, orgId: delivery.orgId } }], env);

describe("through the queue consumer", () => {
  it("sends a queued webhook delivery once, acks it, and a redelivered message does not send again", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, {});
    const delivery = await seedDelivery(org, hook);
    const { captured } = stubFetch([hook.url], () => new Response("ok"));

    const run = (msgId: string) => runQueue(msgId, 1, delivery);
    const first = await run("m1");
    expect(first.explicitAcks).toEqual(["m1"]);
    const row = await readDelivery(org, delivery.id);
    expect(row).toMatchObject({ status: "sent", attempts: 1, providerMessageId: delivery.eventId, lastError: null });
    const mine = captured.filter((c) => c.url === hook.url);
    expect(mine).toHaveLength(1);
    expect(await verifyStandardWebhook(hook.secret, mine[0]!.headers, mine[0]!.body)).toBe(true);

    const again = await run("m2");
    expect(again.explicitAcks).toEqual(["m2"]);
    expect(captured.filter((c) => c.url === hook.url)).toHaveLength(1);
  });

  it("retries a 429 with its Retry-After, and fails a 410 for good with the endpoint disabled", async () => {
    const org = await setupOrg();
    const hook = await createHook(org.tokens.admin, {});
    const delivery = await seedDelivery(org, hook);
    let status = 429;
    stubFetch([hook.url], () => new Response("slow down", { status, headers: status === 429 ? { "Retry-After": "30" } : {} }));

    const run = (msgId: string, attempts: number) => runQueue(msgId, attempts, delivery);
    const first = await run("r1", 1);
    expect(first.retryMessages).toEqual([{ msgId: "r1", delaySeconds: 30 }]);
    expect(await readDelivery(org, delivery.id)).toMatchObject({ status: "queued", attempts: 1, lastError: expect.stringMatching(/429/) });

    status = 410;
    const second = await run("r2", 2);
    expect(second.explicitAcks).toEqual(["r2"]);
    expect(await readDelivery(org, delivery.id)).toMatchObject({ status: "failed", attempts: 2, lastError: expect.stringMatching(/410/) });
    expect(await hookRow(org, hook.id)).toMatchObject({ enabled: 0, consecutive_failures: 0 });
    await expectDisabledNotification(org, hook, /410/);
  });
});

// Tokens of an org that never registered anything see an empty list, not an error.
it("lists nothing for a fresh org", async () => {
  const token = await makeToken({ org: `org-${crypto.randomUUID().slice(0, 8)}`, role: "admin" });
  const res = await call("GET", "/api/v1/webhooks", { token });
  expect(res.status).toBe(200);
  expect(res.json).toEqual({ items: [] });
});

it("documents the webhook routes in /openapi.json", async () => {
  const res = await call("GET", "/openapi.json");
  expect(res.status).toBe(200);
  for (const path of ["/api/v1/webhooks", "/api/v1/webhooks/{id}", "/api/v1/webhooks/{id}/test", "/api/v1/webhooks/{id}/deliveries"]) {
    expect(res.json.paths).toHaveProperty([path]);
  }
  expect(res.json.components.schemas).toHaveProperty("CreatedWebhook");
});
