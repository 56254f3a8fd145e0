/** Display formats shared by the pages (the browser's locale for numbers and dates). */

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** 1234 → "1,234". */
export function formatCount(n: number): string {
  return integer.format(n);
}

/** 0.256 → "25.6%". */
export function formatPercent(ratio: number): string {
  return percent.format(ratio);
}

/** A duration as people say it: "45 s", "4 min 12 s", "2 h 5 min", "3 d 4 h". */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** An ISO time relative to now: "5 minutes ago", "yesterday". */
export function formatRelative(iso: string, now = Date.now()): string {
  const seconds = (Date.parse(iso) - now) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 45) return relative.format(Math.round(seconds), "second");
  if (abs < 2700) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 79200) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86400), "day");
}

/** An ISO time in full, for titles and tables. */
export function formatDateTime(iso: string): string {
  return new Date(iso).toLocaleString();
}

/** "IN_PROGRESS" → "In progress". */
export function formatEnum(value: string): string {
  const words = value.toLowerCase().replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** An error's message for display (the API's own message for a HeraldError). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
