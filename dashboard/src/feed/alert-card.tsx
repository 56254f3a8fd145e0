import type { ReactNode } from "react";
import type { Alert, Assignment } from "@herald/sdk";
import { allowedActions, assignMode, type Me } from "./actions";
import { ASSIGNMENT_KIND_LABEL, formatAgo, formatConfidence, formatDateTime, PRIORITY_ICON, PRIORITY_LABEL, STATUS_LABEL } from "./format";

/** Props of `AlertCard`. */
export interface AlertCardProps {
  alert: Alert;
  me: Me;
  /** Its latest assignment as a live event carried it (why it reached its assignee), when known. */
  assignment?: Assignment | undefined;
  /** A change of it is in flight (optimistic). */
  pending: boolean;
  /** The last action's failure, the API's message. */
  error: string | undefined;
  selected: boolean;
  position: number;
  setSize: number;
  onSelect: (id: string, selected: boolean) => void;
  onStatus: (alert: Alert, status: "ACKNOWLEDGED" | "DISMISSED") => void;
  /** Opens the assign dialog (admins) or takes the alert (agents). */
  onAssign: (alert: Alert, opener: HTMLElement) => void;
  onConvert: (alert: Alert, opener: HTMLElement) => void;
  onDetails: (alert: Alert, opener: HTMLElement) => void;
}

/**
 * One alert of the feed: priority (label, shape and border, not colour
 * alone), status, an "Escalated" marker, facts (with why it reached its
 * assignee, when known) and its actions.
 */
export function AlertCard(props: AlertCardProps) {
  const { alert, me, pending, error } = props;
  const can = allowedActions(alert, me);
  const mode = assignMode(me);
  const titleId = `alert-title-${alert.id}`;
  const subject = alert.subject && (alert.subject.name ?? alert.subject.email ?? alert.subject.id);
  // Shown only while it still describes the alert's assignee (a later assignment without a record would not);
  // an escalation chain's end names nobody and leaves the alert where it was.
  const a = props.assignment;
  const why = a && (a.agentId === alert.assigneeId || (a.kind === "escalated" && a.agentId === null)) ? a : undefined;
  const escalated = why?.kind === "escalated";
  return (
    <article
      className={`alert-card prio-${alert.priority.toLowerCase()}${pending ? " is-pending" : ""}${props.selected ? " is-selected" : ""}`}
      aria-labelledby={titleId}
      aria-posinset={props.position}
      aria-setsize={props.setSize}
      aria-busy={pending || undefined}
      tabIndex={-1}
      data-alert-id={alert.id}
      data-status={alert.status}
      data-priority={alert.priority}
      data-escalated={escalated || undefined}
    >
      <div className="card-top">
        <input
          type="checkbox"
          className="card-select"
          aria-label={`Select ${alert.title}`}
          checked={props.selected}
          onChange={(e) => props.onSelect(alert.id, e.currentTarget.checked)}
        />
        <span className="prio-badge">
          <span aria-hidden="true">{PRIORITY_ICON[alert.priority]}</span> {PRIORITY_LABEL[alert.priority]}
        </span>
        <span className={`status status-${alert.status.toLowerCase()}`}>
          {STATUS_LABEL[alert.status]}
          {pending && <span className="pending-note"> (saving…)</span>}
        </span>
        {escalated && (
          <span className="escalated-badge">
            <span aria-hidden="true">⇧</span> Escalated{why.level > 1 ? ` (level ${why.level})` : ""}
          </span>
        )}
        <time className="card-time" dateTime={alert.createdAt} title={formatDateTime(alert.createdAt)}>
          {formatAgo(alert.createdAt)}
        </time>
      </div>
      <h2 className="card-title" id={titleId}>
        <a
          href={`?alert=${encodeURIComponent(alert.id)}`}
          onClick={(e) => {
            if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
            e.preventDefault();
            props.onDetails(alert, e.currentTarget);
          }}
        >
          {alert.title}
        </a>
      </h2>
      {alert.message && <p className="card-message">{alert.message}</p>}
      <dl className="card-facts">
        <div>
          <dt>Type</dt>
          <dd>{alert.alertType}</dd>
        </div>
        <div>
          <dt>Confidence</dt>
          <dd>{formatConfidence(alert.confidence)}</dd>
        </div>
        <div>
          <dt>Assignee</dt>
          <dd>{alert.assigneeId === null ? "Unassigned" : alert.assigneeId === me.sub ? `${alert.assigneeId} (you)` : alert.assigneeId}</dd>
        </div>
        {why && (
          <div className="card-why">
            <dt>Why</dt>
            <dd>
              {ASSIGNMENT_KIND_LABEL[why.kind]}: {why.reason}
            </dd>
          </div>
        )}
        {subject && (
          <div>
            <dt>Subject</dt>
            <dd>{subject}</dd>
          </div>
        )}
      </dl>
      <div className="card-actions">
        <ActionButton disabled={!can.acknowledge || pending} onClick={() => props.onStatus(alert, "ACKNOWLEDGED")}>
          Acknowledge
        </ActionButton>
        <ActionButton disabled={!can.dismiss || pending} onClick={() => props.onStatus(alert, "DISMISSED")}>
          Dismiss
        </ActionButton>
        {mode && (
          <ActionButton disabled={!can.assign || pending} onClick={(e) => props.onAssign(alert, e.currentTarget)}>
            {mode === "take" ? "Take" : "Assign"}
          </ActionButton>
        )}
        <ActionButton disabled={!can.convert || pending} onClick={(e) => props.onConvert(alert, e.currentTarget)}>
          Convert
        </ActionButton>
        <ActionButton onClick={(e) => props.onDetails(alert, e.currentTarget)}>Details</ActionButton>
      </div>
      {error && (
        <p className="card-error" role="alert">
          {error}
        </p>
      )}
    </article>
  );
}

/**
 * A button that stays focusable while disabled (aria-disabled): acting on a
 * card disables the action just pressed, and a `disabled` button would drop
 * the keyboard user's focus to the page.
 */
function ActionButton(props: { disabled?: boolean; onClick: (e: { currentTarget: HTMLButtonElement }) => void; children: ReactNode }) {
  return (
    <button type="button" aria-disabled={props.disabled ? "true" : undefined} onClick={(e) => !props.disabled && props.onClick(e)}>
      {props.children}
    </button>
  );
}
