import type { Priority } from "../protocol";
import type { Alert } from "../schemas/alerts";

/** A pending escalation: the alert's current assignment (at `level`) must be acknowledged by `dueAt`. */
export interface PendingEscalation {
  alertId: string;
  ruleId: string;
  /** The level of the assignment whose SLA is running: 0 for the routed one, 1 after the first escalation… */
  level: number;
  /** When the SLA passes (ms). */
  dueAt: number;
  /** Who has the alert now; another assignee in a later event means a manual reassignment (cancels). */
  assigneeId: string;
  priority: Priority;
  /** The alert's `updatedAt` (ms) as of the assignment; events older than it are ignored. 0: unknown. */
  since: number;
}

interface EscalationRow extends Record<string, SqlStorageValue> {
  alert_id: string;
  rule_id: string;
  level: number;
  due_at: number;
  assignee_id: string;
  priority: string;
  since: number;
}

const toPending = (r: EscalationRow): PendingEscalation => ({
  alertId: r.alert_id,
  ruleId: r.rule_id,
  level: r.level,
  dueAt: r.due_at,
  assigneeId: r.assignee_id,
  priority: r.priority as Priority,
  since: r.since,
});

/**
 * The org's pending escalations (table `escalations`, one per alert; see
 * docs/ROUTING.md, "Escalation"). The hub's alarm fires at `nextAt()`; every
 * alert event the hub receives goes through `observe`, which cancels the
 * escalation of an alert that left PENDING or was reassigned by someone else.
 */
export class Escalations {
  /** The earliest due time, cached; undefined: not read yet, null: none pending. */
  #next: number | null | undefined;

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS escalations (
        alert_id TEXT PRIMARY KEY,
        rule_id TEXT NOT NULL,
        level INTEGER NOT NULL,
        due_at INTEGER NOT NULL,
        assignee_id TEXT NOT NULL,
        priority TEXT NOT NULL,
        since INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS escalations_due_idx ON escalations (due_at);
    `);
  }

  /** Records (or replaces) the alert's pending escalation. */
  schedule(alertId: string, e: Omit<PendingEscalation, "alertId" | "since"> & { since?: number }): void {
    this.sql.exec(
      `INSERT INTO escalations (alert_id, rule_id, level, due_at, assignee_id, priority, since) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (alert_id) DO UPDATE SET rule_id = excluded.rule_id, level = excluded.level, due_at = excluded.due_at,
         assignee_id = excluded.assignee_id, priority = excluded.priority, since = excluded.since`,
      alertId,
      e.ruleId,
      e.level,
      e.dueAt,
      e.assigneeId,
      e.priority,
      e.since ?? 0,
    );
    if (this.#next !== undefined && (this.#next === null || e.dueAt < this.#next)) this.#next = e.dueAt;
    else this.#next = undefined;
  }

  /** Drops the alert's pending escalation, if any. */
  cancel(alertId: string): void {
    if (this.sql.exec("DELETE FROM escalations WHERE alert_id = ?", alertId).rowsWritten > 0) this.#next = undefined;
  }

  /** The alert's pending escalation, if any. */
  get(alertId: string): PendingEscalation | undefined {
    const row = this.sql.exec<EscalationRow>("SELECT * FROM escalations WHERE alert_id = ?", alertId).toArray()[0];
    return row && toPending(row);
  }

  /** Escalations due at `now`, earliest first, at most `limit`. */
  due(now: number, limit: number): PendingEscalation[] {
    return this.sql
      .exec<EscalationRow>("SELECT * FROM escalations WHERE due_at <= ? ORDER BY due_at, alert_id LIMIT ?", now, limit)
      .toArray()
      .map(toPending);
  }

  /** The earliest due time (ms), undefined when nothing is pending. */
  nextAt(): number | undefined {
    if (this.#next === undefined) {
      this.#next = this.sql.exec<{ t: number | null }>("SELECT min(due_at) AS t FROM escalations").toArray()[0]?.t ?? null;
    }
    return this.#next ?? undefined;
  }

  /**
   * An alert event reached the hub: an alert no longer PENDING (acknowledged,
   * resolved, dismissed, converted) or now with another assignee than the one
   * the escalation knows (a manual reassignment) loses its escalation. Events
   * older than the escalation's assignment are ignored.
   */
  observe(alert: Alert): void {
    const pending = this.get(alert.id);
    if (!pending) return;
    if (Date.parse(alert.updatedAt) < pending.since) return;
    if (alert.status !== "PENDING" || alert.assigneeId !== pending.assigneeId) this.cancel(alert.id);
  }
}
