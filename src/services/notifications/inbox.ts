import { and, count, eq, inArray, isNotNull, isNull, sql, type SQL } from "drizzle-orm";
import type { Db } from "../../db/client";
import { keysetPage } from "../../db/pagination";
import { notifications, type NotificationRow } from "../../db/schema";
import { idList } from "../../db/sql";
import { newId } from "../../lib/ids";
import type { OutboundEvent } from "../../outbox/events";
import { NotificationEvents, type Notification } from "../../protocol";
import type { Claims } from "../../types";
import { notificationNotFound, toNotification, type NotificationDeps } from "./model";

/**
 * The inbox: a user's own notifications (list, counts, read/unread/archive/
 * delete, mark all), each change synced to every device of the user by an
 * event and a fresh badge.
 */

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
