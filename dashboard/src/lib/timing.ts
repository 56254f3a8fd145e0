import { useEffect, useRef } from "react";

/**
 * A stable function that runs `fn` once, `ms` after the first of a burst of
 * calls: a storm of events costs one refetch per interval and, unlike a plain
 * debounce, a steady stream of them cannot postpone it forever.
 */
export function useCoalesced(fn: () => void, ms: number): () => void {
  const latest = useRef(fn);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    latest.current = fn;
  });
  useEffect(() => () => clearTimeout(timer.current), []);
  const schedule = useRef(() => {
    if (timer.current !== undefined) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      latest.current();
    }, ms);
  });
  return schedule.current;
}

/** Calls `fn` every `ms` while the page is visible, and at once when it becomes visible again. */
export function useVisibleInterval(fn: () => void, ms: number): void {
  const latest = useRef(fn);
  useEffect(() => {
    latest.current = fn;
  });
  useEffect(() => {
    let timer: ReturnType<typeof setInterval> | undefined;
    const start = () => {
      clearInterval(timer);
      timer = document.hidden ? undefined : setInterval(() => latest.current(), ms);
    };
    const onVisibility = () => {
      if (!document.hidden) latest.current();
      start();
    };
    start();
    document.addEventListener("visibilitychange", onVisibility);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisibility);
    };
  }, [ms]);
}
