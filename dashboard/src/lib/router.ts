import { useEffect, useState } from "react";

/**
 * The dashboard's routing: the browser's own URL and history, nothing more.
 * Paths pick the page; query parameters carry a page's state (the feed's
 * filters, the open alert), so a URL can be shared or reloaded.
 */

const CHANGE = "herald:navigate";

/** Goes to `url` (path and/or query); `replace` rewrites the current entry instead of adding one. */
export function navigate(url: string, { replace = false }: { replace?: boolean } = {}): void {
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  dispatchEvent(new Event(CHANGE));
}

/** The current path and query, re-rendering on every navigation (links, back/forward). */
export function useLocation(): { path: string; search: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => setTick((n) => n + 1);
    addEventListener("popstate", update);
    addEventListener(CHANGE, update);
    return () => {
      removeEventListener("popstate", update);
      removeEventListener(CHANGE, update);
    };
  }, []);
  return { path: location.pathname, search: new URLSearchParams(location.search) };
}

/** Sets (or, for undefined/empty, removes) query parameters on the current path. */
export function setQuery(patch: Record<string, string | undefined>, options?: { replace?: boolean }): void {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined || value === "") params.delete(key);
    else params.set(key, value);
  }
  const query = params.toString();
  navigate(location.pathname + (query ? `?${query}` : ""), options);
}

/** An in-app link: a real <a href> (open in a new tab works) that navigates without a reload. */
export function onLinkClick(event: MouseEvent, href: string): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(href);
}
