import type { Notification, UnreadCountData } from "../../../src/protocol/index";
import type { HeraldError } from "./http";
import type { RestApi } from "./rest";

/** A snapshot of the inbox (a new object after every change). */
export interface InboxState {
  /** The badge: unread, non-archived notifications, as the server last said (`unread:count`). */
  unreadCount: number;
  /** Unseen (the bell not opened since), as the server last said. */
  unseenCount: number;
  /** Whether a badge arrived from the server yet. */
  badgeKnown: boolean;
  /** The notifications loaded (newest first), kept live from `notification:*` events. */
  notifications: Notification[];
  /** Whether `load()` has filled the list. */
  loaded: boolean;
  /** Whether older notifications remain (`loadMore()`). */
  hasMore: boolean;
}

interface InboxHooks {
  send: (frame: Record<string, unknown>) => Promise<any>;
  socketOpen: () => boolean;
  changed: (state: InboxState) => void;
  error: (err: HeraldError) => void;
}

/**
 * The inbox: the badge exactly as the server counts it (from `unread:count`
 * frames, or REST counts while polling; never counted here) and a list of
 * notifications kept live from `notification:*` events.
 */
export class Inbox {
  private snapshot: InboxState = { unreadCount: 0, unseenCount: 0, badgeKnown: false, notifications: [], loaded: false, hasMore: false };
  private cursor: string | null = null;
  private pageSize = 20;
  /** The first page in flight: its generation and the events that arrived meanwhile (applied to it when it lands). */
  private loading: { generation: number; promise: Promise<Notification[]>; events: [string, any][] } | undefined;
  private generation = 0;

  constructor(
    private readonly api: RestApi,
    private readonly hooks: InboxHooks,
  ) {}

  /** The current snapshot (the same object until something changes). */
  get state(): InboxState {
    return this.snapshot;
  }

  /** The badge. */
  get unreadCount(): number {
    return this.snapshot.unreadCount;
  }

  /** The live list (newest first). */
  get notifications(): Notification[] {
    return this.snapshot.notifications;
  }

  /**
   * Loads the first page over REST (`GET /api/v1/notifications`), replacing
   * the list. Events that arrive while it loads are applied to the page when
   * it lands; a newer load (a resync) supersedes this one, which then
   * resolves with the newer list.
   */
  load(limit = this.pageSize): Promise<Notification[]> {
    this.pageSize = limit;
    const generation = ++this.generation;
    const events: [string, any][] = this.loading?.events ?? [];
    const promise = this.api.notifications.list({ limit }).then(
      (page) => {
        if (this.loading?.generation !== generation) return this.loading?.promise ?? this.snapshot.notifications;
        this.loading = undefined;
        this.cursor = page.nextCursor;
        this.update({ notifications: page.items, loaded: true, hasMore: page.nextCursor !== null });
        for (const [type, data] of events) this.apply(type, data);
        return this.snapshot.notifications;
      },
      (err: unknown) => {
        if (this.loading?.generation !== generation) return this.loading?.promise ?? this.snapshot.notifications;
        this.loading = undefined;
        throw err;
      },
    );
    this.loading = { generation, promise, events };
    return promise;
  }

  /** Appends the next page. */
  async loadMore(): Promise<Notification[]> {
    if (!this.cursor) return [];
    const page = await this.api.notifications.list({ limit: this.pageSize, cursor: this.cursor });
    this.cursor = page.nextCursor;
    const have = new Set(this.snapshot.notifications.map((n) => n.id));
    this.update({ notifications: [...this.snapshot.notifications, ...page.items.filter((n) => !have.has(n.id))], hasMore: page.nextCursor !== null });
    return page.items;
  }

  /** Marks one read: over the socket when it is open (`mark:read`), else REST. Every device's badge follows from the server. */
  async markRead(notificationId: string): Promise<void> {
    if (this.hooks.socketOpen()) {
      try {
        await this.hooks.send({ type: "mark:read", notificationId });
        return;
      } catch (err) {
        if ((err as HeraldError).code !== "DISCONNECTED") throw err;
      }
    }
    this.replace(await this.api.notifications.read(notificationId));
    if (!this.hooks.socketOpen()) await this.refreshCounts();
  }

  /** Marks every notification read: over the socket when open (`mark:all:read`), else REST. */
  async markAllRead(): Promise<void> {
    if (this.hooks.socketOpen()) {
      try {
        await this.hooks.send({ type: "mark:all:read" });
        return;
      } catch (err) {
        if ((err as HeraldError).code !== "DISCONNECTED") throw err;
      }
    }
    await this.api.notifications.readAll();
    this.apply("notification:read", { all: true, at: new Date().toISOString() });
    if (!this.hooks.socketOpen()) await this.refreshCounts();
  }

  /** Archives one (REST); it leaves the list. */
  async archive(notificationId: string): Promise<void> {
    this.replace(await this.api.notifications.archive(notificationId));
    if (!this.hooks.socketOpen()) await this.refreshCounts();
  }

  /** The badge from a server frame. */
  setBadge(data: UnreadCountData): void {
    const s = this.snapshot;
    if (s.badgeKnown && s.unreadCount === data.count && s.unseenCount === data.unseen) return;
    this.update({ unreadCount: data.count, unseenCount: data.unseen, badgeKnown: true });
  }

  /** The badge from REST (polling, or after a REST change without a socket). */
  async refreshCounts(): Promise<void> {
    try {
      const counts = await this.api.notifications.counts();
      this.setBadge({ count: counts.unread, unseen: counts.unseen });
    } catch (err) {
      this.hooks.error(err as HeraldError);
    }
  }

  /**
   * Events were missed (or the stream just went live): reload the list if one
   * is shown or loading (the badge comes with the next connect).
   */
  resync(): void {
    if (this.snapshot.loaded || this.loading) this.load().catch((err) => this.hooks.error(err));
  }

  /** Applies one event to the list (kept for the page in flight while one loads). */
  apply(type: string, data: any): void {
    if (!type.startsWith("notification:")) return;
    if (this.loading) {
      this.loading.events.push([type, data]);
      return;
    }
    if (!this.snapshot.loaded) return;
    const list = this.snapshot.notifications;
    switch (type) {
      case "notification:new":
        if (!list.some((n) => n.id === data.notification.id)) this.update({ notifications: [data.notification, ...list] });
        return;
      case "notification:read":
      case "notification:seen":
        if (data.all) {
          const field = type === "notification:read" ? "readAt" : "seenAt";
          this.update({ notifications: list.map((n) => (n[field] ? n : { ...n, [field]: data.at })) });
        } else this.replace(data.notification);
        return;
      case "notification:unread":
      case "notification:archived":
        this.replace(data.notification);
        return;
      case "notification:deleted": {
        const ids = new Set<string>(data.ids);
        this.update({ notifications: list.filter((n) => !ids.has(n.id)) });
        return;
      }
    }
  }

  private replace(n: Notification | undefined): void {
    if (!n || !this.snapshot.loaded) return;
    const list = this.snapshot.notifications;
    // The default list hides archived notifications.
    const next = n.archivedAt ? list.filter((m) => m.id !== n.id) : list.map((m) => (m.id === n.id ? n : m));
    this.update({ notifications: next });
  }

  private update(patch: Partial<InboxState>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    this.hooks.changed(this.snapshot);
  }
}
