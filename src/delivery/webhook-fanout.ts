// PLACEHOLDER (replaced by the webhooks work in progress this session).
import type { Db } from "../db/client";
import type { OutboundEvent } from "../realtime/outbox";

/** Creates webhook deliveries for the org endpoints whose patterns match these events, and enqueues them. */
export async function enqueueWebhookDeliveries(_env: Env, _db: Db, _events: OutboundEvent[]): Promise<void> {}
