import { useCallback, useState } from "react";
import { useEvent } from "@herald/sdk/react";
import type { AlertEventData } from "@herald/sdk";
import { navigate } from "../lib/router";

const supported = typeof window !== "undefined" && "Notification" in window;

/** What `useBrowserNotifications` returns. */
export interface BrowserNotifications {
  /** The browser's permission, or "unsupported". */
  permission: NotificationPermission | "unsupported";
  /** Asks for permission; call it from a click (browsers ignore requests without a user gesture). */
  request: () => Promise<void>;
}

/**
 * Shows a system notification for every HIGH or CRITICAL `alert:new` once the
 * user allowed them, but only while this tab is hidden: a visible tab already
 * shows the alert (and announces it), so notifying it too would say it twice.
 * Several hidden tabs of the dashboard each get the event; the alert id as
 * `tag` makes the system show one notification for them.
 */
export function useBrowserNotifications(): BrowserNotifications {
  const [permission, setPermission] = useState<BrowserNotifications["permission"]>(supported ? Notification.permission : "unsupported");
  const request = useCallback(async () => {
    if (!supported) return;
    setPermission(await Notification.requestPermission());
  }, []);
  useEvent("alert:new", ({ alert }: AlertEventData) => {
    if (!supported || Notification.permission !== "granted" || !document.hidden) return;
    if (alert.priority !== "HIGH" && alert.priority !== "CRITICAL") return;
    const shown = new Notification(`${alert.priority} alert: ${alert.title}`, {
      body: alert.message ?? alert.alertType,
      tag: alert.id,
      requireInteraction: alert.priority === "CRITICAL",
    });
    shown.onclick = () => {
      window.focus();
      navigate(`/?alert=${encodeURIComponent(alert.id)}`);
      shown.close();
    };
  });
  return { permission, request };
}
