import type { NotificationChannel, Priority } from "../../protocol";
import { allows, type EffectivePreferences, type QuietHours } from "./preferences";

/**
 * Which channels a notification goes out on, and when.
 *
 * 1. The priority matrix (product brief): CRITICAL → in-app + realtime +
 *    email + SMS; HIGH → in-app + realtime + email; MEDIUM, LOW → in-app +
 *    realtime. A request's `channels` replaces the matrix (narrows or widens).
 * 2. Preferences: an opt-out (channel switch or per-type switch) always wins.
 *    In-app is the notification's record and is always kept.
 * 3. Quiet hours: email and SMS below CRITICAL are deferred to the end of the
 *    quiet period; CRITICAL goes out at once.
 */

export type { NotificationChannel };

/** The channels of each priority, before preferences and a request's own `channels`. */

export const PRIORITY_MATRIX: Readonly<Record<Priority, readonly NotificationChannel[]>> = {
  CRITICAL: ["in_app", "realtime", "email", "sms"],
  HIGH: ["in_app", "realtime", "email"],
  MEDIUM: ["in_app", "realtime"],
  LOW: ["in_app", "realtime"],
};

/** The decision for one recipient. */
export interface Route {
  /** Channels the notification uses (in_app always first). */
  channels: NotificationChannel[];
  /** Channels the request or matrix wanted but preferences turned off. */
  optedOut: NotificationChannel[];
  /** When set, email/SMS wait until then (end of quiet hours). */
  deferUntil?: Date;
}

/** Minutes since local midnight of `at` in `timeZone`. */
function localMinutes(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(at);
  const hour = Number(parts.find((p) => p.type === "hour")?.value ?? 0);
  const minute = Number(parts.find((p) => p.type === "minute")?.value ?? 0);
  return hour * 60 + minute;
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * The end of the quiet period containing `now`, or undefined when `now` is
 * outside it. Periods may wrap midnight (22:00–07:00). Minute precision; a
 * DST change inside the period shifts the end by the change (at most an hour).
 */
export function quietUntil(quiet: QuietHours, now: Date): Date | undefined {
  const start = toMinutes(quiet.start);
  const end = toMinutes(quiet.end);
  const current = localMinutes(now, quiet.timeZone);
  const inside = start < end ? current >= start && current < end : current >= start || current < end;
  if (!inside) return undefined;
  const minutesLeft = (end - current + 1440) % 1440;
  const at = new Date(now.getTime() + minutesLeft * 60_000);
  at.setUTCSeconds(0, 0);
  return at;
}

/** Routes one notification for one recipient. */
export function route(
  input: { type: string; priority: Priority; channels?: NotificationChannel[] },
  prefs: EffectivePreferences,
  now: Date,
): Route {
  const wanted = new Set<NotificationChannel>(input.channels ?? PRIORITY_MATRIX[input.priority]);
  const channels: NotificationChannel[] = ["in_app"];
  const optedOut: NotificationChannel[] = [];
  for (const channel of ["realtime", "email", "sms"] as const) {
    if (!wanted.has(channel)) continue;
    if (allows(prefs, input.type, channel)) channels.push(channel);
    else optedOut.push(channel);
  }
  const outbound = channels.some((c) => c === "email" || c === "sms");
  const deferUntil = outbound && input.priority !== "CRITICAL" && prefs.quietHours ? quietUntil(prefs.quietHours, now) : undefined;
  return { channels, optedOut, ...(deferUntil && { deferUntil }) };
}
