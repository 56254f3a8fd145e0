import type { Alert } from "@herald/sdk";
import type { BulkOutcome } from "./actions";

const DONE: Record<BulkOutcome["action"], string> = { acknowledge: "acknowledged", dismiss: "dismissed", assign: "assigned" };

/** "3 acknowledged, 1 failed: <title> — <message>": a bulk request's per-item results in words. */
export function summarizeBulk(outcome: BulkOutcome, titleOf: (id: string) => string): string {
  if (outcome.error) return `Bulk ${outcome.action} failed: ${outcome.error}`;
  const { results, succeeded, failed } = outcome.result!;
  const head = `${succeeded} ${DONE[outcome.action]}`;
  if (!failed) return head;
  const failures = results.filter((r) => !r.ok).map((r) => `${titleOf(r.id)} — ${r.error?.message ?? "failed"}`);
  return `${head}, ${failed} failed: ${failures.join("; ")}`;
}

/** Props of `BulkBar`. */
export interface BulkBarProps {
  selected: Alert[];
  /** "assign" for admins, "take" for agents, null for members. */
  assignMode: "assign" | "take" | null;
  busy: boolean;
  onAcknowledge: () => void;
  onDismiss: () => void;
  onAssign: (opener: HTMLElement) => void;
  onClear: () => void;
}

/** The "Bulk actions" toolbar, shown while alerts are selected. */
export function BulkBar(props: BulkBarProps) {
  const n = props.selected.length;
  return (
    <div role="toolbar" aria-label="Bulk actions" className="bulk-bar">
      <span className="bulk-count">{n} selected</span>
      <button type="button" disabled={props.busy} onClick={props.onAcknowledge}>
        Acknowledge selected
      </button>
      <button type="button" disabled={props.busy} onClick={props.onDismiss}>
        Dismiss selected
      </button>
      {props.assignMode && (
        <button type="button" disabled={props.busy} onClick={(e) => props.onAssign(e.currentTarget)}>
          {props.assignMode === "take" ? "Take selected" : "Assign selected"}
        </button>
      )}
      <button type="button" className="link" onClick={props.onClear}>
        Clear selection
      </button>
    </div>
  );
}
