import { useRef } from "react";
import { useConnectionStatus } from "@herald/sdk/react";

type Shown = "open" | "polling" | "closed" | "connecting" | "lost";

const LABELS: Record<Shown, string> = { open: "Live", polling: "Polling", closed: "Offline", connecting: "Connecting…", lost: "Offline" };

const HINTS: Record<Shown, string> = {
  open: "Updates arrive as they happen",
  polling: "Sockets fail: checking for updates every few seconds",
  closed: "Not connected: updates are not arriving",
  connecting: "Connecting to Herald",
  lost: "Connection lost: reconnecting; nothing is missed meanwhile",
};

/**
 * The Live / Polling / Offline indicator, from the SDK's connection status
 * (a shape and a word, not colour alone). While the server is unreachable the
 * SDK keeps dialing and reports `connecting`; once the dashboard had been
 * connected, that reads "Offline" (`data-status` stays the SDK's status).
 */
export function ConnectionIndicator() {
  const status = useConnectionStatus();
  const wasConnected = useRef(false);
  if (status === "open" || status === "polling") wasConnected.current = true;
  const shown: Shown = status === "connecting" && wasConnected.current ? "lost" : status;
  return (
    <span role="status" aria-label="Connection" className="connection" data-status={status} data-shown={shown} title={HINTS[shown]}>
      <span className="connection-dot" aria-hidden="true" />
      {LABELS[shown]}
    </span>
  );
}
