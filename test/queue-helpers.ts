import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { vi } from "vitest";
import type { DeliveryMessage } from "../src/delivery/types";
import worker from "../src/index";

/** A message to hand the queue consumer. */
export interface TestMessage {
  id?: string;
  attempts?: number;
  body: DeliveryMessage;
}

/**
 * Runs the Worker's queue handler on one batch and returns the per-message
 * acks and retries. getQueueResult (vitest-plugin 1.5) drops the retry's
 * delaySeconds, so each message's retry() is spied to put them back.
 */
export async function runQueue(queue: string, messages: TestMessage[], env: Env) {
  const batch = createMessageBatch<DeliveryMessage>(
    queue,
    messages.map((m, i) => ({ id: m.id ?? `msg-${i}`, timestamp: new Date(), attempts: m.attempts ?? 1, body: m.body })),
  );
  const delays = new Map<string, number | undefined>();
  for (const msg of batch.messages) {
    const retry = msg.retry.bind(msg);
    vi.spyOn(msg, "retry").mockImplementation((options) => {
      delays.set(msg.id, options?.delaySeconds);
      retry(options);
    });
  }
  const ctx = createExecutionContext();
  await (worker as ExportedHandler<Env, DeliveryMessage>).queue!(batch, env, ctx);
  await waitOnExecutionContext(ctx);
  const result = await getQueueResult(batch, ctx);
  return { ...result, retryMessages: result.retryMessages.map((m) => ({ ...m, delaySeconds: delays.get(m.msgId) })) };
}
