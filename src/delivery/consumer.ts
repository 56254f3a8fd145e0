import { and, eq, inArray, notInArray, sql } from "drizzle-orm";
import { getConfig, type Config } from "../config";
import type { Db } from "../db/client";
import { appDeps, orgDeps } from "../deps";
import { deliveries, type DeliveryRow } from "../db/schema";
import { MAX_QUEUE_DELAY_SECONDS, retryDelaySeconds } from "./backoff";
import { channelSenders, providerFor } from "./channels";
import { errorText, truncate } from "./http";
import type { DeliveryMessage, SendContext, SendOutcome } from "./types";

/** Statuses a delivery never leaves: a message about one is acknowledged without sending. */
const FINAL_STATUSES = ["sent", "failed", "skipped"] as const satisfies DeliveryRow["status"][];

/** Retry delay when the configuration itself is unreadable (every message would fail the same way). */
const CONFIG_RETRY_SECONDS = 60;

/**
 * The dead-letter queue is recognised by name (wrangler.toml
 * `dead_letter_queue = "herald-deliveries-dlq"`), so a per-environment pair
 * such as `herald-deliveries-staging` / `herald-deliveries-staging-dlq` works too.
 */
export function isDeadLetterQueue(queueName: string): boolean {
  return queueName.endsWith("-dlq");
}

/**
 * Consumes a batch of the deliveries queue (send each delivery) or of its
 * dead-letter queue (mark each delivery failed). Every message is acked or
 * retried on its own; one message's failure never retries the others.
 */
export async function processQueueBatch(batch: MessageBatch<DeliveryMessage>, env: Env): Promise<void> {
  let config: Config;
  try {
    config = getConfig(env);
  } catch (err) {
    console.error(`herald delivery: invalid configuration, retrying ${batch.messages.length} messages of ${batch.queue}`, errorText(err));
    for (const msg of batch.messages) msg.retry({ delaySeconds: CONFIG_RETRY_SECONDS });
    return;
  }
  const handle = isDeadLetterQueue(batch.queue) ? handleDeadLetter : handleDelivery;
  await Promise.all(
    batch.messages.map(async (msg) => {
      // The delivery row lives on its org's shard; a malformed body is dropped by the handler.
      let db: Db;
      try {
        db = isDeliveryMessage(msg.body) ? (await orgDeps(env, msg.body.orgId)).db : appDeps(env).shards.control.db;
      } catch (err) {
        console.error(`herald delivery: cannot reach the shard of message ${msg.id}, retrying`, errorText(err));
        msg.retry({ delaySeconds: CONFIG_RETRY_SECONDS });
        return;
      }
      await handle(msg, env, db, config);
    }),
  );
}

function isDeliveryMessage(body: unknown): body is DeliveryMessage {
  const b = body as Partial<DeliveryMessage> | null;
  return typeof b === "object" && b !== null && typeof b.deliveryId === "string" && typeof b.orgId === "string";
}

async function loadDelivery(db: Db, body: DeliveryMessage): Promise<DeliveryRow | undefined> {
  return db
    .select()
    .from(deliveries)
    .where(and(eq(deliveries.id, body.deliveryId), eq(deliveries.orgId, body.orgId)))
    .get();
}

const isFinal = (status: DeliveryRow["status"]) => (FINAL_STATUSES as readonly string[]).includes(status);

/** A context for `onSent`/`onFailed` with its own deadline: the send's may be spent by now. */
const hookContext = (env: Env, db: Db, config: Config): SendContext => ({
  env,
  db,
  config,
  signal: AbortSignal.timeout(config.delivery.timeoutMs),
});

/**
 * Sends one delivery. The row is the source of truth: a message about a
 * delivery already sent, failed or skipped is acked without sending, so a
 * redelivered message never sends twice.
 */
async function handleDelivery(msg: Message<DeliveryMessage>, env: Env, db: Db, config: Config): Promise<void> {
  const backoff = { baseSeconds: config.delivery.retryBaseSeconds, maxSeconds: config.delivery.retryMaxSeconds };
  try {
    if (!isDeliveryMessage(msg.body)) {
      console.error(`herald delivery: dropping malformed message ${msg.id}`);
      msg.ack();
      return;
    }
    const row = await loadDelivery(db, msg.body);
    if (!row || isFinal(row.status)) {
      msg.ack();
      return;
    }

    const now = Date.now();
    if (row.status === "deferred" && row.scheduledFor && row.scheduledFor.getTime() > now) {
      // A fresh message rather than msg.retry(): waiting out quiet hours must not
      // spend the retries that are there for provider failures.
      const remaining = Math.ceil((row.scheduledFor.getTime() - now) / 1000);
      await env.DELIVERY_QUEUE.send(
        { deliveryId: row.id, orgId: row.orgId } satisfies DeliveryMessage,
        { delaySeconds: Math.min(remaining, MAX_QUEUE_DELAY_SECONDS) },
      );
      msg.ack();
      return;
    }

    // Claim the attempt: only one of two copies of a message that read the same
    // row gets past this update, and the attempt is counted even if the Worker
    // dies during the provider call.
    const [claimed] = await db
      .update(deliveries)
      .set({
        status: "queued",
        attempts: sql`${deliveries.attempts} + 1`,
        provider: providerFor(row.channel, config),
        updatedAt: new Date(),
      })
      .where(
        and(
          eq(deliveries.id, row.id),
          eq(deliveries.attempts, row.attempts),
          inArray(deliveries.status, ["queued", "deferred"]),
        ),
      )
      .returning();
    if (!claimed) {
      msg.ack();
      return;
    }

    const sender = channelSenders[claimed.channel];
    const ctx: SendContext = { env, db, config, signal: AbortSignal.timeout(config.delivery.timeoutMs) };
    const outcome = await sendWithDeadline(() => sender.send(ctx, claimed), ctx.signal, claimed.provider ?? claimed.channel, config.delivery.timeoutMs);
    const current = and(eq(deliveries.id, claimed.id), eq(deliveries.attempts, claimed.attempts), eq(deliveries.status, "queued"));

    if (outcome.kind === "sent") {
      const [done] = await db
        .update(deliveries)
        .set({ status: "sent", sentAt: new Date(), updatedAt: new Date(), providerMessageId: outcome.providerMessageId ?? null, lastError: null })
        .where(current)
        .returning();
      msg.ack();
      if (done) await runHook("onSent", () => sender.onSent?.(hookContext(env, db, config), done), done);
      return;
    }

    if (outcome.kind === "retry") {
      await db.update(deliveries).set({ lastError: truncate(outcome.error), updatedAt: new Date() }).where(current);
      msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts, backoff, outcome.retryAfterSeconds) });
      return;
    }

    const reason = truncate(outcome.error);
    const [done] = await db
      .update(deliveries)
      .set({ status: "failed", lastError: reason, updatedAt: new Date() })
      .where(current)
      .returning();
    msg.ack();
    if (done) {
      console.warn(`herald delivery: ${done.channel} ${done.id} failed: ${reason}`);
      await runHook("onFailed", () => sender.onFailed?.(hookContext(env, db, config), done, reason, outcome.status), done);
    }
  } catch (err) {
    // The org is moving between shards: the retry resolves its shard again.
    if (isDeliveryMessage(msg.body)) appDeps(env).shards.refused(err, msg.body.orgId);
    console.error(`herald delivery: message ${msg.id} (attempt ${msg.attempts}) failed, will retry`, err);
    msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts, backoff) });
  }
}

/**
 * Runs a sender under the delivery deadline. A sender that ignores the signal
 * still ends the attempt on time (as a retry), so one stuck provider call
 * cannot hold the rest of the batch.
 */
async function sendWithDeadline(send: () => Promise<SendOutcome>, signal: AbortSignal, provider: string, timeoutMs: number): Promise<SendOutcome> {
  const timedOut = new Promise<SendOutcome>((resolve) => {
    const onAbort = () => resolve({ kind: "retry", error: truncate(`${provider}: timed out after ${timeoutMs} ms — ${errorText(signal.reason)}`) });
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([send(), timedOut]);
  } catch (err) {
    return { kind: "retry", error: truncate(`${provider}: ${signal.aborted ? `timed out after ${timeoutMs} ms` : "send failed"} — ${errorText(err)}`) };
  }
}

/** A hook's failure is logged, never turned into a resend: the delivery's outcome is already recorded. */
async function runHook(name: string, hook: () => Promise<void> | undefined, delivery: DeliveryRow): Promise<void> {
  try {
    await hook();
  } catch (err) {
    console.error(`herald delivery: ${name} of ${delivery.channel} ${delivery.id} threw`, err);
  }
}

/**
 * A message that exhausted its retries: the delivery is marked failed with the
 * last error it saw and the channel's `onFailed` runs, so nothing disappears
 * silently. Deliveries already final are left as they are.
 */
async function handleDeadLetter(msg: Message<DeliveryMessage>, env: Env, db: Db, config: Config): Promise<void> {
  try {
    if (!isDeliveryMessage(msg.body)) {
      console.error(`herald delivery: dropping malformed dead letter ${msg.id}`);
      msg.ack();
      return;
    }
    const row = await loadDelivery(db, msg.body);
    if (!row || isFinal(row.status)) {
      msg.ack();
      return;
    }
    const reason = truncate(`gave up after ${row.attempts} attempts: ${row.lastError ?? "no error recorded"}`);
    const [done] = await db
      .update(deliveries)
      .set({ status: "failed", lastError: reason, updatedAt: new Date() })
      .where(and(eq(deliveries.id, row.id), notInArray(deliveries.status, [...FINAL_STATUSES])))
      .returning();
    msg.ack();
    if (done) {
      console.warn(`herald delivery: ${done.channel} ${done.id} failed: ${reason}`);
      await runHook("onFailed", () => channelSenders[done.channel].onFailed?.(hookContext(env, db, config), done, reason), done);
    }
  } catch (err) {
    console.error(`herald delivery: dead letter ${msg.id} not recorded, will retry`, err);
    msg.retry({ delaySeconds: CONFIG_RETRY_SECONDS });
  }
}
