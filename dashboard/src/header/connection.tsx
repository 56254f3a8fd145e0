import { useConnectionStatus } from "@herald/sdk/react";
import type { HeraldStatus } from "@herald/sdk";

const LABELS: Record<HeraldStatus, string> = { open: "Live", polling: "Polling", closed: "Offline", connecting: "Connecting…" };

const HINTS: Record<HeraldStatus, string> = {
  open: "Updates arrive as they happen",
  polling: "Sockets fail: checking for updates every few seconds",
  closed: "Not connected: updates are not arriving",
  connecting: "Connecting to Herald",
};

/** The Live / Polling / Offline indicator, from the SDK's connection status (a shape and a word, not colour alone). */
export function ConnectionIndicator() {
  const status = useConnectionStatus();
  return (
    <span role="status" aria-label="Connection" className="connection" data-status={status} title={HINTS[status]}>
      <span className="connection-dot" aria-hidden="true" />
      {LABELS[status]}
    </span>
  );
}
