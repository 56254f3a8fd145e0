import { HeraldError, type AlertStatus, type Assignment, type Priority } from "@herald/sdk";

/** Priorities, most urgent first (the order of the filter and of the labels). */
export const PRIORITY_ORDER: readonly Priority[] = ["CRITICAL", "HIGH", "MEDIUM", "LOW"];

/** Every status, in lifecycle order. */
export const STATUS_ORDER: readonly AlertStatus[] = ["PENDING", "ACKNOWLEDGED", "IN_PROGRESS", "RESOLVED", "DISMISSED", "CONVERTED"];

/** A priority as a person reads it. */
export const PRIORITY_LABEL: Record<Priority, string> = { CRITICAL: "Critical", HIGH: "High", MEDIUM: "Medium", LOW: "Low" };

/** A shape per priority, so priority never rests on colour alone (decorative: the label says it too). */
export const PRIORITY_ICON: Record<Priority, string> = { CRITICAL: "⬢", HIGH: "▲", MEDIUM: "◆", LOW: "▽" };

/** A status as a person reads it. */
export const STATUS_LABEL: Record<AlertStatus, string> = {
  PENDING: "Pending",
  ACKNOWLEDGED: "Acknowledged",
  IN_PROGRESS: "In progress",
  RESOLVED: "Resolved",
  DISMISSED: "Dismissed",
  CONVERTED: "Converted",
};

/** How an assignment came about, as a person reads it. */
export const ASSIGNMENT_KIND_LABEL: Record<Assignment["kind"], string> = { routed: "Routed", queued: "Queued", manual: "Manual", escalated: "Escalated" };

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** An ISO timestamp as a local date and time ("—" for none). */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : dateTime.format(t);
}

/** How long ago an ISO timestamp was ("5 minutes ago"), for a card's glance. */
export function formatAgo(iso: string, now = Date.now()): string {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(seconds, "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86400), "day");
}

/** A 0–1 confidence as a percentage ("—" for none). */
export function formatConfidence(confidence: number | null): string {
  return confidence === null ? "—" : `${Math.round(confidence * 100)}%`;
}

/** The message to show for a failure: the API's own when it gave one. */
export function errorMessage(err: unknown): string {
  if (err instanceof HeraldError || err instanceof Error) return err.message;
  return String(err);
}
