// PLACEHOLDER (replaced by the delivery engine work in progress this session).
import type { DeliveryMessage } from "./types";

/** Consumes a batch of the deliveries queue (or its dead-letter queue). */
export async function processQueueBatch(batch: MessageBatch<DeliveryMessage>, _env: Env): Promise<void> {
  for (const msg of batch.messages) msg.retry();
}
