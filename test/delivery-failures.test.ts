import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import { getConfig } from "../src/config";
import { deliveries, type DeliveryRow } from "../src/db/schema";
import { describeFailure } from "../src/delivery/http";
import type { SendContext } from "../src/delivery/types";
import { webhookSender } from "../src/delivery/webhook";
import { newWebhookDelivery } from "../src/outbox/webhooks";
import { BASE, call, setupOrg } from "./helpers";
import { runQueue } from "./queue-helpers";
import { orgDb } from "./shard-helpers";

afterEach(() => {
  vi.restoreAllMocks();
});

// What workerd's fetch throws, measured (workerd 2026-11, `npm test`): a closed
// port → Error "Network connection lost." (retryable: true; the OS's "Connection
// refused" only reaches workerd's log); a name that does not resolve and a
// failed TLS handshake → Error "internal error; reference = …" (the cause only
// in workerd's log); our AbortSignal.timeout → DOMException TimeoutError. On
// Cloudflare's network the same failures come back as responses: 530 with
// "error code: 1016" (DNS), 521 (refused), 522 (connect timeout), 525/526 (TLS).
const lost = () => Object.assign(new Error("Network connection lost."), { retryable: true, remote: true });
const internal = () => Object.assign(new Error("internal error; reference = abc123"), { remote: true });

describe("describeFailure: what an operator reads in lastError", () => {
  it.each([
    ["a closed port (workerd)", { url: "http://127.0.0.1:1/hook", error: lost() }, "refused", /^connection refused or closed before any response by 127\.0\.0\.1:1 \(is the receiver running and listening there\?\)$/, "Network connection lost."],
    ["a name that does not resolve, http", { url: "http://hooks.example.com/in", error: internal() }, "dns", /^DNS failure: hooks\.example\.com did not resolve$/, "internal error; reference = abc123"],
    ["a reserved .invalid name, https", { url: "https://crm.herald.invalid/in", error: internal() }, "dns", /^DNS failure: crm\.herald\.invalid did not resolve$/, undefined],
    ["a TLS failure to an address literal", { url: "https://203.0.114.9:8443/in", error: internal() }, "tls", /^TLS failure: the TLS handshake with 203\.0\.114\.9:8443 failed/, undefined],
    ["a public name over https (DNS or TLS, workerd cannot tell)", { url: "https://hooks.example.com/in", error: internal() }, "dns_or_tls", /^DNS or TLS failure connecting to hooks\.example\.com:443/, undefined],
    ["an explicit ECONNREFUSED", { url: "https://hooks.example.com/in", error: new Error("connect ECONNREFUSED 1.2.3.4:443") }, "refused", /^connection refused by hooks\.example\.com:443/, undefined],
    ["a certificate error", { url: "https://hooks.example.com/in", error: new Error("TLS peer's certificate is not trusted") }, "tls", /^TLS failure/, undefined],
    ["a timeout", { url: "https://hooks.example.com/in", error: new DOMException("The operation was aborted due to timeout", "TimeoutError"), timedOut: true, timeoutMs: 10_000 }, "timeout", /^timed out after 10000 ms$/, "The operation was aborted due to timeout"],
    ["HTTP 500", { url: "https://hooks.example.com/in", status: 500, body: "boom" }, "http", /^HTTP 500 Internal Server Error$/, "boom"],
    ["HTTP 404 with a JSON error", { url: "https://hooks.example.com/in", status: 404, body: '{"message":"no such hook"}' }, "http", /^HTTP 404 Not Found$/, "no such hook"],
    ["a redirect", { url: "https://hooks.example.com/in", status: 302, location: "http://169.254.169.254/" }, "http", /^HTTP 302 Found \(redirect to http:\/\/169\.254\.169\.254\/ not followed\)$/, undefined],
    ["Cloudflare 530/1016", { url: "https://gone.example.com/in", status: 530, body: "error code: 1016" }, "dns", /^DNS failure: gone\.example\.com did not resolve \(Cloudflare 1016\)$/, "error code: 1016"],
    ["Cloudflare 521", { url: "https://hooks.example.com/in", status: 521, body: "error code: 521" }, "refused", /^connection refused by hooks\.example\.com:443 \(HTTP 521\)/, undefined],
    ["Cloudflare 522", { url: "https://hooks.example.com/in", status: 522 }, "timeout", /^connection to hooks\.example\.com:443 timed out \(HTTP 522\)/, undefined],
    ["Cloudflare 525", { url: "https://hooks.example.com/in", status: 525 }, "tls", /^TLS failure: the TLS handshake with hooks\.example\.com:443 failed \(HTTP 525\)/, undefined],
    ["Cloudflare 526", { url: "https://hooks.example.com/in", status: 526 }, "tls", /^TLS failure: invalid certificate at hooks\.example\.com:443 \(HTTP 526\)/, undefined],
  ] as const)("%s", (_what, input, kind, summary, detail) => {
    const d = describeFailure(input);
    expect(d.kind).toBe(kind);
    expect(d.summary).toMatch(summary);
    if (detail !== undefined) expect(d.detail).toBe(detail);
  });
});

// ───────────── through the real delivery path and the API ─────────────

const app = createApp();
const INSECURE = { ALLOW_INSECURE_WEBHOOKS: "true" } as Partial<Env>;

async function registerHook(token: string, url: string) {
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`${BASE}/api/v1/webhooks`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ url, events: ["alert:*"] }),
    }),
    { ...env, ...INSECURE },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; url: string };
}

async function seedDelivery(orgId: string, hook: { id: string; url: string }): Promise<DeliveryRow> {
  const now = new Date();
  const row = newWebhookDelivery({ id: hook.id, orgId, url: hook.url }, { id: `evt_${crypto.randomUUID()}`, type: "alert:new", ts: now.getTime(), data: { n: 1 } }, now);
  const db = await orgDb(orgId);
  await db.insert(deliveries).values(row);
  return (await db.select().from(deliveries).where(eq(deliveries.id, row.id!)))[0]!;
}

describe("failure reasons through the queue consumer, as GET /webhooks/:id/deliveries shows them", () => {
  it("a port where nothing listens: retried with 'connection refused', then failed with it after the retries", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const org = await setupOrg();
    const hook = await registerHook(org.tokens.admin, "http://127.0.0.1:1/herald");
    const delivery = await seedDelivery(org.org, hook);
    const e = { ...env, ...INSECURE } as Env;

    const first = await runQueue("herald-deliveries", [{ id: "m1", body: { deliveryId: delivery.id, orgId: org.org } }], e);
    expect(first.retryMessages.map((m) => m.msgId)).toEqual(["m1"]);
    const log1 = await call("GET", `/api/v1/webhooks/${hook.id}/deliveries`, { token: org.tokens.admin });
    expect(log1.json.items[0]).toMatchObject({
      id: delivery.id,
      status: "queued",
      lastError: "webhook: connection refused or closed before any response by 127.0.0.1:1 (is the receiver running and listening there?) — Network connection lost.",
    });

    await runQueue("herald-deliveries-dlq", [{ id: "d1", body: { deliveryId: delivery.id, orgId: org.org } }], e);
    const log2 = await call("GET", `/api/v1/webhooks/${hook.id}/deliveries`, { token: org.tokens.admin });
    expect(log2.json.items[0]).toMatchObject({ id: delivery.id, status: "failed" });
    expect(log2.json.items[0].lastError).toBe(
      "gave up after 1 attempts: webhook: connection refused or closed before any response by 127.0.0.1:1 (is the receiver running and listening there?) — Network connection lost.",
    );
  });

  it("a name that does not resolve: DNS failure", async () => {
    const org = await setupOrg();
    const hook = await registerHook(org.tokens.admin, "https://no-such-receiver.herald.invalid/in");
    const delivery = await seedDelivery(org.org, hook);
    const e = { ...env, ...INSECURE } as Env;
    await runQueue("herald-deliveries", [{ id: "m1", body: { deliveryId: delivery.id, orgId: org.org } }], e);
    const log = await call("GET", `/api/v1/webhooks/${hook.id}/deliveries`, { token: org.tokens.admin });
    expect(log.json.items[0].lastError).toMatch(/^webhook: DNS failure: no-such-receiver\.herald\.invalid did not resolve — /);
  });

  it("a receiver that answers 500: HTTP 500 Internal Server Error with its message", async () => {
    const org = await setupOrg();
    const hook = await registerHook(org.tokens.admin, "https://crm.example.com/herald-500");
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) =>
      String(input instanceof Request ? input.url : input) === hook.url ? new Response("database is down", { status: 500 }) : real(input, init),
    );
    const delivery = await seedDelivery(org.org, hook);
    await runQueue("herald-deliveries", [{ id: "m1", body: { deliveryId: delivery.id, orgId: org.org } }], { ...env, ...INSECURE } as Env);
    const log = await call("GET", `/api/v1/webhooks/${hook.id}/deliveries`, { token: org.tokens.admin });
    expect(log.json.items[0].lastError).toBe("webhook: HTTP 500 Internal Server Error — database is down");
  });

  it("a receiver that hangs past DELIVERY_TIMEOUT_MS: timed out after N ms", async () => {
    const org = await setupOrg();
    const hook = await registerHook(org.tokens.admin, "https://crm.example.com/herald-slow");
    vi.spyOn(globalThis, "fetch").mockImplementation(
      (_input, init) => new Promise((_resolve, reject) => init!.signal!.addEventListener("abort", () => reject(init!.signal!.reason))),
    );
    const delivery = await seedDelivery(org.org, hook);
    const e = { ...env, ...INSECURE, DELIVERY_TIMEOUT_MS: "150" } as Env;
    const ctx: SendContext = { env: e, db: await orgDb(org.org), config: getConfig(e), signal: AbortSignal.timeout(150) };
    const outcome = await webhookSender.send(ctx, delivery);
    expect(outcome).toMatchObject({ kind: "retry", error: "webhook: timed out after 150 ms — The operation was aborted due to timeout" });
  });
});
