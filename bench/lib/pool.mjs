// Bounded concurrency and deadlines: every phase of the load generator ends
// by itself, with a count of what did not finish.
import { performance } from "node:perf_hooks";

/** Rejects with `label timed out` after `ms` unless `promise` settles first. */
export function withTimeout(promise, ms, label) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${label} timed out after ${ms} ms`)), ms);
    }),
  ]);
}

/**
 * Runs `task(i)` for i in [0, count) with at most `concurrency` in flight,
 * starting no new task after `deadlineMs` (from now). Resolves when every
 * started task has settled: {results: [{ok, value|error}] (undefined = never started), started}.
 */
export async function pool(count, concurrency, task, deadlineMs = Infinity) {
  const results = new Array(count);
  const end = performance.now() + deadlineMs;
  let next = 0;
  async function worker() {
    while (next < count && performance.now() < end) {
      const i = next++;
      try {
        results[i] = { ok: true, value: await task(i) };
      } catch (error) {
        results[i] = { ok: false, error };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { results, started: next };
}

/** Resolves when `predicate()` is true (checked every `everyMs`), or false after `timeoutMs`. */
export async function waitFor(predicate, timeoutMs, everyMs = 20) {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return predicate();
}
