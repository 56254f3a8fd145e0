import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { SQLiteSelect } from "drizzle-orm/sqlite-core";
import type { Db } from "../../db/client";
import { deliveries, notifications, users, type DeliveryRow, type NotificationRow, type UserRow } from "../../db/schema";
import { idList, insertJsonRows } from "../../db/sql";
import { renderEmail, renderSms } from "../../delivery/email-templates";
import { newId } from "../../lib/ids";
import type { OutboundEvent } from "../../outbox/events";
import type { StagedEvents } from "../../outbox/publish";
import { enabledEndpointsQuery, type WebhookEndpoint } from "../../outbox/webhooks";
import { NotificationEvents } from "../../protocol";
import { route } from "./channel-rules";
import { toNotification, type NotificationDeps, type NotifyInput } from "./model";
import { effectiveFrom, preferenceRowsQuery, type EffectivePreferences } from "./preferences";

/**
 * Planning notifications: one read batch (`loadNotifyContext`), the rows each
 * recipient gets (`planNotifications`, no I/O), the statements for the
 * cause's write batch with the events staged in the outbox
 * (`notificationStatements`), and publishing after the commit
 * (`finishNotifications`).
 */

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
  // The admins notified: the most recently seen, at most maxAdmins (+1 to tell that some were left out).
  // SQLite sorts NULL first ascending, so last here: never-seen admins come last.
  const admins = <T extends SQLiteSelect>(q: T) =>
    q.where(and(eq(users.orgId, orgId), eq(users.role, "admin"))).orderBy(desc(users.lastSeenAt), users.id).limit(maxAdmins + 1);
  const reads = [
    to === "admins"
      ? admins(db.select().from(users).$dynamic())
      : db
          .select()
          .from(users)
          .where(and(eq(users.orgId, orgId), inArray(users.id, idList(ids))))
          .orderBy(users.id),
    // Preferences of exactly those people, not of every admin of a large org.
    preferenceRowsQuery(db, orgId, to === "admins" ? sql`(${admins(db.select({ id: users.id }).from(users).$dynamic())})` : ids),
    enabledEndpointsQuery(db, orgId),
  ] as const;
  // Who this cause already notified: only a re-run of a known cause (a source) asks; a new alert skips the statement.
  const [people, prefRows, endpoints, notified] =
    source === undefined
      ? [...(await db.batch(reads)), [] as { userId: string }[]]
      : await db.batch([
          ...reads,
          db
            .select({ userId: notifications.userId })
            .from(notifications)
            .where(and(eq(notifications.orgId, orgId), eq(notifications.source, source))),
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
