import { z } from "@hono/zod-openapi";
import { and, eq, inArray, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../../db/client";
import { idList } from "../../db/sql";
import { preferences } from "../../db/schema";
import { assertRole } from "../../lib/roles";
import type { Claims } from "../../types";

/**
 * Notification preferences: per channel on/off, per notification type per
 * channel, quiet hours. The org defaults (stored with user_id "") apply
 * wherever a user has said nothing; a user's own setting wins.
 */

const ORG_DEFAULTS = "";

/** Channels a user can turn off. In-app is the notification's record and always kept. */
export const PREFERENCE_CHANNELS = ["realtime", "email", "sms"] as const;
export type PreferenceChannel = (typeof PREFERENCE_CHANNELS)[number];

const ChannelSwitches = z
  .object({ realtime: z.boolean().optional(), email: z.boolean().optional(), sms: z.boolean().optional() })
  .strict();

const HHMM = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, "Use HH:MM, 24-hour");

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const QuietHoursSchema = z
  .object({
    start: HHMM,
    end: HHMM,
    timeZone: z.string().min(1).max(64).refine(isTimeZone, "Unknown IANA time zone"),
  })
  .strict()
  .refine((q) => q.start !== q.end, { message: "start and end must differ", path: ["end"] })
  .openapi("QuietHours");

export const PreferencesSchema = z
  .object({
    channels: ChannelSwitches.optional(),
    types: z
      .record(z.string().min(1).max(64).regex(/^[a-z][a-z0-9_.:-]*$/, "Notification types are lowercase, e.g. alert.new"), ChannelSwitches)
      .refine((r) => Object.keys(r).length <= 100, "At most 100 types")
      .optional(),
    quietHours: QuietHoursSchema.nullable().optional(),
  })
  .strict()
  .openapi("Preferences");

export type Preferences = z.infer<typeof PreferencesSchema>;
export type QuietHours = z.infer<typeof QuietHoursSchema>;

/** The settings that apply to one user: org defaults overlaid with the user's own. */
export interface EffectivePreferences {
  channels: Record<PreferenceChannel, boolean>;
  types: Record<string, Partial<Record<PreferenceChannel, boolean>>>;
  quietHours: QuietHours | null;
}

/** Overlays user settings on org defaults (everything on, no quiet hours, when neither says). */
export function effective(org: Preferences | undefined, user: Preferences | undefined): EffectivePreferences {
  const channels = { realtime: true, email: true, sms: true, ...org?.channels, ...user?.channels };
  const types: EffectivePreferences["types"] = {};
  for (const source of [org?.types, user?.types]) {
    for (const [type, switches] of Object.entries(source ?? {})) types[type] = { ...types[type], ...switches };
  }
  const quietHours = user?.quietHours !== undefined ? user.quietHours : (org?.quietHours ?? null);
  return { channels, types, quietHours };
}

/** Whether the preferences let a notification of `type` use `channel`: a type setting wins over the channel switch. */
export function allows(prefs: EffectivePreferences, type: string, channel: PreferenceChannel): boolean {
  return prefs.types[type]?.[channel] ?? prefs.channels[channel];
}

async function read(db: Db, orgId: string, userId: string): Promise<Preferences | undefined> {
  const row = await db.query.preferences.findFirst({ where: and(eq(preferences.orgId, orgId), eq(preferences.userId, userId)) });
  return row?.settings as Preferences | undefined;
}

async function write(db: Db, orgId: string, userId: string, settings: Preferences): Promise<void> {
  const now = new Date();
  await db
    .insert(preferences)
    .values({ orgId, userId, settings, updatedAt: now })
    .onConflictDoUpdate({ target: [preferences.orgId, preferences.userId], set: { settings, updatedAt: now } });
}

/** The caller's own settings, the org defaults, and what applies. */
export async function getMyPreferences(db: Db, actor: Claims) {
  const [own, org] = await Promise.all([read(db, actor.org, actor.sub), read(db, actor.org, ORG_DEFAULTS)]);
  return { preferences: own ?? {}, orgDefaults: org ?? {}, effective: effective(org, own) };
}

/** Replaces the caller's settings. */
export async function putMyPreferences(db: Db, actor: Claims, settings: Preferences) {
  await write(db, actor.org, actor.sub, settings);
  return getMyPreferences(db, actor);
}

/**
 * Turns one notification type's emails off for one user (a one-click
 * unsubscribe): sets `types[type].email = false` in the user's own settings
 * and keeps everything else. One statement (a JSON merge patch in SQLite), so
 * a concurrent PUT cannot be half-overwritten, and idempotent: a second call
 * writes the same value.
 */
export async function turnOffEmailType(db: Db, orgId: string, userId: string, type: string): Promise<void> {
  const patch = JSON.stringify({ types: { [type]: { email: false } } });
  const now = Date.now();
  await db.run(sql`
    INSERT INTO preferences (org_id, user_id, settings, updated_at) VALUES (${orgId}, ${userId}, json(${patch}), ${now})
    ON CONFLICT (org_id, user_id) DO UPDATE SET settings = json_patch(preferences.settings, excluded.settings), updated_at = excluded.updated_at`);
}

export async function getOrgPreferences(db: Db, actor: Claims): Promise<Preferences> {
  assertRole(actor, ["admin"], "Only admins read the org defaults");
  return (await read(db, actor.org, ORG_DEFAULTS)) ?? {};
}

export async function putOrgPreferences(db: Db, actor: Claims, settings: Preferences): Promise<Preferences> {
  assertRole(actor, ["admin"], "Only admins set the org defaults");
  await write(db, actor.org, ORG_DEFAULTS, settings);
  return settings;
}

/**
 * The stored settings that apply to some users of one org (theirs and the org
 * defaults), as one query that can join a `db.batch`. `userIds` is a list, or
 * a subquery of user ids (e.g. the org's admins).
 */
export function preferenceRowsQuery(db: Db, orgId: string, userIds: readonly string[] | SQL) {
  const who = Array.isArray(userIds) ? idList([ORG_DEFAULTS, ...userIds]) : undefined;
  return db
    .select({ userId: preferences.userId, settings: preferences.settings })
    .from(preferences)
    .where(
      and(
        eq(preferences.orgId, orgId),
        who ? inArray(preferences.userId, who) : or(eq(preferences.userId, ORG_DEFAULTS), inArray(preferences.userId, userIds as SQL)),
      ),
    );
}

/** Effective preferences of users from the rows preferenceRowsQuery read. */
export function effectiveFrom(rows: { userId: string; settings: Record<string, unknown> }[], userIds: readonly string[]): Map<string, EffectivePreferences> {
  const byUser = new Map(rows.map((r) => [r.userId, r.settings as Preferences]));
  const org = byUser.get(ORG_DEFAULTS);
  return new Map(userIds.map((id) => [id, effective(org, byUser.get(id))]));
}

/** Effective preferences of many users of one org, in one query. */
export async function effectiveFor(db: Db, orgId: string, userIds: string[]): Promise<Map<string, EffectivePreferences>> {
  return effectiveFrom(await preferenceRowsQuery(db, orgId, userIds), userIds);
}
