import type { Config } from "../config";
import type { Db } from "../db/client";
import type { DeliveryRow } from "../db/schema";

/** The body of every message on the deliveries queue: the delivery row is the source of truth. */
export interface DeliveryMessage {
  deliveryId: string;
  orgId: string;
}

/** What a provider call came to. */
export type SendOutcome =
  /** Accepted by the provider. */
  | { kind: "sent"; providerMessageId?: string }
  /** Worth retrying (5xx, 408, 429, timeout, network); `retryAfterSeconds` from a Retry-After header. */
  | { kind: "retry"; error: string; status?: number; retryAfterSeconds?: number }
  /** Never worth retrying (4xx other than 408/429, malformed request, missing configuration). */
  | { kind: "permanent"; error: string; status?: number };

/** What a sender gets to work with. */
export interface SendContext {
  env: Env;
  db: Db;
  config: Config;
  /** Aborts the provider call after DELIVERY_TIMEOUT_MS. */
  signal: AbortSignal;
}

/** One outbound channel: how to send a delivery, and what to do when it is given up for good. */
export interface ChannelSender {
  send(ctx: SendContext, delivery: DeliveryRow): Promise<SendOutcome>;
  /** Called once when the delivery ends `failed` (permanent error, or retries exhausted). */
  onFailed?(ctx: SendContext, delivery: DeliveryRow, reason: string, status?: number): Promise<void>;
  /** Called once when the delivery is `sent`. */
  onSent?(ctx: SendContext, delivery: DeliveryRow): Promise<void>;
}
