import type { DeliveryRow } from "../db/schema";
import { MAX_QUEUE_DELAY_SECONDS } from "./backoff";
import type { DeliveryMessage } from "./types";

/** What queuing a delivery needs from its row. */
export type QueueableDelivery = Pick<DeliveryRow, "id" | "orgId" | "status" | "scheduledFor">;

/** Cloudflare Queues accepts at most 100 messages per sendBatch. */
const MESSAGES_PER_BATCH = 100;

/**
 * Queues delivery rows after the commit that wrote them (never before: a
 * consumer must always find its row): `queued` ones now, `deferred` ones at
 * the end of quiet hours (Queues caps a delay at 12 h; the consumer chains).
 * Rows in any other state are skipped.
 */
export async function enqueueDeliveries(env: Env, rows: QueueableDelivery[], now = Date.now()): Promise<void> {
  const messages = rows
    .filter((d) => d.status === "queued" || d.status === "deferred")
    .map((d) => {
      const wait = d.scheduledFor ? Math.ceil((d.scheduledFor.getTime() - now) / 1000) : 0;
      const body: DeliveryMessage = { deliveryId: d.id, orgId: d.orgId };
      return { body, ...(wait > 0 && { delaySeconds: Math.min(wait, MAX_QUEUE_DELAY_SECONDS) }) };
    });
  for (let i = 0; i < messages.length; i += MESSAGES_PER_BATCH) {
    await env.DELIVERY_QUEUE.sendBatch(messages.slice(i, i + MESSAGES_PER_BATCH));
  }
}
