import { and, eq, ne, sql, type SQL } from "drizzle-orm";
import type { Config } from "../config";
import type { Db } from "../db/client";
import { deliveries, webhooks, type DeliveryRow, type WebhookRow } from "../db/schema";
import { insertAndEnqueueWebhookDeliveries, newWebhookDelivery } from "../outbox/webhooks";
import { AppError, ErrorCode, notFound } from "../errors";
import { keysetPage } from "../db/pagination";
import { newId } from "../lib/ids";
import { assertRole } from "../lib/roles";
import { assertWebhookUrlAllowed } from "../lib/ssrf";
import type {
  CreatedWebhook,
  CreateWebhookInput,
  ListWebhookDeliveriesInput,
  UpdateWebhookInput,
  Webhook,
  WebhookDelivery,
} from "../schemas/webhooks";
import type { Claims } from "../types";
import { notifyOrgAdmins } from "./notifications";

/**
 * Webhook endpoints (CRM integrations): an org admin registers URLs with
 * event patterns; Herald signs every delivery per the Standard Webhooks spec
 * with the endpoint's secret. Only admins manage endpoints; another org's
 * ids do not exist (404 WEBHOOK_NOT_FOUND), as everywhere in Herald.
 */

/** The event type of the delivery `POST /webhooks/:id/test` sends. */
export const WEBHOOK_TEST_EVENT = "webhook:test";

/** Notification type the org's admins get when Herald disables an endpoint. */
export const WEBHOOK_DISABLED_NOTIFICATION = "webhook.disabled";

const requireAdmin = (actor: Claims) => assertRole(actor, ["admin"], "Only admins manage webhooks");

const webhookNotFound = (id: string) => notFound(ErrorCode.WEBHOOK_NOT_FOUND, `No webhook ${id} in your organization`);

/** API shape of an endpoint; never includes the secret. */
export function toWebhook(row: WebhookRow): Webhook {
  return {
    id: row.id,
    organizationId: row.orgId,
    url: row.url,
    description: row.description,
    events: row.events,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    consecutiveFailures: row.consecutiveFailures,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** API shape of a delivery in an endpoint's log. */
function toWebhookDelivery(row: DeliveryRow): WebhookDelivery {
  const type = row.payload["type"];
  return {
    id: row.id,
    webhookId: row.webhookId ?? "",
    eventId: row.eventId,
    eventType: typeof type === "string" ? type : null,
    url: row.address,
    status: row.status,
    attempts: row.attempts,
    providerMessageId: row.providerMessageId,
    lastError: row.lastError,
    payload: row.payload,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    sentAt: row.sentAt?.toISOString() ?? null,
  };
}

/** "whsec_" + base64 of 24 random bytes: the Standard Webhooks secret format (192 bits). */
export function generateWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

async function findWebhook(db: Db, orgId: string, id: string): Promise<WebhookRow | undefined> {
  const [row] = await db.select().from(webhooks).where(and(eq(webhooks.orgId, orgId), eq(webhooks.id, id)));
  return row;
}

async function requireWebhook(db: Db, actor: Claims, id: string): Promise<WebhookRow> {
  requireAdmin(actor);
  const row = await findWebhook(db, actor.org, id);
  if (!row) throw webhookNotFound(id);
  return row;
}

const urlPolicy = (config: Config) => ({ allowInsecure: config.delivery.allowInsecureWebhooks });

/**
 * Registers an endpoint (admin). The URL must pass the SSRF policy (400
 * WEBHOOK_URL_NOT_ALLOWED). The answer is the only place the secret appears.
 */
export async function createWebhook(db: Db, config: Config, actor: Claims, input: CreateWebhookInput, now = new Date()): Promise<CreatedWebhook> {
  requireAdmin(actor);
  assertWebhookUrlAllowed(input.url, urlPolicy(config));
  const [row] = await db
    .insert(webhooks)
    .values({
      id: newId("whk", now.getTime()),
      orgId: actor.org,
      url: input.url,
      description: input.description ?? null,
      events: input.events,
      enabled: input.enabled ?? true,
      secret: generateWebhookSecret(),
      disabledReason: input.enabled === false ? `disabled by ${actor.sub}` : null,
      consecutiveFailures: 0,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return { ...toWebhook(row!), secret: row!.secret };
}

/** Every endpoint of the caller's org (admin), oldest first; no secrets. */
export async function listWebhooks(db: Db, actor: Claims): Promise<{ items: Webhook[] }> {
  requireAdmin(actor);
  const rows = await db.select().from(webhooks).where(eq(webhooks.orgId, actor.org)).orderBy(webhooks.createdAt, webhooks.id);
  return { items: rows.map(toWebhook) };
}

/** One endpoint (admin); no secret. */
export async function getWebhook(db: Db, actor: Claims, id: string): Promise<Webhook> {
  return toWebhook(await requireWebhook(db, actor, id));
}

/**
 * Changes an endpoint (admin). A new URL passes the SSRF policy again.
 * Enabling it clears `disabledReason` and the failure count, so it starts
 * afresh; disabling it by hand records who did.
 */
export async function updateWebhook(db: Db, config: Config, actor: Claims, id: string, input: UpdateWebhookInput, now = new Date()): Promise<Webhook> {
  const current = await requireWebhook(db, actor, id);
  if (input.url !== undefined) assertWebhookUrlAllowed(input.url, urlPolicy(config));
  const changes: Partial<typeof webhooks.$inferInsert> = { updatedAt: now };
  if (input.url !== undefined) changes.url = input.url;
  if (input.events !== undefined) changes.events = input.events;
  if (input.description !== undefined) changes.description = input.description;
  if (input.enabled === true && !current.enabled) Object.assign(changes, { enabled: true, disabledReason: null, consecutiveFailures: 0 });
  if (input.enabled === false && current.enabled) Object.assign(changes, { enabled: false, disabledReason: `disabled by ${actor.sub}` });
  const [row] = await db
    .update(webhooks)
    .set(changes)
    .where(and(eq(webhooks.orgId, actor.org), eq(webhooks.id, id)))
    .returning();
  // Deleted between the read and the write.
  if (!row) throw webhookNotFound(id);
  return toWebhook(row);
}

/**
 * Deletes an endpoint (admin). Its delivery rows stay as the audit trail;
 * deliveries still queued end `failed` ("endpoint deleted") when the
 * consumer reaches them, without a request.
 */
export async function deleteWebhook(db: Db, actor: Claims, id: string): Promise<void> {
  requireAdmin(actor);
  const deleted = await db
    .delete(webhooks)
    .where(and(eq(webhooks.orgId, actor.org), eq(webhooks.id, id)))
    .returning({ id: webhooks.id });
  if (deleted.length === 0) throw webhookNotFound(id);
}

/**
 * Queues a `webhook:test` delivery to one endpoint (admin), signed and
 * retried like any other, and visible in its delivery log. A disabled
 * endpoint is 409 WEBHOOK_DISABLED (the sender would refuse it anyway):
 * enable it first.
 */
export async function sendTestDelivery(
  env: Env,
  db: Db,
  actor: Claims,
  id: string,
  now = new Date(),
): Promise<{ deliveryId: string; eventId: string; status: DeliveryRow["status"] }> {
  const endpoint = await requireWebhook(db, actor, id);
  if (!endpoint.enabled) {
    throw new AppError(409, ErrorCode.WEBHOOK_DISABLED, "This webhook is disabled; enable it (PATCH enabled: true) before testing it", {
      disabledReason: endpoint.disabledReason,
    });
  }
  const event = {
    id: newId("evt", now.getTime()),
    type: WEBHOOK_TEST_EVENT,
    ts: now.getTime(),
    data: { webhookId: endpoint.id, message: "A test delivery from Herald", requestedBy: actor.sub },
  };
  const row = newWebhookDelivery(endpoint, event, now);
  await insertAndEnqueueWebhookDeliveries(env, db, [row]);
  return { deliveryId: row.id!, eventId: event.id, status: "queued" };
}

/** An endpoint's delivery log (admin), newest first, `limit` ≤ 100 per page. */
export async function listWebhookDeliveries(
  db: Db,
  actor: Claims,
  id: string,
  query: ListWebhookDeliveriesInput,
): Promise<{ items: WebhookDelivery[]; nextCursor: string | null }> {
  await requireWebhook(db, actor, id);
  const conditions: (SQL | undefined)[] = [eq(deliveries.orgId, actor.org), eq(deliveries.webhookId, id)];
  if (query.status) conditions.push(eq(deliveries.status, query.status));
  return keysetPage(
    deliveries,
    query,
    (after, orderBy, limit) =>
      db
        .select()
        .from(deliveries)
        .where(and(...conditions, after))
        .orderBy(...orderBy)
        .limit(limit),
    toWebhookDelivery,
  );
}

// ───────────────────────── health (used by the sender) ─────────────────────────

/**
 * Disables an endpoint for `reason` unless it already is, and then — only
 * the caller whose update applied, so admins hear about it once — notifies
 * the org's admins in-app (`webhook.disabled`, HIGH). Returns whether this
 * call disabled it.
 */
export async function disableWebhook(env: Env, db: Db, orgId: string, id: string, reason: string, now = new Date()): Promise<boolean> {
  const [row] = await db
    .update(webhooks)
    .set({ enabled: false, disabledReason: reason, updatedAt: now })
    .where(and(eq(webhooks.orgId, orgId), eq(webhooks.id, id), eq(webhooks.enabled, true)))
    .returning({ id: webhooks.id, url: webhooks.url });
  if (!row) return false;
  try {
    await notifyOrgAdmins(env, orgId, {
      type: WEBHOOK_DISABLED_NOTIFICATION,
      title: "A webhook endpoint was disabled",
      message: `Herald stopped delivering to ${row.url}: ${reason}. Fix the endpoint, then enable it again.`,
      priority: "HIGH",
      data: { webhookId: row.id, url: row.url, reason },
      actionUrl: `/api/v1/webhooks/${row.id}`,
    });
  } catch (err) {
    // The endpoint stays disabled whatever happens here; failing the delivery
    // (and retrying it against a now-disabled endpoint) would not notify anyone either.
    console.error(`herald: webhook ${row.id} disabled, but notifying the admins of ${orgId} failed`, err);
  }
  return true;
}

/**
 * Counts a delivery that ended `failed` against its endpoint; at `threshold`
 * failures in a row the endpoint is disabled (and admins notified). Failures
 * of an endpoint that is already disabled (or gone) do not count.
 */
export async function recordWebhookFailure(env: Env, db: Db, orgId: string, id: string, reason: string, threshold: number): Promise<void> {
  const [row] = await db
    .update(webhooks)
    .set({ consecutiveFailures: sql`${webhooks.consecutiveFailures} + 1` })
    .where(and(eq(webhooks.orgId, orgId), eq(webhooks.id, id), eq(webhooks.enabled, true)))
    .returning({ failures: webhooks.consecutiveFailures });
  if (row && row.failures >= threshold) {
    await disableWebhook(env, db, orgId, id, `${row.failures} deliveries in a row failed after every retry (last: ${reason})`);
  }
}

/** A delivered message resets its endpoint's failure count. */
export async function recordWebhookSuccess(db: Db, orgId: string, id: string): Promise<void> {
  await db
    .update(webhooks)
    .set({ consecutiveFailures: 0 })
    .where(and(eq(webhooks.orgId, orgId), eq(webhooks.id, id), ne(webhooks.consecutiveFailures, 0)));
}

/** The endpoint a delivery belongs to, for the sender (no actor: the queue consumer is trusted). */
export async function webhookForDelivery(db: Db, delivery: Pick<DeliveryRow, "orgId" | "webhookId">): Promise<WebhookRow | undefined> {
  if (!delivery.webhookId) return undefined;
  return findWebhook(db, delivery.orgId, delivery.webhookId);
}
