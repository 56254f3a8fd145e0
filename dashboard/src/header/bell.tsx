import { useEffect, useRef, useState, type FocusEvent } from "react";
import { useHerald, useNotifications, useUnreadCount } from "@herald/sdk/react";
import type { Notification } from "@herald/sdk";
import { formatDateTime, formatEnum, formatRelative } from "../lib/format";
import { onLinkClick } from "../lib/router";

const PANEL_ID = "notifications-panel";

/**
 * The notification bell: the server's unread count (`unread:count`, the same
 * on every tab and device) and a disclosure panel with the inbox. Opening it
 * marks everything seen; read state changes only through the server, whose
 * events keep every tab in step.
 */
export function Bell() {
  const herald = useHerald();
  const count = useUnreadCount();
  const [open, setOpen] = useState(false);
  const wrapper = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!open) return;
    herald.api.notifications.seenAll().catch(() => {
      // Seen is a courtesy to the badge's "new" dot; failing it changes nothing the user asked for.
    });
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "Escape") return;
      setOpen(false);
      button.current?.focus();
    };
    const onPointer = (event: PointerEvent) => {
      if (!wrapper.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("pointerdown", onPointer);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("pointerdown", onPointer);
    };
  }, [open, herald]);

  // Tabbing out of the panel closes it; focus lost to nothing (a removed button) does not.
  const onBlur = (event: FocusEvent<HTMLDivElement>) => {
    const next = event.relatedTarget as Node | null;
    if (next && !wrapper.current?.contains(next)) setOpen(false);
  };

  return (
    <div className="bell" ref={wrapper} onBlur={onBlur}>
      <button
        ref={button}
        type="button"
        className="icon-button"
        aria-label={`Notifications, ${count} unread`}
        aria-expanded={open}
        aria-controls={PANEL_ID}
        data-unread={count}
        onClick={() => setOpen(!open)}
      >
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
          <path
            fill="currentColor"
            d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"
          />
        </svg>
        {count > 0 ? (
          <span className="badge" aria-hidden="true">
            {count > 99 ? "99+" : count}
          </span>
        ) : null}
      </button>
      {open ? <NotificationPanel /> : null}
    </div>
  );
}

function NotificationPanel() {
  const inbox = useNotifications();
  const [error, setError] = useState<string>();
  const panel = useRef<HTMLElement>(null);

  useEffect(() => panel.current?.focus(), []);

  const run = async (action: () => Promise<void>, after?: () => void) => {
    setError(undefined);
    try {
      await action();
      after?.();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  const shownError = error ?? inbox.error?.message;
  return (
    <section id={PANEL_ID} ref={panel} className="bell-panel" aria-labelledby="notifications-title" tabIndex={-1}>
      <div className="bell-panel-head">
        <h2 id="notifications-title">Notifications</h2>
        <button type="button" className="small" onClick={() => void run(inbox.markAllRead)}>
          Mark all read
        </button>
      </div>
      {shownError ? (
        <p role="alert" className="error">
          {shownError}
        </p>
      ) : null}
      {!inbox.loaded && !inbox.error ? <p className="muted">Loading…</p> : null}
      {inbox.loaded && inbox.notifications.length === 0 ? <p className="muted">No notifications yet.</p> : null}
      {inbox.notifications.length > 0 ? (
        <ul className="bell-list">
          {inbox.notifications.map((n) => (
            <NotificationItem key={n.id} notification={n} onMarkRead={(item) => void run(() => inbox.markRead(n.id), () => item.focus())} />
          ))}
        </ul>
      ) : null}
      {inbox.hasMore ? (
        <button type="button" className="small" onClick={() => void inbox.loadMore()}>
          Load more
        </button>
      ) : null}
    </section>
  );
}

function NotificationItem({ notification: n, onMarkRead }: { notification: Notification; onMarkRead: (item: HTMLElement) => void }) {
  const item = useRef<HTMLLIElement>(null);
  const unread = n.readAt === null;
  const alertId = typeof n.data.alertId === "string" ? n.data.alertId : undefined;
  const href = alertId ? `/?alert=${encodeURIComponent(alertId)}` : undefined;
  return (
    <li ref={item} className="bell-item" data-unread={unread ? "true" : "false"} data-priority={n.priority} tabIndex={-1}>
      <p className="bell-item-title">
        <span className="priority-tag" data-priority={n.priority}>
          {formatEnum(n.priority)}
        </span>{" "}
        {unread ? <span className="visually-hidden">Unread: </span> : null}
        {href ? (
          <a href={href} onClick={(e) => onLinkClick(e.nativeEvent, href)}>
            {n.title}
          </a>
        ) : (
          <strong>{n.title}</strong>
        )}
      </p>
      {n.message ? <p className="bell-item-message">{n.message}</p> : null}
      <p className="bell-item-meta">
        <time dateTime={n.createdAt} title={formatDateTime(n.createdAt)}>
          {formatRelative(n.createdAt)}
        </time>
        {unread ? (
          <button type="button" className="small" onClick={() => item.current && onMarkRead(item.current)}>
            Mark read
          </button>
        ) : (
          <span className="muted">Read</span>
        )}
      </p>
    </li>
  );
}
