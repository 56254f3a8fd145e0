import { and, count, desc, eq, inArray, isNull, isNotNull, lt, or, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { getConfig, type Config } from "../config";
import { getDb, type Db } from "../db/client";
import { deliveries, notifications, users, type DeliveryRow, type NotificationRow, type UserRow } from "../db/schema";
import { MAX_QUEUE_DELAY_SECONDS } from "../delivery/backoff";
import { enqueueDeliveries } from "../delivery/enqueue";
import { enabledEndpointsQuery, type WebhookEndpoint } from "../outbox/webhooks";
import { idList, insertJsonRows } from "../db/sql";
import { renderEmail, renderSms } from "../delivery/email-templates";
import { ErrorCode, forbidden, notFound } from "../errors";
import { keysetPage } from "../db/pagination";
import { newId } from "../lib/ids";
import { assertDataSize } from "../lib/size-limit";
import type { OutboundEvent } from "../outbox/events";
import { realtimePort, type RealtimePort } from "../outbox/port";
import type { StagedEvents } from "../outbox/publish";
import { NotificationEvents, type Notification, type Priority } from "../protocol";
import type { Claims } from "../types";
import { runIdempotent, type IdempotencyRequest } from "./idempotency";
import { effectiveFrom, preferenceRowsQuery, type EffectivePreferences } from "./preferences";
import { route, type NotificationChannel } from "./routing";

/**
 * The notification service: the in-app inbox (D1), its realtime sync to every
 * device of the user, and the outbound deliveries (email, SMS) that routing
 * decides, queued after the commit.
 */

/** A notification to create, as producers and internal services describe it. */
export interface NotifyInput {
  type: string;
  title: string;
  message?: string;
  priority?: Priority;
  data?: Record<string, unknown>;
  actionUrl?: string;
  actionText?: string;
  channels?: NotificationChannel[];
}


export interface NotificationDeps {
  env: Env;
  db: Db;
  config: Config;
  realtime: RealtimePort;
}

/** Builds the service's dependencies from a Worker or Durable Object env. */
export function notificationDeps(env: Env): NotificationDeps {
  const db = getDb(env);
  const config = getConfig(env);
  return { env, db, config, realtime: realtimePort(env, db, config) };
}

export function toNotification(row: NotificationRow): Notification {
  return {
    id: row.id,
    userId: row.userId,
    type: row.type,
    title: row.title,
    message: row.message,
    actionUrl: row.actionUrl,
    actionText: row.actionText,
    priority: row.priority,
    data: row.data,
    channels: row.channels,
    createdAt: row.createdAt.toISOString(),
    seenAt: row.seenAt?.toISOString() ?? null,
    readAt: row.readAt?.toISOString() ?? null,
    archivedAt: row.archivedAt?.toISOString() ?? null,
  };
}

/**
 * What planning notifications reads from D1, in one round trip (one
 * `db.batch` of reads): the recipients' directory rows and preferences, the
 * org's enabled webhook endpoints (for the events written with them) and,
 * for an idempotent cause, who was already notified.
 */
export interface NotifyContext {
  orgId: string;
  /** The recipients: the users asked for, or the org's admins. */
  userIds: string[];
  people: Map<string, UserRow>;
  prefs: Map<string, EffectivePreferences>;
  endpoints: WebhookEndpoint[];
  /** Recipients that already have a notification from `source`. */
  alreadyNotified: Set<string>;
}

/**
 * Loads a NotifyContext. `to` is a list of user ids or "admins": the org's
 * admins in the directory, at most `maxAdmins` of them (MAX_ADMIN_NOTIFICATIONS),
 * the most recently seen first (see docs/NOTIFICATIONS.md, "Large orgs").
 */
export async function loadNotifyContext(
  db: Db,
  orgId: string,
  to: string[] | "admins",
  source?: string,
  maxAdmins = Number.MAX_SAFE_INTEGER,
): Promise<NotifyContext> {
  const ids = to === "admins" ? [] : [...new Set(to)];
  const admins = db.select({ id: users.id }).from(users).where(and(eq(users.orgId, orgId), eq(users.role, "admin")));
  const [people, prefRows, endpoints, notified] = await db.batch([
    to === "admins"
      ? db
          .select()
          .from(users)
          .where(and(eq(users.orgId, orgId), eq(users.role, "admin")))
          // SQLite sorts NULL first ascending, so last here: never-seen admins come last.
          .orderBy(desc(users.lastSeenAt), users.id)
          .limit(maxAdmins + 1)
      : db
          .select()
          .from(users)
          .where(and(eq(users.orgId, orgId), inArray(users.id, idList(ids))))
          .orderBy(users.id),
    preferenceRowsQuery(db, orgId, to === "admins" ? sql`(${admins})` : ids),
    enabledEndpointsQuery(db, orgId),
    db
      .select({ userId: notifications.userId })
      .from(notifications)
      .where(source === undefined ? sql`0` : and(eq(notifications.orgId, orgId), eq(notifications.source, source))),
  ]);
  if (to === "admins" && people.length > maxAdmins) {
    people.length = maxAdmins;
    console.warn(`herald: org ${orgId} has more than ${maxAdmins} admins (MAX_ADMIN_NOTIFICATIONS): only the ${maxAdmins} most recently seen are notified`);
  }
  const userIds = to === "admins" ? people.map((u) => u.id) : ids;
  return {
    orgId,
    userIds,
    people: new Map(people.map((u) => [u.id, u])),
    prefs: effectiveFrom(prefRows, userIds),
    endpoints,
    alreadyNotified: new Set(notified.map((r) => r.userId)),
  };
}

/** Everything one create writes, before the commit. */
export interface NotificationPlan {
  orgId: string;
  notifications: NotificationRow[];
  deliveries: DeliveryRow[];
  events: OutboundEvent[];
}

/**
 * Decides rows for each recipient not notified yet: the notification (in-app
 * record), its email/SMS deliveries (queued, deferred for quiet hours, or
 * skipped with the reason), and the `notification:new` event when realtime
 * is on. No I/O: the context has what it needs.
 */
export function planNotifications(
  deps: Pick<NotificationDeps, "config">,
  ctx: NotifyContext,
  input: NotifyInput,
  source: string | null,
  now: Date,
  /** The source of the notification:new events (default: one per notification), e.g. the alert that caused them. */
  eventSource?: string,
): NotificationPlan {
  const { orgId, people, prefs } = ctx;
  const userIds = ctx.userIds.filter((id) => !ctx.alreadyNotified.has(id));
  const priority = input.priority ?? "MEDIUM";
  const out: NotificationPlan = { orgId, notifications: [], deliveries: [], events: [] };
  for (const userId of userIds) {
    const r = route({ type: input.type, priority, channels: input.channels }, prefs.get(userId)!, now);
    const row: NotificationRow = {
      id: newId("ntf", now.getTime()),
      orgId,
      userId,
      type: input.type,
      title: input.title,
      message: input.message ?? null,
      actionUrl: input.actionUrl ?? null,
      actionText: input.actionText ?? null,
      priority,
      data: input.data ?? {},
      channels: r.channels,
      source,
      createdAt: now,
      seenAt: null,
      readAt: null,
      archivedAt: null,
      deletedAt: null,
    };
    out.notifications.push(row);
    const person = people.get(userId);
    for (const channel of ["email", "sms"] as const) {
      if (!r.channels.includes(channel)) continue;
      const address = channel === "email" ? (person?.email ?? null) : (person?.phone ?? null);
      const base = {
        id: newId("dlv", now.getTime()),
        orgId,
        dedupeKey: `n:${row.id}:${channel}`,
        notificationId: row.id,
        webhookId: null,
        eventId: null,
        userId,
        channel,
        address,
        attempts: 0,
        provider: null,
        providerMessageId: null,
        createdAt: now,
        updatedAt: now,
        sentAt: null,
      };
      if (!address) {
        const reason = person ? `no ${channel === "email" ? "email address" : "phone number"} in the directory` : "recipient not in the directory";
        out.deliveries.push({ ...base, status: "skipped", lastError: reason, payload: {}, scheduledFor: null });
        continue;
      }
      const notification = toNotification(row);
      const payload =
        channel === "email"
          ? renderEmail({
              notification,
              recipient: { email: address, ...(person?.name && { name: person.name }) },
              orgId,
              publicBaseUrl: deps.config.delivery.publicBaseUrl,
            })
          : renderSms(notification);
      out.deliveries.push({
        ...base,
        status: r.deferUntil ? "deferred" : "queued",
        lastError: null,
        payload: payload as unknown as Record<string, unknown>,
        scheduledFor: r.deferUntil ?? null,
      });
    }
    if (r.channels.includes("realtime")) {
      out.events.push({
        id: newId("evt", now.getTime()),
        orgId,
        type: NotificationEvents.new,
        data: { notification: toNotification(row) },
        ts: now.getTime(),
        userIds: [userId],
        source: eventSource ?? `notification:${row.id}`,
      });
    }
  }
  return out;
}

/**
 * The statements of a plan for the caller's batch: notifications, deliveries,
 * and the staged events (`alsoEvents`, e.g. the alert's own, then the plan's)
 * with their webhook deliveries to the context's endpoints.
 */
export function notificationStatements(
  deps: Pick<NotificationDeps, "db" | "realtime">,
  ctx: NotifyContext,
  p: NotificationPlan,
  alsoEvents: OutboundEvent[] = [],
  now = new Date(),
): { statements: BatchItem<"sqlite">[]; staged: StagedEvents } {
  const db = deps.db;
  const staged = deps.realtime.stage([...alsoEvents, ...p.events], { endpoints: ctx.endpoints, now });
  return {
    statements: [
      // One parameter per statement whatever the number of recipients (D1 binds at most 100):
      // rows travel as JSON. A re-run of the same cause (same source) inserts nothing: see notifications_source_unique.
      ...insertJsonRows(db, notifications, p.notifications, { onConflictDoNothing: true }),
      ...insertJsonRows(db, deliveries, p.deliveries, { onConflictDoNothing: true }),
      ...staged.statements,
    ],
    staged,
  };
}

/**
 * After the commit of a plan (and of the events staged with it): the events
 * to the hubs (with the recipients' badges), then the queued deliveries
 * (email, SMS, webhooks), then the events are marked published.
 */
export async function finishNotifications(deps: Pick<NotificationDeps, "realtime">, p: NotificationPlan, staged: StagedEvents) {
  return deps.realtime.publish(staged, {
    refreshUnread: { orgId: p.orgId, userIds: [...new Set(p.notifications.map((n) => n.userId))] },
    queue: p.deliveries,
  });
}

/** The unread and unseen counts of users (non-archived, non-deleted). */
export async function unreadCounts(db: Db, orgId: string, userIds: string[]): Promise<Map<string, { count: number; unseen: number }>> {
  const out = new Map(userIds.map((id) => [id, { count: 0, unseen: 0 }]));
  if (userIds.length === 0) return out;
  const rows = await db
    .select({
      userId: notifications.userId,
      count: sql<number>`sum(CASE WHEN ${notifications.readAt} IS NULL THEN 1 ELSE 0 END)`,
      unseen: sql<number>`sum(CASE WHEN ${notifications.seenAt} IS NULL THEN 1 ELSE 0 END)`,
    })
    .from(notifications)
    .where(
      and(eq(notifications.orgId, orgId), inArray(notifications.userId, idList(userIds)), isNull(notifications.deletedAt), isNull(notifications.archivedAt)),
    )
    .groupBy(notifications.userId);
  for (const r of rows) out.set(r.userId, { count: Number(r.count ?? 0), unseen: Number(r.unseen ?? 0) });
  return out;
}

/** Only admins and services create notifications (403 otherwise). */
export function requireProducer(actor: Claims): void {
  if (actor.role !== "admin" && actor.role !== "service") throw forbidden("Only admins and services create notifications");
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
  const p = planNotifications(deps, ctx, input, source, now);
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
    for (const id of result.body.ids) await deps.realtime.finishPending(actor.org, `notification:${id}`);
    await requeueDeliveriesOf(deps, actor.org, result.body.ids);
    return { body: result.body, replayed: true };
  }
  await finishNotifications(deps, p, staged);
  return { body: result.body, replayed: false };
}

async function requeueDeliveriesOf(deps: NotificationDeps, orgId: string, notificationIds: string[]): Promise<void> {
  const rows = await deps.db
    .select()
    .from(deliveries)
    .where(and(eq(deliveries.orgId, orgId), inArray(deliveries.notificationId, idList(notificationIds)), inArray(deliveries.status, ["queued", "deferred"])));
  await enqueueDeliveries(deps.env, rows);
}

/**
 * Finishes the notifications of an internal cause (`source`) that a failed
 * attempt may have left undone: their queued email/SMS deliveries. (Their
 * realtime events share the cause's source and are finished with it.)
 */
export async function requeueDeliveriesOfSource(deps: NotificationDeps, orgId: string, source: string): Promise<void> {
  const ids = await deps.db
    .select({ id: notifications.id })
    .from(notifications)
    .where(and(eq(notifications.orgId, orgId), eq(notifications.source, source)));
  if (ids.length > 0) await requeueDeliveriesOf(deps, orgId, ids.map((r) => r.id));
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
  return notifyUsers(notificationDeps(env), orgId, "admins", input, source);
}

// ───────────────────────────── the inbox ─────────────────────────────

const notificationNotFound = (id: string) => notFound(ErrorCode.NOTIFICATION_NOT_FOUND, `No notification ${id} for you`);

const mine = (actor: Claims): SQL => and(eq(notifications.orgId, actor.org), eq(notifications.userId, actor.sub), isNull(notifications.deletedAt))!;

/** Lists the caller's notifications, newest first. */
export async function listNotifications(
  db: Db,
  actor: Claims,
  query: { status: "unread" | "read" | "all"; archived: boolean; limit: number; cursor?: string },
): Promise<{ items: Notification[]; nextCursor: string | null }> {
  const conditions: (SQL | undefined)[] = [mine(actor), query.archived ? isNotNull(notifications.archivedAt) : isNull(notifications.archivedAt)];
  if (query.status === "unread") conditions.push(isNull(notifications.readAt));
  if (query.status === "read") conditions.push(isNotNull(notifications.readAt));
  return keysetPage(
    notifications,
    query,
    (after, orderBy, limit) =>
      db
        .select()
        .from(notifications)
        .where(and(...conditions, after))
        .orderBy(...orderBy)
        .limit(limit),
    toNotification,
  );
}

/** `{unread, unseen, total}` over the caller's non-archived notifications. */
export async function notificationCounts(db: Db, actor: Claims): Promise<{ unread: number; unseen: number; total: number }> {
  const [row] = await db
    .select({
      total: count(),
      unread: sql<number>`coalesce(sum(CASE WHEN ${notifications.readAt} IS NULL THEN 1 ELSE 0 END), 0)`,
      unseen: sql<number>`coalesce(sum(CASE WHEN ${notifications.seenAt} IS NULL THEN 1 ELSE 0 END), 0)`,
    })
    .from(notifications)
    .where(and(mine(actor), isNull(notifications.archivedAt)));
  return { unread: Number(row?.unread ?? 0), unseen: Number(row?.unseen ?? 0), total: row?.total ?? 0 };
}

/** The change kinds of the inbox, each with its realtime event. */
type InboxChange = "read" | "unread" | "archive" | "delete";

const CHANGE_EVENT: Record<InboxChange, string> = {
  read: NotificationEvents.read,
  unread: NotificationEvents.unread,
  archive: NotificationEvents.archived,
  delete: NotificationEvents.deleted,
};

function inboxEvent(actor: Claims, type: string, data: Record<string, unknown>, now: Date): OutboundEvent {
  return { id: newId("evt", now.getTime()), orgId: actor.org, type, data, ts: now.getTime(), userIds: [actor.sub] };
}

/** Applies one change to one of the caller's notifications; another user's id is 404. */
export async function changeNotification(deps: NotificationDeps, actor: Claims, id: string, change: InboxChange, now = new Date()): Promise<Notification | null> {
  const current = await deps.db.query.notifications.findFirst({ where: and(eq(notifications.id, id), mine(actor)) });
  if (!current) throw notificationNotFound(id);
  const set: Partial<NotificationRow> =
    change === "read"
      ? { readAt: current.readAt ?? now, seenAt: current.seenAt ?? now }
      : change === "unread"
        ? { readAt: null }
        : change === "archive"
          ? { archivedAt: current.archivedAt ?? now }
          : { deletedAt: now };
  const after = { ...current, ...set };
  const ev = inboxEvent(
    actor,
    CHANGE_EVENT[change],
    change === "delete" ? { ids: [id] } : { ids: [id], notification: toNotification(after) },
    now,
  );
  const staged = deps.realtime.stage([ev]);
  await deps.db.batch([deps.db.update(notifications).set(set).where(eq(notifications.id, id)), ...staged.statements]);
  await deps.realtime.publish(staged, { refreshUnread: { orgId: actor.org, userIds: [actor.sub] } });
  return change === "delete" ? null : toNotification(after);
}

/** Marks every unread notification of the caller read (or every unseen one seen). */
export async function markAll(deps: NotificationDeps, actor: Claims, what: "read" | "seen", now = new Date()): Promise<{ updated: number }> {
  // Archived ones too: "all" means the whole inbox, and un-archiving should not resurrect a stale unread.
  const where = what === "read" ? and(mine(actor), isNull(notifications.readAt)) : and(mine(actor), isNull(notifications.seenAt));
  const set = what === "read" ? { readAt: now, seenAt: sql`coalesce(${notifications.seenAt}, ${now.getTime()})` } : { seenAt: now };
  const ev = inboxEvent(actor, what === "read" ? NotificationEvents.read : NotificationEvents.seen, { all: true, at: now.toISOString() }, now);
  const staged = deps.realtime.stage([ev]);
  const [res] = await deps.db.batch([deps.db.update(notifications).set(set).where(where), ...staged.statements]);
  await deps.realtime.publish(staged, { refreshUnread: { orgId: actor.org, userIds: [actor.sub] } });
  return { updated: res.meta.changes ?? 0 };
}

/** The delivery rows of a notification: admins and services, or its recipient. */
export async function notificationDeliveries(db: Db, actor: Claims, id: string) {
  const row = await db.query.notifications.findFirst({ where: and(eq(notifications.id, id), eq(notifications.orgId, actor.org)) });
  const privileged = actor.role === "admin" || actor.role === "service";
  // The recipient's view ends with the delete; admins and services keep the audit trail.
  if (!row || (!privileged && (row.userId !== actor.sub || row.deletedAt !== null))) throw notificationNotFound(id);
  const rows = await db.select().from(deliveries).where(eq(deliveries.notificationId, id)).orderBy(deliveries.createdAt, deliveries.channel);
  return rows.map((d) => ({
    id: d.id,
    channel: d.channel,
    address: d.address,
    status: d.status,
    attempts: d.attempts,
    provider: d.provider,
    providerMessageId: d.providerMessageId,
    lastError: d.lastError,
    scheduledFor: d.scheduledFor?.toISOString() ?? null,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
    sentAt: d.sentAt?.toISOString() ?? null,
  }));
}

/**
 * Cron: re-queues deliveries whose message was lost (e.g. the Worker died
 * between the commit and the enqueue): never attempted and idle for 15
 * minutes, or attempted but idle for longer than any queued retry can wait
 * (13 h > the 12 h delay cap), so a live retry chain is never doubled.
 */
export async function requeueStaleDeliveries(env: Env, db: Db, olderThanMs = 15 * 60_000, now = Date.now()): Promise<number> {
  const rows = await db
    .select()
    .from(deliveries)
    .where(
      and(
        inArray(deliveries.status, ["queued", "deferred"]),
        or(
          and(eq(deliveries.attempts, 0), lt(deliveries.updatedAt, new Date(now - olderThanMs))),
          lt(deliveries.updatedAt, new Date(now - (MAX_QUEUE_DELAY_SECONDS + 3_600) * 1000)),
        ),
      ),
    )
    .limit(200);
  const due = rows.filter((d) => !d.scheduledFor || d.scheduledFor.getTime() <= now + 60_000);
  if (due.length === 0) return 0;
  await db
    .update(deliveries)
    .set({ updatedAt: new Date(now) })
    .where(inArray(deliveries.id, idList(due.map((d) => d.id))));
  await enqueueDeliveries(env, due, now);
  return due.length;
}
