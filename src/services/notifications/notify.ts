import type { BatchItem } from "drizzle-orm/batch";
import { newId } from "../../lib/ids";
import { assertRole } from "../../lib/roles";
import { assertDataSize } from "../../lib/size-limit";
import type { Claims } from "../../types";
import { runIdempotent, type IdempotencyRequest } from "../idempotency";
import { requeueDeliveriesOf } from "./deliveries";
import { notificationDeps, type NotificationDeps, type NotifyInput } from "./model";
import { finishNotifications, loadNotifyContext, notificationStatements, planNotifications } from "./plan";

/**
 * Creating notifications: `POST /api/v1/notifications` (createNotifications)
 * and internal causes (notifyUsers, notifyOrgAdmins), each one read batch,
 * one write batch, then publishing.
 */

/** Only admins and services create notifications (403 otherwise). */
export function requireProducer(actor: Claims): void {
  assertRole(actor, ["admin", "service"], "Only admins and services create notifications");
}

/** The body of `POST /api/v1/notifications`. */
export interface CreateNotificationsInput extends NotifyInput {
  userIds: string[];
}

/**
 * Creates one notification per recipient (admins and services). With an
 * Idempotency-Key a retry returns the first response and creates nothing new.
 */
export async function createNotifications(
  deps: NotificationDeps,
  actor: Claims,
  input: CreateNotificationsInput,
  idempotency?: Omit<IdempotencyRequest, "orgId" | "scope">,
  now = new Date(),
): Promise<{ body: { ids: string[]; notifications: { id: string; userId: string; channels: string[] }[] }; replayed: boolean }> {
  requireProducer(actor);
  assertDataSize(input.data ?? {}, deps.config.maxAlertDataBytes);
  const source = idempotency ? `api:${idempotency.key}` : null;
  const ctx = await loadNotifyContext(deps.db, actor.org, input.userIds);
  // One event source for the whole request, so a replay finishes its events in one call.
  const p = planNotifications(deps, ctx, input, source, now, source ?? undefined);
  const { statements, staged } = notificationStatements(deps, ctx, p, [], now);
  const result = await runIdempotent(
    deps.db,
    idempotency && { ...idempotency, orgId: actor.org, scope: "POST /api/v1/notifications" },
    () => ({
      statements,
      body: {
        ids: p.notifications.map((n) => n.id),
        notifications: p.notifications.map((n) => ({ id: n.id, userId: n.userId, channels: n.channels })),
      },
    }),
    now,
  );
  if (result.replayed) {
    // Finish what the first attempt may have left: its realtime events and queued deliveries.
    // Only a request with an Idempotency-Key can be replayed, so `source` is set.
    await deps.realtime.finishPending(actor.org, source!);
    await requeueDeliveriesOf(deps, actor.org, result.body.ids);
    return { body: result.body, replayed: true };
  }
  await finishNotifications(deps, p, staged);
  return { body: result.body, replayed: false };
}

/**
 * Creates notifications for internal causes (an alert, a disabled webhook).
 * `source` makes it idempotent per user: running it again creates nothing.
 */
export async function notifyUsers(
  deps: NotificationDeps,
  orgId: string,
  to: string[] | "admins",
  input: NotifyInput,
  source: string,
  now = new Date(),
): Promise<string[]> {
  if (to !== "admins" && to.length === 0) return [];
  const ctx = await loadNotifyContext(deps.db, orgId, to, source, deps.config.maxAdminNotifications);
  const p = planNotifications(deps, ctx, input, source, now);
  if (p.notifications.length === 0) return [];
  const { statements, staged } = notificationStatements(deps, ctx, p, [], now);
  await deps.db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  await finishNotifications(deps, p, staged);
  return p.notifications.map((n) => n.id);
}

/**
 * Notifies every admin of an organization in the directory (in-app, plus
 * whatever their priority and preferences route to). Returns the created ids.
 */
export async function notifyOrgAdmins(env: Env, orgId: string, input: NotifyInput, source = `admins:${newId("src")}`): Promise<string[]> {
  return notifyUsers(await notificationDeps(env, orgId), orgId, "admins", input, source);
}
