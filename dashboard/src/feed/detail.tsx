import { useEffect, useState, type ReactNode } from "react";
import { useHerald } from "@herald/sdk/react";
import type { Alert, AlertDelivery, AlertHistoryEntry, Assignment } from "@herald/sdk";
import { Modal } from "./modal";
import { ASSIGNMENT_KIND_LABEL, errorMessage, formatConfidence, formatDateTime, PRIORITY_ICON, PRIORITY_LABEL, STATUS_LABEL } from "./format";

type Loaded<T> = { data?: T; error?: string };

/** Loads `load()` again whenever `key` changes; keeps the last data while reloading. */
function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({});
  useEffect(() => {
    let active = true;
    load().then(
      (data) => active && setState({ data }),
      (err: unknown) => active && setState((s) => ({ data: s.data, error: errorMessage(err) })),
    );
    return () => {
      active = false;
    };
  }, [key]);
  return state;
}

/** Props of `AlertDetail`. */
export interface AlertDetailProps {
  alertId: string;
  /** The alert as the feed shows it (live), when it is in the list. */
  fromList: Alert | undefined;
  onClose: () => void;
  fallbackFocus?: () => HTMLElement | null;
}

/**
 * "Alert details": every field of the alert, how it reached each assignee
 * (assignments with rule and reason), its history (with notes) and the
 * deliveries of its notifications.
 */
export function AlertDetail({ alertId, fromList, onClose, fallbackFocus }: AlertDetailProps) {
  const herald = useHerald();
  const fetched = useLoad(() => herald.api.alerts.get(alertId), fromList ? `${alertId}:list` : alertId);
  const alert = fromList ?? fetched.data;
  // History and deliveries follow the alert: a change adds an entry (and maybe a notification).
  const version = `${alertId}:${alert?.updatedAt ?? ""}`;
  const history = useLoad(() => herald.api.alerts.history(alertId), version);
  const deliveries = useLoad(() => herald.api.alerts.deliveries(alertId), version);
  // An escalation or reassignment changes the alert too (updatedAt), so they follow it the same way.
  const assignments = useLoad(() => herald.api.alerts.assignments(alertId), version);
  return (
    <Modal title="Alert details" onClose={onClose} fallbackFocus={fallbackFocus} className="detail">
      {!alert ? (
        fetched.error ? (
          <p role="alert" className="form-error">
            {fetched.error}
          </p>
        ) : (
          <p aria-live="polite">Loading…</p>
        )
      ) : (
        <AlertFields alert={alert} />
      )}
      <h3>Assignments</h3>
      <Section loaded={assignments} empty="No assignments: not routed, and nobody assigned it since.">
        {(a) => <AssignmentTable items={a.items} truncated={a.truncated} />}
      </Section>
      <h3>History</h3>
      <Section loaded={history} empty="No history yet.">
        {(h) => (
          <ol className="history">
            {h.items.map((e) => (
              <HistoryItem key={e.id} entry={e} />
            ))}
          </ol>
        )}
      </Section>
      <h3>Deliveries</h3>
      <Section loaded={deliveries} empty="No deliveries (in-app and realtime only, or none yet).">
        {(d) => <DeliveryTable items={d.items} />}
      </Section>
    </Modal>
  );
}

function Section<T extends { items: unknown[] }>({ loaded, empty, children }: { loaded: Loaded<T>; empty: string; children: (data: T) => ReactNode }) {
  return (
    <>
      {loaded.error && (
        <p role="alert" className="form-error">
          {loaded.error}
        </p>
      )}
      {loaded.data ? (loaded.data.items.length ? children(loaded.data) : <p>{empty}</p>) : !loaded.error && <p>Loading…</p>}
    </>
  );
}

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function AlertFields({ alert }: { alert: Alert }) {
  const s = alert.subject;
  return (
    <>
      <p className="detail-title">
        <span className={`prio-badge prio-${alert.priority.toLowerCase()}`}>
          <span aria-hidden="true">{PRIORITY_ICON[alert.priority]}</span> {PRIORITY_LABEL[alert.priority]}
        </span>{" "}
        <strong>{alert.title}</strong>
      </p>
      {alert.message && <p>{alert.message}</p>}
      <dl className="detail-fields">
        <Field label="ID">{alert.id}</Field>
        <Field label="Status">{STATUS_LABEL[alert.status]}</Field>
        <Field label="Type">{alert.alertType}</Field>
        <Field label="Confidence">{formatConfidence(alert.confidence)}</Field>
        <Field label="Model version">{alert.modelVersion ?? "—"}</Field>
        <Field label="Signal count">{alert.signalCount ?? "—"}</Field>
        <Field label="Subject">{s ? [s.name, s.email, s.id].filter(Boolean).join(" · ") || "—" : "—"}</Field>
        <Field label="Assignee">{alert.assigneeId ?? "Unassigned"}</Field>
        <Field label="Recipients">{alert.recipients.length ? alert.recipients.join(", ") : "—"}</Field>
        <Field label="Created by">{alert.createdBy}</Field>
        <Field label="Created">{formatDateTime(alert.createdAt)}</Field>
        <Field label="Updated">{formatDateTime(alert.updatedAt)}</Field>
        <Field label="Acknowledged">{formatDateTime(alert.acknowledgedAt)}</Field>
        <Field label="Assigned">{formatDateTime(alert.assignedAt)}</Field>
        <Field label="Resolved">{formatDateTime(alert.resolvedAt)}</Field>
        <Field label="Converted">{formatDateTime(alert.convertedAt)}</Field>
        <Field label="Conversion">
          {alert.conversionValue === null ? "—" : `${alert.conversionValue}${alert.conversionType ? ` (${alert.conversionType})` : ""}`}
        </Field>
      </dl>
      <h3>Data</h3>
      <pre className="detail-data" tabIndex={0} aria-label="Alert data (JSON)">
        {JSON.stringify(alert.data, null, 2)}
      </pre>
    </>
  );
}

const ACTION_LABEL: Record<AlertHistoryEntry["action"], string> = { created: "Created", status: "Status changed", assigned: "Assigned", converted: "Converted", escalated: "Escalated" };

function HistoryItem({ entry: e }: { entry: AlertHistoryEntry }) {
  const move = e.fromStatus || e.toStatus ? `${e.fromStatus ? STATUS_LABEL[e.fromStatus] : "—"} → ${e.toStatus ? STATUS_LABEL[e.toStatus] : "—"}` : "";
  return (
    <li>
      <time dateTime={e.createdAt}>{formatDateTime(e.createdAt)}</time> · <strong>{ACTION_LABEL[e.action] ?? e.action}</strong> by {e.actorId}
      {move && <> · {move}</>}
      {e.action === "assigned" && e.assigneeId && <> · to {e.assigneeId}</>}
      {e.note && <blockquote className="history-note">{e.note}</blockquote>}
    </li>
  );
}

function AssignmentTable({ items, truncated }: { items: Assignment[]; truncated: boolean }) {
  return (
    <>
      <div className="table-scroll" tabIndex={0} role="region" aria-label="Assignments table">
        <table>
          <thead>
            <tr>
              <th scope="col">Kind</th>
              <th scope="col">Agent</th>
              <th scope="col">Rule</th>
              <th scope="col">Strategy</th>
              <th scope="col">Reason</th>
              <th scope="col">Level</th>
              <th scope="col">Time</th>
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id} data-kind={a.kind}>
                <td>{ASSIGNMENT_KIND_LABEL[a.kind] ?? a.kind}</td>
                <td>
                  {a.agentId ?? "Nobody"}
                  {a.previousAgentId && <span className="assignment-previous"> (from {a.previousAgentId})</span>}
                </td>
                <td>{a.ruleName ?? "—"}</td>
                <td>{a.strategy ?? "—"}</td>
                <td className="assignment-reason">{a.reason}</td>
                <td>{a.level}</td>
                <td>
                  <time dateTime={a.createdAt}>{formatDateTime(a.createdAt)}</time>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {truncated && <p>Only the first {items.length} assignments are shown.</p>}
    </>
  );
}

function DeliveryTable({ items }: { items: AlertDelivery[] }) {
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label="Deliveries table">
      <table>
        <thead>
          <tr>
            <th scope="col">Channel</th>
            <th scope="col">Recipient</th>
            <th scope="col">Address</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last error</th>
            <th scope="col">Time</th>
          </tr>
        </thead>
        <tbody>
          {items.map((d) => (
            <tr key={d.id}>
              <td>{d.channel}</td>
              <td>{d.userId}</td>
              <td>{d.address ?? "—"}</td>
              <td>{d.status}</td>
              <td>{d.attempts}</td>
              <td>{d.lastError ?? "—"}</td>
              <td>{formatDateTime(d.sentAt ?? d.updatedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
