import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from "react";
import {
  createHerald,
  HeraldError,
  type Alert,
  type AlertFilters,
  type EventHandler,
  type EventMap,
  type Herald,
  type HeraldOptions,
  type HeraldStatus,
  type InboxState,
  type LifecycleMap,
  type Scope,
} from "./index";

const HeraldContext = createContext<Herald | null>(null);

/** Props of `HeraldProvider`: a client you created, or the options to create one. */
export type HeraldProviderProps =
  | {
      /** A client from `createHerald`; the provider never closes it (you own it). */
      client: Herald;
      options?: never;
      fallback?: never;
      children?: ReactNode;
    }
  | {
      /**
       * Options for `createHerald`: the provider creates the client when it
       * mounts and closes it when it unmounts. Read once; give the provider a
       * new `key` to connect with other options.
       */
      options: HeraldOptions;
      client?: never;
      /** Rendered until the client exists (also on the server). Default: nothing. */
      fallback?: ReactNode;
      children?: ReactNode;
    };

/**
 * Makes one Herald client (one connection per stream) available to every
 * component below it through the hooks of this module.
 *
 * ```tsx
 * const herald = createHerald({ url, token: () => auth.getToken() });
 * root.render(<HeraldProvider client={herald}><App /></HeraldProvider>);
 * ```
 */
export function HeraldProvider(props: HeraldProviderProps): ReactNode {
  const { client } = props;
  const optionsRef = useRef(props.options);
  const [owned, setOwned] = useState<Herald | null>(null);
  useEffect(() => {
    if (client || !optionsRef.current) return;
    // Created in an effect, not during render: a render can be repeated or discarded, and a client opens sockets.
    const created = createHerald(optionsRef.current);
    setOwned(created);
    return () => {
      created.close();
      setOwned(null);
    };
  }, [client]);
  const value = client ?? owned;
  if (!value) return <>{props.fallback ?? null}</>;
  return <HeraldContext.Provider value={value}>{props.children}</HeraldContext.Provider>;
}

/** The client of the nearest `HeraldProvider`. Throws outside of one. */
export function useHerald(): Herald {
  const herald = useContext(HeraldContext);
  if (!herald) throw new Error("useHerald: no <HeraldProvider> above this component");
  return herald;
}

/** The connection's state (`connecting | open | polling | closed`), for a Live/Offline indicator. */
export function useConnectionStatus(): HeraldStatus {
  const herald = useHerald();
  const subscribe = useCallback((onChange: () => void) => herald.on("status", onChange), [herald]);
  return useSyncExternalStore(subscribe, () => herald.status, () => herald.status);
}

function useInboxState(): InboxState {
  const herald = useHerald();
  const subscribe = useCallback((onChange: () => void) => herald.on("inbox", onChange), [herald]);
  return useSyncExternalStore(subscribe, () => herald.inbox.state, () => herald.inbox.state);
}

/** The badge: the user's unread notifications as the server counts them (`unread:count`), on every device alike. */
export function useUnreadCount(): number {
  return useInboxState().unreadCount;
}

/** What `useNotifications` returns. */
export interface NotificationsView extends InboxState {
  /** The last failure of the first load or of `loadMore`. */
  error: HeraldError | undefined;
  /** Appends the next page. */
  loadMore: () => Promise<void>;
  /** Marks one read on every device (over the socket when open). */
  markRead: (notificationId: string) => Promise<void>;
  /** Marks all read on every device. */
  markAllRead: () => Promise<void>;
  /** Archives one; it leaves the list. */
  archive: (notificationId: string) => Promise<void>;
}

// One first-page load per client, however many components ask for the inbox.
const inboxLoads = new WeakMap<Herald, Promise<unknown>>();

/**
 * The notification inbox, kept live from `notification:*` events: the list
 * (its first page is loaded over REST when the first component asks), the
 * badge, and the actions.
 */
export function useNotifications(): NotificationsView {
  const herald = useHerald();
  const state = useInboxState();
  const [error, setError] = useState<HeraldError | undefined>();
  useEffect(() => {
    if (herald.inbox.state.loaded) return;
    let load = inboxLoads.get(herald);
    if (!load) {
      load = herald.inbox.load();
      inboxLoads.set(herald, load);
      load.catch(() => inboxLoads.delete(herald));
    }
    let active = true;
    load.then(
      () => active && setError(undefined),
      (err: unknown) => active && setError(asHeraldError(err)),
    );
    return () => {
      active = false;
    };
  }, [herald]);
  const loadMore = useCallback(async () => {
    try {
      await herald.inbox.loadMore();
    } catch (err) {
      setError(asHeraldError(err));
    }
  }, [herald]);
  const markRead = useCallback((id: string) => herald.inbox.markRead(id), [herald]);
  const markAllRead = useCallback(() => herald.inbox.markAllRead(), [herald]);
  const archive = useCallback((id: string) => herald.inbox.archive(id), [herald]);
  return { ...state, error, loadMore, markRead, markAllRead, archive };
}

/**
 * Keeps the client subscribed to an org channel (in a scope) while the
 * component is mounted; components asking for the same channel and scope share
 * one subscription, dropped when the last of them unmounts. Returns the
 * server's refusal (e.g. `UNAUTHORIZED` for a role that may not read it).
 */
export function useSubscription(channel: string | undefined, scope: Scope = {}): HeraldError | undefined {
  const herald = useHerald();
  const [error, setError] = useState<HeraldError | undefined>();
  const scopeKey = `${scope.dept ?? ""}|${scope.queue ?? ""}`;
  useEffect(() => {
    if (channel === undefined) return;
    let active = true;
    const [dept, queue] = scopeKey.split("|");
    const release = retainChannel(herald, channel, { ...(dept && { dept }), ...(queue && { queue }) }, (err) => {
      if (active) setError(err);
    });
    return () => {
      active = false;
      release();
    };
  }, [herald, channel, scopeKey]);
  return error;
}

interface Retained {
  count: number;
  /** The subscription's outcome, for the components that join later. */
  outcome: Promise<unknown>;
}

const retained = new WeakMap<Herald, Map<string, Retained>>();

function retainChannel(herald: Herald, channel: string, scope: Scope, onError: (err: HeraldError) => void): () => void {
  let byKey = retained.get(herald);
  if (!byKey) retained.set(herald, (byKey = new Map()));
  const key = `${channel}|${scope.dept ?? ""}|${scope.queue ?? ""}`;
  let entry = byKey.get(key);
  if (!entry) byKey.set(key, (entry = { count: 0, outcome: herald.subscribe(channel, scope) }));
  entry.count++;
  entry.outcome.catch((err: unknown) => {
    const error = asHeraldError(err);
    // Unsubscribing (the last component left) is not a failure to report.
    if (error.code !== "UNSUBSCRIBED") onError(error);
  });
  const mine = entry;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    mine.count--;
    if (mine.count > 0 || byKey.get(key) !== mine) return;
    byKey.delete(key);
    herald.unsubscribe(channel, scope).catch(() => {});
  };
}

/** Options of `useAlerts`. */
export interface UseAlertsOptions {
  /**
   * Also follow the org-wide `alerts` channel (admins), not only the alerts
   * that reach the user's own stream (assigned to them or naming them). The
   * subscription is shared by the components that ask for it and dropped
   * when the last one unmounts.
   */
  org?: boolean;
}

/** What `useAlerts` returns. */
export interface AlertsView {
  /** The alerts matching the filters, newest first: the REST page plus what arrived live since. */
  alerts: Alert[];
  /** True until the first page arrived (and again while refetching). */
  loading: boolean;
  /** The last failed request (or the org channel's refusal). */
  error: HeraldError | undefined;
  /** Whether older alerts remain on the server (`loadMore`). */
  hasMore: boolean;
  /** Appends the next page. */
  loadMore: () => Promise<void>;
  /** Reloads the first page (done by itself after a `resync`). */
  refetch: () => Promise<void>;
}

interface AlertsSnapshot {
  alerts: Alert[];
  cursor: string | null;
  loading: boolean;
  error: HeraldError | undefined;
}

const ALERT_EVENTS = ["alert:new", "alert:updated", "alert:assigned", "alert:escalated", "alert:converted"] as const;

/** One `useAlerts` list: the REST page, live events applied to it. */
class AlertsStore {
  private snapshot: AlertsSnapshot = { alerts: [], cursor: null, loading: true, error: undefined };
  private readonly listeners = new Set<() => void>();
  private running = 0;
  private generation = 0;
  /** Events that arrived while the first page was in flight, applied to it when it lands. */
  private buffered: Alert[] | undefined;

  constructor(
    private readonly herald: Herald,
    private readonly filters: AlertFilters,
  ) {}

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getSnapshot = (): AlertsSnapshot => this.snapshot;

  /** Listens and loads; returns the stop function (the store can be started again). */
  start(): () => void {
    const run = ++this.running;
    const offs = ALERT_EVENTS.map((name) => this.herald.on(name, ({ alert }) => run === this.running && this.onAlert(alert)));
    offs.push(this.herald.on("resync", () => run === this.running && void this.refetch()));
    void this.refetch();
    return () => {
      if (run === this.running) this.running++;
      this.generation++;
      for (const off of offs) off();
    };
  }

  readonly refetch = async (): Promise<void> => {
    const mine = ++this.generation;
    this.buffered = [];
    this.set({ loading: true });
    try {
      const page = await this.herald.api.alerts.list(this.filters);
      if (mine !== this.generation) return;
      const events = this.buffered ?? [];
      this.buffered = undefined;
      this.set({ alerts: events.reduce((list, a) => upsertAlert(list, a, this.filters), page.items), cursor: page.nextCursor, loading: false, error: undefined });
    } catch (err) {
      if (mine !== this.generation) return;
      this.buffered = undefined;
      this.set({ loading: false, error: asHeraldError(err) });
    }
  };

  readonly loadMore = async (): Promise<void> => {
    const cursor = this.snapshot.cursor;
    if (cursor === null || this.buffered) return;
    const mine = this.generation;
    try {
      const page = await this.herald.api.alerts.list({ ...this.filters, cursor });
      if (mine !== this.generation) return;
      const have = new Set(this.snapshot.alerts.map((a) => a.id));
      this.set({ alerts: [...this.snapshot.alerts, ...page.items.filter((a) => !have.has(a.id))], cursor: page.nextCursor });
    } catch (err) {
      if (mine === this.generation) this.set({ error: asHeraldError(err) });
    }
  };

  private onAlert(alert: Alert): void {
    if (this.buffered) this.buffered.push(alert);
    else this.set({ alerts: upsertAlert(this.snapshot.alerts, alert, this.filters) });
  }

  private set(patch: Partial<AlertsSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * A page of alerts from `GET /api/v1/alerts` with these filters, kept live:
 * an `alert:new` that matches is added in order, an update replaces the alert
 * (or removes it once it no longer matches, e.g. a status filter). Events
 * that arrive while the page loads are applied to it; a `resync` refetches.
 * Live alerts reach a user on their own stream when assigned to them or named
 * in them; `{ org: true }` follows the org-wide feed (admins).
 */
export function useAlerts(filters: AlertFilters = {}, options: UseAlertsOptions = {}): AlertsView {
  const herald = useHerald();
  const key = JSON.stringify(filters);
  // A new list for other filters (compared by value, so an inline object literal is fine).
  const current = useMemo(() => new AlertsStore(herald, JSON.parse(key) as AlertFilters), [herald, key]);
  useEffect(() => current.start(), [current]);
  const snapshot = useSyncExternalStore(current.subscribe, current.getSnapshot, current.getSnapshot);
  const channelError = useSubscription(options.org ? "alerts" : undefined);
  return {
    alerts: snapshot.alerts,
    loading: snapshot.loading,
    error: snapshot.error ?? channelError,
    hasMore: snapshot.cursor !== null,
    loadMore: current.loadMore,
    refetch: current.refetch,
  };
}

/**
 * Calls `handler` for every `name` event while the component is mounted
 * (typed for Herald's events and the SDK's lifecycle events); the latest
 * handler is used without resubscribing, and it unsubscribes on unmount.
 */
export function useEvent<K extends keyof EventMap>(name: K, handler: EventHandler<EventMap[K]>): void;
export function useEvent<K extends keyof LifecycleMap>(name: K, handler: (value: LifecycleMap[K]) => void): void;
export function useEvent<T = unknown>(name: string, handler: EventHandler<T>): void;
export function useEvent(name: string, handler: (...args: any[]) => void): void {
  const herald = useHerald();
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => herald.on(name, (...args: unknown[]) => latest.current(...args)), [herald, name]);
}

/** Whether an alert passes the list's filters, as `GET /api/v1/alerts` decides. */
function matchesFilters(alert: Alert, f: AlertFilters): boolean {
  const list = (v: string | string[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v : v.split(","));
  const statuses = list(f.status);
  const priorities = list(f.priority);
  if (statuses && !statuses.includes(alert.status)) return false;
  if (priorities && !priorities.includes(alert.priority)) return false;
  if (f.type !== undefined && alert.alertType !== f.type) return false;
  if (f.assigneeId !== undefined && alert.assigneeId !== f.assigneeId) return false;
  const created = Date.parse(alert.createdAt);
  if (f.since !== undefined && created < Date.parse(f.since)) return false;
  if (f.until !== undefined && created >= Date.parse(f.until)) return false;
  if (f.minConfidence !== undefined && (alert.confidence === null || alert.confidence < f.minConfidence)) return false;
  if (f.q !== undefined && f.q.trim() !== "") {
    const q = f.q.trim().toLowerCase();
    const fields = [alert.title, alert.subject?.name, alert.subject?.email, alert.subject?.id];
    if (!fields.some((v) => typeof v === "string" && v.toLowerCase().includes(q))) return false;
  }
  return true;
}

/** The list with this version of the alert in its place (newest first), or without it when it no longer matches. */
function upsertAlert(list: Alert[], alert: Alert, filters: AlertFilters): Alert[] {
  const rest = list.filter((a) => a.id !== alert.id);
  if (!matchesFilters(alert, filters)) return rest.length === list.length ? list : rest;
  const old = list.find((a) => a.id === alert.id);
  // An older version (a replayed or late event) never replaces a newer one.
  if (old && Date.parse(old.updatedAt) > Date.parse(alert.updatedAt)) return list;
  const newer = (a: Alert) => a.createdAt > alert.createdAt || (a.createdAt === alert.createdAt && a.id > alert.id);
  const at = rest.findIndex((a) => !newer(a));
  return at === -1 ? [...rest, alert] : [...rest.slice(0, at), alert, ...rest.slice(at)];
}

function asHeraldError(err: unknown): HeraldError {
  return err instanceof HeraldError ? err : new HeraldError("UNKNOWN", err instanceof Error ? err.message : String(err));
}
