// Small statistics helpers: percentiles of a sample, medians over runs.

/** Nearest-rank percentile (p in 0..100) of an unsorted array; null when empty. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

/** p50/p95/p99/max/mean/count of a sample (ms or anything). */
export function summary(values) {
  if (values.length === 0) return { count: 0, p50: null, p95: null, p99: null, max: null, mean: null };
  const sorted = Float64Array.from(values).sort();
  const at = (p) => sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: sorted[sorted.length - 1], mean: sum / sorted.length };
}

/** Median of the numbers in an array, ignoring null/undefined/NaN; null if none. */
export function median(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Rounds for display: 3 significant digits below 100, integers above. */
export function fmt(x, unit = "") {
  if (x === null || x === undefined || Number.isNaN(x)) return "—";
  if (typeof x === "string") return x;
  const abs = Math.abs(x);
  let s;
  if (abs >= 100) s = Math.round(x).toLocaleString("en-US");
  else if (abs >= 10) s = x.toFixed(1);
  else if (abs >= 1) s = x.toFixed(2);
  else if (abs === 0) s = "0";
  else s = x.toPrecision(2);
  return unit ? `${s} ${unit}` : s;
}
