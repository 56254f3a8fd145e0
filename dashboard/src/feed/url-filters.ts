import type { AlertFilters, AlertStatus, Priority } from "@herald/sdk";
import { PRIORITY_ORDER, STATUS_ORDER } from "./format";

/**
 * The feed's filters as the URL carries them (docs/DASHBOARD.md): what the
 * form shows, parsed leniently (an unknown value is dropped, not an error),
 * and turned into the API's query by `toApiFilters`.
 */
export interface UrlFilters {
  priority: Priority[];
  status: AlertStatus[];
  type: string;
  assignee: string;
  /** YYYY-MM-DD, the first day included. */
  since: string;
  /** YYYY-MM-DD, the last day included. */
  until: string;
  /** 0–1 as typed (a string, so a half-typed "0." survives). */
  minConfidence: string;
  q: string;
}

/** The query parameters the filters own (the detail view's `alert` is not one of them). */
export const FILTER_KEYS = ["priority", "status", "type", "assignee", "since", "until", "minConfidence", "q"] as const;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Whether `value` is a real calendar day written YYYY-MM-DD. */
export function isDay(value: string): boolean {
  if (!DAY.test(value)) return false;
  const t = Date.parse(`${value}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === value;
}

function listOf<T extends string>(raw: string | null, allowed: readonly T[]): T[] {
  if (!raw) return [];
  const wanted = new Set(raw.split(",").map((s) => s.trim().toUpperCase()));
  return allowed.filter((v) => wanted.has(v));
}

/** The filters in a URL query. */
export function readFilters(search: URLSearchParams): UrlFilters {
  return {
    priority: listOf(search.get("priority"), PRIORITY_ORDER),
    status: listOf(search.get("status"), STATUS_ORDER),
    type: search.get("type") ?? "",
    assignee: search.get("assignee") ?? "",
    since: search.get("since") ?? "",
    until: search.get("until") ?? "",
    minConfidence: search.get("minConfidence") ?? "",
    q: search.get("q") ?? "",
  };
}

/** A patch for `setQuery`: each filter's parameter, or undefined to remove it. */
export function filtersToQuery(f: Partial<UrlFilters>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(f)) out[key] = Array.isArray(value) ? value.join(",") || undefined : value?.trim() || undefined;
  return out;
}

/** Whether any filter is set. */
export function hasFilters(f: UrlFilters): boolean {
  return FILTER_KEYS.some((k) => (Array.isArray(f[k]) ? f[k].length > 0 : f[k] !== ""));
}

/** The day after a YYYY-MM-DD day, as UTC midnight (ISO). */
function nextDayIso(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString();
}

/** The confidence as a number when it is one in 0–1. */
export function parseConfidence(raw: string): number | undefined {
  if (raw.trim() === "") return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : undefined;
}

/**
 * The API's query for these filters. Days are UTC: From is that day's
 * 00:00, To includes its whole day (until = the next day's 00:00, which the
 * API excludes). Values the API would refuse (a bad day, a confidence out of
 * range, From after To) are left out; the form says why (`filterProblems`).
 */
export function toApiFilters(f: UrlFilters): AlertFilters {
  const out: AlertFilters = {};
  if (f.priority.length) out.priority = f.priority;
  if (f.status.length) out.status = f.status;
  if (f.type.trim()) out.type = f.type.trim();
  if (f.assignee.trim()) out.assigneeId = f.assignee.trim();
  const since = isDay(f.since) ? `${f.since}T00:00:00.000Z` : undefined;
  const until = isDay(f.until) ? nextDayIso(f.until) : undefined;
  if (since && (!until || since < until)) out.since = since;
  if (until && (!since || since < until)) out.until = until;
  const confidence = parseConfidence(f.minConfidence);
  if (confidence !== undefined) out.minConfidence = confidence;
  if (f.q.trim()) out.q = f.q.trim().slice(0, 200);
  return out;
}

/** What is wrong with the filters, per field, in words (empty when nothing is). */
export function filterProblems(f: UrlFilters): Partial<Record<"since" | "until" | "minConfidence", string>> {
  const out: Partial<Record<"since" | "until" | "minConfidence", string>> = {};
  if (f.since && !isDay(f.since)) out.since = "Enter a date as YYYY-MM-DD.";
  if (f.until && !isDay(f.until)) out.until = "Enter a date as YYYY-MM-DD.";
  else if (isDay(f.since) && isDay(f.until) && f.until < f.since) out.until = "To must not be before From.";
  if (f.minConfidence.trim() && parseConfidence(f.minConfidence) === undefined) out.minConfidence = "Enter a number from 0 to 1.";
  return out;
}
