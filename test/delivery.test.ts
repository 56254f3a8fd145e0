import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import { deliveries, devOutbox, type DeliveryRow } from "../src/db/schema";
import { backoffSeconds, MAX_QUEUE_DELAY_SECONDS, parseRetryAfter, retryDelaySeconds } from "../src/delivery/backoff";
import { channelSenders } from "../src/delivery/channels";
import { renderEmail, renderSms, UNSUBSCRIBE_URL_SLOT, type RenderedEmail } from "../src/delivery/email-templates";
import type { ChannelSender } from "../src/delivery/types";
import { newId } from "../src/lib/ids";
import { BASE, call, makeToken, uniqueOrg } from "./helpers";
import { runQueue as runSharedQueue, type TestMessage } from "./queue-helpers";
import { orgBeside, orgDb } from "./shard-helpers";

const QUEUE = "herald-deliveries";
const DLQ = "herald-deliveries-dlq";

/**
 * A deployment's env with some vars and secrets overridden (getConfig parses
 * each new object afresh). Starts from the log providers and no provider
 * secrets, whatever a developer's .dev.vars holds.
 */
const withEnv = (overrides: Record<string, unknown>) =>
  ({
    ...env,
    EMAIL_PROVIDER: "log",
    SMS_PROVIDER: "log",
    SENDGRID_API_KEY: "",
    RESEND_API_KEY: "",
    TWILIO_AUTH_TOKEN: "",
    PUBLIC_BASE_URL: "http://localhost:8787",
    ...overrides,
  }) as Env;
const logEnv = withEnv({});
const sendgridEnv = withEnv({ EMAIL_PROVIDER: "sendgrid", SENDGRID_API_KEY: "sg-test-key" });
const resendEnv = withEnv({ EMAIL_PROVIDER: "resend", RESEND_API_KEY: "re-test-key" });
const twilioEnv = withEnv({
  SMS_PROVIDER: "twilio",
  TWILIO_ACCOUNT_SID: "AC0123456789abcdef0123456789abcdef",
  TWILIO_AUTH_TOKEN: "twilio-token",
  TWILIO_FROM: "+15005550006",
});

function emailPayload(title = "Jane Doe is likely to sell") {
  return renderEmail({
    notification: {
      id: newId("ntf"),
      type: "alert.new",
      title,
      message: "Score jumped after three signals",
      actionUrl: "https://app.example.com/alerts/1",
      actionText: "Open the alert",
      priority: "HIGH",
      data: { score: 0.91 },
    },
    recipient: { name: "Avery Agent", email: "agent1@example.com" },
    orgId: "acme",
    publicBaseUrl: "http://localhost:8787",
  });
}

/** Inserts a delivery row as the notification service would. */
async function insertDelivery(orgId: string, overrides: Partial<typeof deliveries.$inferInsert> = {}): Promise<DeliveryRow> {
  const id = newId("dlv");
  const now = new Date();
  const channel = overrides.channel ?? "email";
  const [row] = await (await orgDb(orgId))
    .insert(deliveries)
    .values({
      id,
      orgId,
      dedupeKey: `n:${id}:${channel}`,
      notificationId: newId("ntf"),
      userId: "agent1",
      channel,
      address: channel === "sms" ? "+14155550123" : "agent1@example.com",
      status: "queued",
      payload: channel === "sms" ? { text: "[CRITICAL] Server down" } : { ...emailPayload() },
      createdAt: now,
      updatedAt: now,
      ...overrides,
    })
    .returning();
  return row!;
}

/** A delivery row as stored now, read from its org's shard. */
const readDelivery = async (row: Pick<DeliveryRow, "id" | "orgId">) =>
  (await (await orgDb(row.orgId)).select().from(deliveries).where(eq(deliveries.id, row.id)).get())!;

/** The consumer over `logEnv` unless told otherwise. */
const runQueue = (queue: string, messages: TestMessage[], e: Env = logEnv) => runSharedQueue(queue, messages, e);

const payloadOf = (row: DeliveryRow) => row.payload as unknown as RenderedEmail;

const msgFor = (row: DeliveryRow, extra: Omit<TestMessage, "body"> = {}): TestMessage => ({
  ...extra,
  body: { deliveryId: row.id, orgId: row.orgId },
});

/** List-Unsubscribe of a sent email: the signed one-click link under PUBLIC_BASE_URL. */
const ONE_CLICK = /^<http:\/\/localhost:8787\/unsubscribe\?token=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+>$/;

/** The one-click link an email was sent with, checked against ONE_CLICK. */
function sentEmail(text: string, html: string, headers: Record<string, string>) {
  expect(headers["List-Unsubscribe"]).toMatch(ONE_CLICK);
  const link = headers["List-Unsubscribe"]!.slice(1, -1);
  expect(text).toContain(link);
  expect(html).toContain(link);
  return { link, headers };
}

/** The stored payload with its unsubscribe slot filled as the sender does. */
const expected = (payload: RenderedEmail, link: string) => ({
  text: payload.text.replaceAll(UNSUBSCRIBE_URL_SLOT, link),
  html: payload.html.replaceAll(UNSUBSCRIBE_URL_SLOT, link),
});

/** Stubs every outbound fetch with one response (a fresh Response per call). */
function stubFetch(respond: (req: Request) => Response | Promise<Response>) {
  return vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => respond(new Request(input, init)));
}

/** Replaces a channel sender's hooks for one test (restored in afterEach). */
const originalSenders = { ...channelSenders };
function withHooks(channel: keyof typeof channelSenders, hooks: Partial<ChannelSender>) {
  channelSenders[channel] = { ...originalSenders[channel], ...hooks };
}

beforeEach(() => {
  vi.spyOn(console, "log").mockImplementation(() => {});
  vi.spyOn(console, "warn").mockImplementation(() => {});
});

afterEach(() => {
  vi.restoreAllMocks();
  Object.assign(channelSenders, originalSenders);
});

describe("queue consumer: outcomes of a provider call", () => {
  it("marks a delivery sent on SendGrid 202, with one attempt and the provider's message id", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    const requests: Request[] = [];
    const fetchSpy = stubFetch((req) => {
      requests.push(req);
      return new Response(null, { status: 202, headers: { "X-Message-Id": "sg-msg-1" } });
    });

    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1" })], sendgridEnv);

    expect(result.explicitAcks).toEqual(["m1"]);
    expect(result.retryMessages).toEqual([]);
    expect(result.ackAll).toBe(false);
    expect(result.retryBatch.retry).toBe(false);
    expect(fetchSpy).toHaveBeenCalledTimes(1);
    const saved = await readDelivery(row);
    expect(saved).toMatchObject({ status: "sent", attempts: 1, provider: "sendgrid", providerMessageId: "sg-msg-1", lastError: null });
    expect(saved.sentAt).toBeInstanceOf(Date);

    const req = requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.url).toBe("https://api.sendgrid.com/v3/mail/send");
    expect(req.headers.get("Authorization")).toBe("Bearer sg-test-key");
    const body = (await req.json()) as any;
    const payload = payloadOf(row);
    expect(body).toMatchObject({
      personalizations: [{ to: [{ email: "agent1@example.com" }] }],
      from: { email: "notifications@herald.invalid", name: "Herald" },
      subject: payload.subject,
      custom_args: { delivery_id: row.id },
    });
    // The one-click link is signed for this send and put into both bodies and the headers.
    const sent = sentEmail(body.content[0].value, body.content[1].value, body.headers);
    expect(sent.headers).toEqual({
      "X-Entity-Ref-ID": payload.headers["X-Entity-Ref-ID"],
      "List-Unsubscribe": expect.stringMatching(ONE_CLICK),
      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      // SendGrid has no idempotency key: the same Message-ID on every attempt, and the delivery id in custom_args.
      "Message-ID": `<${row.id}@herald.invalid>`,
    });
    expect(body.content).toEqual([
      { type: "text/plain", value: expected(payload, sent.link).text },
      { type: "text/html", value: expected(payload, sent.link).html },
    ]);
  });

  it("fails a delivery for good on a 4xx, with the provider's reason, acked and not retried", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    const onFailed = vi.fn(async () => {});
    withHooks("email", { onFailed });
    stubFetch(
      () =>
        new Response(JSON.stringify({ errors: [{ message: "The from address does not match a verified Sender Identity", field: "from" }] }), {
          status: 403,
          headers: { "Content-Type": "application/json" },
        }),
    );

    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1" })], sendgridEnv);

    expect(result.explicitAcks).toEqual(["m1"]);
    expect(result.retryMessages).toEqual([]);
    const saved = await readDelivery(row);
    expect(saved.status).toBe("failed");
    expect(saved.attempts).toBe(1);
    expect(saved.lastError).toBe("sendgrid: HTTP 403 Forbidden — The from address does not match a verified Sender Identity");
    expect(onFailed).toHaveBeenCalledTimes(1);
    expect(onFailed).toHaveBeenCalledWith(expect.anything(), expect.objectContaining({ id: row.id, status: "failed" }), saved.lastError, 403);
  });

  it("keeps at most 500 characters of a provider's error, however long the body", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    stubFetch(() => new Response("x".repeat(1_000_000), { status: 400 }));

    await runQueue(QUEUE, [msgFor(row)], sendgridEnv);

    const saved = await readDelivery(row);
    expect(saved.status).toBe("failed");
    expect(saved.lastError!.startsWith("sendgrid: HTTP 400 Bad Request — xxx")).toBe(true);
    expect(saved.lastError!.length).toBe(500);
  });

  it("retries a 429 after the provider's Retry-After, not the backoff", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    stubFetch(() => new Response("Too many requests", { status: 429, headers: { "Retry-After": "120" } }));

    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1" })], sendgridEnv);

    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: "m1", delaySeconds: 120 }]);
    const saved = await readDelivery(row);
    expect(saved).toMatchObject({ status: "queued", attempts: 1, lastError: "sendgrid: HTTP 429 Too Many Requests — Too many requests" });
  });

  it("retries a 5xx with exponential backoff within the bounds of this attempt", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org, { attempts: 2 });
    stubFetch(() => new Response("upstream unavailable", { status: 503 }));

    // third attempt: base 10 s × 2^2 = at most 40 s
    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1", attempts: 3 })], sendgridEnv);

    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
    const delay = result.retryMessages[0]!.delaySeconds!;
    expect(delay).toBeGreaterThanOrEqual(1);
    expect(delay).toBeLessThanOrEqual(40);
    expect(await readDelivery(row)).toMatchObject({ status: "queued", attempts: 3, lastError: "sendgrid: HTTP 503 Service Unavailable — upstream unavailable" });
  });

  it("retries a network error", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Network connection lost."));

    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1" })], sendgridEnv);

    expect(result.retryMessages).toHaveLength(1);
    expect(result.retryMessages[0]!.delaySeconds).toBeLessThanOrEqual(10);
    const saved = await readDelivery(row);
    expect(saved.status).toBe("queued");
    expect(saved.lastError).toBe(
      "sendgrid: connection refused or closed before any response by api.sendgrid.com:443 (is the receiver running and listening there?) — Network connection lost.",
    );
  });

  it("aborts a provider call that outlives DELIVERY_TIMEOUT_MS and retries it", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    let signalled: AbortSignal | undefined;
    vi.spyOn(globalThis, "fetch").mockImplementation(
      (_input, init) =>
        new Promise<Response>((_resolve, reject) => {
          signalled = init?.signal ?? undefined;
          init?.signal?.addEventListener("abort", () => reject(init.signal!.reason));
        }),
    );

    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1" })], { ...sendgridEnv, DELIVERY_TIMEOUT_MS: "100" } as Env);

    expect(signalled?.aborted).toBe(true);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
    const saved = await readDelivery(row);
    expect(saved.status).toBe("queued");
    expect(saved.lastError).toMatch(/^sendgrid: timed out after 100 ms — /);
  });

  it("ends an attempt on time even when the sender ignores the deadline", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    withHooks("email", { send: () => new Promise(() => {}) });

    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1" })], withEnv({ DELIVERY_TIMEOUT_MS: "100" }));

    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m1"]);
    expect((await readDelivery(row)).lastError).toMatch(/^log: timed out after 100 ms — /);
  });

  it("retries a 2xx it cannot read (Resend 200 without an id): the Idempotency-Key makes the retry safe", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    stubFetch(() => new Response("<html>gateway</html>", { status: 200, headers: { "Content-Type": "text/html" } }));

    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1" })], resendEnv);

    expect(result.retryMessages).toHaveLength(1);
    const saved = await readDelivery(row);
    expect(saved.status).toBe("queued");
    expect(saved.lastError).toMatch(/^resend: HTTP 200 OK, but the response could not be read — /);
  });

  it("fails at once, without calling anyone, when the provider's API key is missing", async () => {
    const org = uniqueOrg();
    const sg = await insertDelivery(org);
    const re = await insertDelivery(org);
    const fetchSpy = stubFetch(() => new Response(null, { status: 202 }));

    const r1 = await runQueue(QUEUE, [msgFor(sg, { id: "m1" })], withEnv({ EMAIL_PROVIDER: "sendgrid" }));
    const r2 = await runQueue(QUEUE, [msgFor(re, { id: "m2" })], withEnv({ EMAIL_PROVIDER: "resend" }));

    expect(fetchSpy).not.toHaveBeenCalled();
    expect(r1.explicitAcks).toEqual(["m1"]);
    expect(r2.explicitAcks).toEqual(["m2"]);
    expect(await readDelivery(sg)).toMatchObject({ status: "failed", lastError: "EMAIL_PROVIDER=sendgrid needs SENDGRID_API_KEY" });
    expect(await readDelivery(re)).toMatchObject({ status: "failed", lastError: "EMAIL_PROVIDER=resend needs RESEND_API_KEY" });
  });

  it("acks and retries each message of a batch on its own", async () => {
    const org = uniqueOrg();
    const ok = await insertDelivery(org, { address: "ok@example.com" });
    const down = await insertDelivery(org, { address: "down@example.com" });
    stubFetch(async (req) => {
      const body = (await req.json()) as any;
      return body.personalizations[0].to[0].email === "ok@example.com"
        ? new Response(null, { status: 202, headers: { "X-Message-Id": "sg-ok" } })
        : new Response("busy", { status: 500 });
    });

    const result = await runQueue(
      QUEUE,
      [msgFor(ok, { id: "ok" }), msgFor(down, { id: "down" }), { id: "ghost", body: { deliveryId: "dlv_missing", orgId: org } }],
      sendgridEnv,
    );

    expect(result.ackAll).toBe(false);
    expect(result.retryBatch.retry).toBe(false);
    expect([...result.explicitAcks].sort()).toEqual(["ghost", "ok"]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["down"]);
    expect((await readDelivery(ok)).status).toBe("sent");
    expect((await readDelivery(down)).status).toBe("queued");
  });

  it("retries a Resend 409 for a request still in flight with the same Idempotency-Key", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    stubFetch(
      () =>
        new Response(JSON.stringify({ statusCode: 409, name: "concurrent_idempotent_requests", message: "Same idempotency key used while original request is still in progress" }), {
          status: 409,
        }),
    );

    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1" })], resendEnv);

    expect(result.retryMessages).toHaveLength(1);
    expect((await readDelivery(row)).status).toBe("queued");
  });

  it("keeps the delivery sent when its onSent hook throws", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    vi.spyOn(console, "error").mockImplementation(() => {});
    withHooks("email", { onSent: async () => Promise.reject(new Error("hook broke")) });

    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1" })]);

    expect(result.explicitAcks).toEqual(["m1"]);
    expect(result.retryMessages).toEqual([]);
    expect((await readDelivery(row)).status).toBe("sent");
  });
});

describe("queue consumer: redelivery, ownership and quiet hours", () => {
  it.each(["sent", "failed", "skipped"] as const)("acks a message about a %s delivery without sending again", async (status) => {
    const org = uniqueOrg();
    const row = await insertDelivery(org, { status, attempts: 1, providerMessageId: "first" });
    const fetchSpy = stubFetch(() => new Response(null, { status: 202 }));

    const result = await runQueue(QUEUE, [msgFor(row, { id: "again", attempts: 2 })], sendgridEnv);

    expect(fetchSpy).not.toHaveBeenCalled();
    expect(result.explicitAcks).toEqual(["again"]);
    expect(result.retryMessages).toEqual([]);
    expect(await readDelivery(row)).toMatchObject({ status, attempts: 1, providerMessageId: "first" });
  });

  it("sends once when the same message is delivered twice", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    const fetchSpy = stubFetch(() => new Response(null, { status: 202, headers: { "X-Message-Id": "sg-once" } }));

    await runQueue(QUEUE, [msgFor(row, { id: "first" })], sendgridEnv);
    const again = await runQueue(QUEUE, [msgFor(row, { id: "second" })], sendgridEnv);

    expect(fetchSpy).toHaveBeenCalledTimes(1);
    expect(again.explicitAcks).toEqual(["second"]);
    expect(await readDelivery(row)).toMatchObject({ status: "sent", attempts: 1, providerMessageId: "sg-once" });
  });

  it("acks a message whose org does not own the delivery, without touching it", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    const fetchSpy = stubFetch(() => new Response(null, { status: 202 }));

    const result = await runQueue(QUEUE, [{ id: "m1", body: { deliveryId: row.id, orgId: await orgBeside(org) } }], sendgridEnv);

    expect(fetchSpy).not.toHaveBeenCalled();
    expect(result.explicitAcks).toEqual(["m1"]);
    expect(await readDelivery(row)).toMatchObject({ status: "queued", attempts: 0 });
  });

  it("re-enqueues a delivery deferred to later, without sending or spending a retry", async () => {
    const org = uniqueOrg();
    const twoHours = 2 * 3600;
    const row = await insertDelivery(org, { status: "deferred", scheduledFor: new Date(Date.now() + twoHours * 1000) });
    const send = vi.spyOn(env.DELIVERY_QUEUE, "send").mockResolvedValue(undefined as never);
    const fetchSpy = stubFetch(() => new Response(null, { status: 202 }));

    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1" })], sendgridEnv);

    expect(fetchSpy).not.toHaveBeenCalled();
    expect(result.explicitAcks).toEqual(["m1"]);
    expect(result.retryMessages).toEqual([]);
    expect(send).toHaveBeenCalledTimes(1);
    const [body, options] = send.mock.calls[0]!;
    expect(body).toEqual({ deliveryId: row.id, orgId: org });
    expect(options!.delaySeconds).toBeGreaterThan(twoHours - 60);
    expect(options!.delaySeconds).toBeLessThanOrEqual(twoHours);
    expect(await readDelivery(row)).toMatchObject({ status: "deferred", attempts: 0 });
  });

  it("chains a deferral longer than the 12-hour Queues limit", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org, { status: "deferred", scheduledFor: new Date(Date.now() + 3 * 86_400_000) });
    const send = vi.spyOn(env.DELIVERY_QUEUE, "send").mockResolvedValue(undefined as never);

    await runQueue(QUEUE, [msgFor(row)], sendgridEnv);

    expect(send.mock.calls[0]![1]).toEqual({ delaySeconds: MAX_QUEUE_DELAY_SECONDS });
  });

  it("sends a deferred delivery once it is due", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org, { status: "deferred", scheduledFor: new Date(Date.now() - 1000) });
    const send = vi.spyOn(env.DELIVERY_QUEUE, "send");
    stubFetch(() => new Response(null, { status: 202, headers: { "X-Message-Id": "sg-due" } }));

    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1" })], sendgridEnv);

    expect(send).not.toHaveBeenCalled();
    expect(result.explicitAcks).toEqual(["m1"]);
    expect(await readDelivery(row)).toMatchObject({ status: "sent", attempts: 1, providerMessageId: "sg-due" });
  });
});

describe("dead-letter queue", () => {
  it("marks the delivery failed with its last error and calls onFailed once", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org, { attempts: 6, lastError: "sendgrid 503: upstream unavailable" });
    const onFailed = vi.fn(async () => {});
    withHooks("email", { onFailed });
    const fetchSpy = stubFetch(() => new Response(null, { status: 202 }));

    const result = await runQueue(DLQ, [msgFor(row, { id: "dead" })], sendgridEnv);

    expect(fetchSpy).not.toHaveBeenCalled();
    expect(result.explicitAcks).toEqual(["dead"]);
    expect(result.retryMessages).toEqual([]);
    const saved = await readDelivery(row);
    expect(saved.status).toBe("failed");
    expect(saved.lastError).toBe("gave up after 6 attempts: sendgrid 503: upstream unavailable");
    expect(onFailed).toHaveBeenCalledTimes(1);
    expect(onFailed).toHaveBeenCalledWith(expect.anything(), expect.objectContaining({ id: row.id, status: "failed" }), saved.lastError);

    await runQueue(DLQ, [msgFor(row, { id: "dead-again" })], sendgridEnv);
    expect(onFailed).toHaveBeenCalledTimes(1);
  });

  it("leaves a delivery that was sent in the meantime alone", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org, { status: "sent", attempts: 2, providerMessageId: "sg-late" });
    const onFailed = vi.fn(async () => {});
    withHooks("email", { onFailed });

    const result = await runQueue(DLQ, [msgFor(row, { id: "dead" })]);

    expect(result.explicitAcks).toEqual(["dead"]);
    expect(onFailed).not.toHaveBeenCalled();
    expect(await readDelivery(row)).toMatchObject({ status: "sent", providerMessageId: "sg-late", lastError: null });
  });
});

describe("providers", () => {
  it("log: records the rendered email in the dev outbox", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    const fetchSpy = stubFetch(() => new Response(null, { status: 500 }));

    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1" })]);

    expect(fetchSpy).not.toHaveBeenCalled();
    expect(result.explicitAcks).toEqual(["m1"]);
    const saved = await readDelivery(row);
    expect(saved).toMatchObject({ status: "sent", provider: "log" });
    const outbox = await (await orgDb(org)).select().from(devOutbox).where(eq(devOutbox.orgId, org));
    expect(outbox).toHaveLength(1);
    const payload = payloadOf(row);
    const sent = sentEmail(outbox[0]!.text!, outbox[0]!.html!, outbox[0]!.headers);
    expect(outbox[0]).toMatchObject({
      id: saved.providerMessageId,
      deliveryId: row.id,
      channel: "email",
      to: "agent1@example.com",
      subject: payload.subject,
      ...expected(payload, sent.link),
      headers: {
        "X-Entity-Ref-ID": payload.headers["X-Entity-Ref-ID"],
        "List-Unsubscribe": `<${sent.link}>`,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      },
    });
  });

  it("log: records an SMS in the dev outbox", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org, { channel: "sms" });

    await runQueue(QUEUE, [msgFor(row)]);

    const saved = await readDelivery(row);
    expect(saved).toMatchObject({ status: "sent", provider: "log" });
    const [entry] = await (await orgDb(org)).select().from(devOutbox).where(and(eq(devOutbox.orgId, org), eq(devOutbox.channel, "sms")));
    expect(entry).toMatchObject({ id: saved.providerMessageId, to: "+14155550123", text: "[CRITICAL] Server down", subject: null, html: null });
  });

  it("twilio: posts a form with basic auth and keeps the message sid", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org, { channel: "sms" });
    const requests: Request[] = [];
    stubFetch((req) => {
      requests.push(req);
      return new Response(JSON.stringify({ sid: "SM0123", status: "queued" }), { status: 201, headers: { "Content-Type": "application/json" } });
    });

    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1" })], twilioEnv);

    expect(result.explicitAcks).toEqual(["m1"]);
    expect(await readDelivery(row)).toMatchObject({ status: "sent", provider: "twilio", providerMessageId: "SM0123" });
    const req = requests[0]!;
    expect(req.url).toBe("https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
    expect(req.headers.get("Authorization")).toBe(`Basic ${btoa("AC0123456789abcdef0123456789abcdef:twilio-token")}`);
    expect(req.headers.get("Content-Type")).toBe("application/x-www-form-urlencoded");
    const form = await req.formData();
    expect(Object.fromEntries(form)).toEqual({ To: "+14155550123", From: "+15005550006", Body: "[CRITICAL] Server down" });
  });

  it("twilio: sends through a Messaging Service when TWILIO_FROM is one", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org, { channel: "sms" });
    const requests: Request[] = [];
    stubFetch((req) => {
      requests.push(req);
      return new Response(JSON.stringify({ sid: "SM0124" }), { status: 201 });
    });

    await runQueue(QUEUE, [msgFor(row)], { ...twilioEnv, TWILIO_FROM: "MG0123456789abcdef0123456789abcdef" } as Env);

    const form = await requests[0]!.formData();
    expect(form.get("MessagingServiceSid")).toBe("MG0123456789abcdef0123456789abcdef");
    expect(form.has("From")).toBe(false);
  });

  it("twilio: a refused number is a permanent failure with Twilio's message and code", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org, { channel: "sms", address: "+1555" });
    stubFetch(
      () =>
        new Response(JSON.stringify({ code: 21211, message: "The 'To' number +1555 is not a valid phone number.", status: 400 }), {
          status: 400,
        }),
    );

    const result = await runQueue(QUEUE, [msgFor(row, { id: "m1" })], twilioEnv);

    expect(result.explicitAcks).toEqual(["m1"]);
    expect(await readDelivery(row)).toMatchObject({
      status: "failed",
      lastError: "twilio: HTTP 400 Bad Request — The 'To' number +1555 is not a valid phone number. (code 21211)",
    });
  });

  it("twilio: missing credentials are a permanent failure", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org, { channel: "sms" });

    await runQueue(QUEUE, [msgFor(row)], withEnv({ SMS_PROVIDER: "twilio" }));

    expect((await readDelivery(row)).lastError).toBe("SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM");
  });

  it("resend: sends the delivery id as Idempotency-Key and keeps the email id", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    const requests: Request[] = [];
    stubFetch((req) => {
      requests.push(req);
      return new Response(JSON.stringify({ id: "re-email-1" }), { status: 200, headers: { "Content-Type": "application/json" } });
    });

    await runQueue(QUEUE, [msgFor(row)], resendEnv);

    expect(await readDelivery(row)).toMatchObject({ status: "sent", provider: "resend", providerMessageId: "re-email-1" });
    const req = requests[0]!;
    expect(req.url).toBe("https://api.resend.com/emails");
    expect(req.headers.get("Idempotency-Key")).toBe(row.id);
    expect(req.headers.get("Authorization")).toBe("Bearer re-test-key");
    const payload = payloadOf(row);
    const body = (await req.json()) as any;
    const sent = sentEmail(body.text, body.html, body.headers);
    expect(body).toEqual({
      from: "Herald <notifications@herald.invalid>",
      to: ["agent1@example.com"],
      subject: payload.subject,
      ...expected(payload, sent.link),
      headers: {
        "X-Entity-Ref-ID": payload.headers["X-Entity-Ref-ID"],
        "List-Unsubscribe": `<${sent.link}>`,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      },
    });
  });

  it.each([
    ["resend", () => resendEnv, (req: Request) => req.headers.get("Idempotency-Key"), (id: string) => id],
    ["sendgrid", () => sendgridEnv, async (req: Request) => ((await req.json()) as any).headers["Message-ID"], (id: string) => `<${id}@herald.invalid>`],
  ] as const)("%s: a retry after a lost response carries the same idempotency key / Message-ID", async (_provider, envOf, keyOf, want) => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    const keys: (string | null)[] = [];
    let calls = 0;
    stubFetch(async (req) => {
      keys.push(await keyOf(req));
      // The provider accepted the first request, but its answer never arrived.
      if (++calls === 1) throw new TypeError("Network connection lost.");
      return new Response(JSON.stringify({ id: "re-once" }), { status: 202, headers: { "X-Message-Id": "sg-once" } });
    });

    const first = await runQueue(QUEUE, [msgFor(row, { id: "m1", attempts: 1 })], envOf());
    expect(first.retryMessages.map((m) => m.msgId)).toEqual(["m1"]);
    await runQueue(QUEUE, [msgFor(row, { id: "m1", attempts: 2 })], envOf());

    expect(keys).toEqual([want(row.id), want(row.id)]);
    expect(await readDelivery(row)).toMatchObject({ status: "sent", attempts: 2 });
  });

  it("a malformed email payload is a permanent failure", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org, { payload: { subject: "hi" } });

    await runQueue(QUEUE, [msgFor(row)]);

    expect(await readDelivery(row)).toMatchObject({ status: "failed", lastError: expect.stringMatching(/^malformed email payload/) });
  });
});

describe("backoff", () => {
  const opts = { baseSeconds: 10, maxSeconds: 3600 };

  it("grows exponentially from the base, per attempt", () => {
    const top = () => 0.999_999;
    expect([1, 2, 3, 4, 5].map((a) => backoffSeconds(a, opts, top))).toEqual([10, 20, 40, 80, 160]);
  });

  it("is capped at RETRY_MAX_SECONDS", () => {
    expect(backoffSeconds(10, opts, () => 0.999_999)).toBe(3600);
    expect(backoffSeconds(10_000, opts, () => 0.999_999)).toBe(3600);
  });

  it("jitters over the whole range and never retries immediately", () => {
    expect(backoffSeconds(4, opts, () => 0)).toBe(1);
    expect(backoffSeconds(4, opts, () => 0.5)).toBe(40);
    for (let i = 0; i < 200; i++) {
      const d = backoffSeconds(3, opts);
      expect(d).toBeGreaterThanOrEqual(1);
      expect(d).toBeLessThanOrEqual(40);
    }
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-11-24T08:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120);
    expect(parseRetryAfter("Tue, 24 Nov 2026 08:00:30 GMT", now)).toBe(30);
    expect(parseRetryAfter("Tue, 24 Nov 2026 07:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("999999", now)).toBe(MAX_QUEUE_DELAY_SECONDS);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it("lets Retry-After win over the schedule", () => {
    expect(retryDelaySeconds(1, opts, 300)).toBe(300);
    expect(retryDelaySeconds(5, opts, 0)).toBe(0);
    expect(retryDelaySeconds(1, opts)).toBeLessThanOrEqual(10);
  });
});

describe("templates in deliveries", () => {
  it("renders an SMS with its priority within 320 characters", () => {
    const { text } = renderSms({ id: "n", type: "alert.new", title: "Server down", message: "x".repeat(500), priority: "CRITICAL" });
    expect(text.startsWith("[CRITICAL] Server down — ")).toBe(true);
    expect(Array.from(text).length).toBeLessThanOrEqual(320);
  });
});

describe("GET /api/v1/dev/outbox", () => {
  const app = createApp();

  async function outbox(org: string, query = "", environment = "development") {
    const token = await makeToken({ org, sub: "member1", role: "member" });
    const ctx = createExecutionContext();
    const res = await app.fetch(
      new Request(`${BASE}/api/v1/dev/outbox${query}`, { headers: { Authorization: `Bearer ${token}` } }),
      withEnv({ ENVIRONMENT: environment }),
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return { status: res.status, json: (await res.json()) as any };
  }

  async function seed(org: string, n: number, channel: "email" | "sms" = "email") {
    for (let i = 0; i < n; i++) {
      await (await orgDb(org)).insert(devOutbox).values({
        id: newId("obx"),
        orgId: org,
        deliveryId: newId("dlv"),
        channel,
        to: channel === "sms" ? "+14155550123" : `r${i}@example.com`,
        subject: channel === "sms" ? null : `subject ${i}`,
        text: `text ${i}`,
        html: null,
        headers: {},
        createdAt: new Date(Date.now() + i),
      });
    }
  }

  it("is 404 NOT_FOUND outside development, even with an invalid query", async () => {
    const org = uniqueOrg();
    const token = await makeToken({ org });
    for (const path of ["/api/v1/dev/outbox", "/api/v1/dev/outbox?limit=500"]) {
      const res = await call("GET", path, { token });
      expect(res.status).toBe(404);
      expect(res.json.error.code).toBe("NOT_FOUND");
    }
    expect((await outbox(org, "", "production")).status).toBe(404);
  });

  it("lists the caller's organization's outbox, newest first, limited and filtered", async () => {
    const org = uniqueOrg();
    // On the same shard, so only the org check keeps them apart.
    const other = await orgBeside(org);
    await seed(org, 3);
    await seed(org, 1, "sms");
    await seed(other, 2);

    const all = await outbox(org);
    expect(all.status).toBe(200);
    expect(all.json.items).toHaveLength(4);
    expect(all.json.items.every((i: any) => i.deliveryId.startsWith("dlv_"))).toBe(true);

    const emails = await outbox(org, "?channel=email&limit=2");
    expect(emails.json.items.map((i: any) => i.subject)).toEqual(["subject 2", "subject 1"]);
    expect(emails.json.items[0]).toMatchObject({ channel: "email", to: "r2@example.com", text: "text 2", headers: {} });

    const sms = await outbox(org, "?channel=sms");
    expect(sms.json.items).toHaveLength(1);

    const theirs = await outbox(other);
    expect(theirs.json.items).toHaveLength(2);
    expect(theirs.json.items.every((i: any) => i.to !== "+14155550123")).toBe(true);
  });

  it("refuses a limit above 100 in development", async () => {
    const res = await outbox(uniqueOrg(), "?limit=101");
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("VALIDATION_FAILED");
  });

  it("shows an email the log provider sent", async () => {
    const org = uniqueOrg();
    const row = await insertDelivery(org);
    await runQueue(QUEUE, [msgFor(row)]);

    const res = await outbox(org);
    expect(res.json.items).toHaveLength(1);
    expect(res.json.items[0]).toMatchObject({ deliveryId: row.id, to: "agent1@example.com", subject: "[HIGH] Jane Doe is likely to sell" });
    expect(res.json.items[0].headers["List-Unsubscribe"]).toMatch(ONE_CLICK);
    expect(res.json.items[0].headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
  });
});
