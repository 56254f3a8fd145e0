import type { AlertStatus } from "../protocol";
import type { MetaTable } from "./meta";

/** Statuses an alert counts toward its assignee's load in (docs/ROUTING.md, "Open load"). */
const OPEN_STATUSES: ReadonlySet<AlertStatus> = new Set(["PENDING", "ACKNOWLEDGED", "IN_PROGRESS"]);

/** Entries for closed or unassigned alerts are kept this long, so a late, older event cannot reopen them (ms). */
const TOMBSTONE_MS = 24 * 3600_000;

/** The meta key set once the org's open alerts were loaded from D1. */
const SEEDED_KEY = "routing_seeded";

/** What the router reads of an alert event's alert. */
export interface ObservedAlert {
  id: string;
  status: AlertStatus;
  assigneeId: string | null;
  /** ISO time of the alert's last change: events older than the entry are ignored. */
  updatedAt: string;
}

/** One page of the org's open assigned alerts, for seeding. */
export interface SeedRow {
  id: string;
  assigneeId: string;
  updatedAt: number;
}

/** An alert's entry in the open loads, as it was. */
export interface OpenEntry {
  agentId: string | null;
  updatedAt: number;
  confirmed: boolean;
  reservedAt: number | null;
}

/**
 * What one reservation by a rule changed (the alert's entry, the rule's
 * round-robin cursor, the agent's last-assigned time) and what was there
 * before, so that `undo` can put it back when its write does not happen.
 */
export interface Reservation {
  alertId: string;
  agentId: string;
  ruleId: string;
  /** When it was made (ms): the agent's new last-assigned time. */
  at: number;
  /** The alert's entry before (null: none, a new alert). */
  previous: OpenEntry | null;
  previousCursor: string | null;
  previousLastAssignedAt: number | null;
}

/**
 * The org hub's routing state, in its own tables: `routing_open` (per alert:
 * its assignee while open, the alert's last change time, whether an event
 * confirmed it or it is a reservation made by a routing decision; a null
 * agent is a closed/unassigned alert remembered for a day), `routing_cursor`
 * (each round-robin rule's last agent) and `routing_last` (when routing last
 * gave each agent an alert). Loads count confirmed entries and reservations
 * younger than `ROUTING_RESERVATION_SECONDS`.
 */
export class RouterTable {
  #seeded = false;

  constructor(
    private readonly sql: SqlStorage,
    private readonly meta: MetaTable,
    private readonly reservationMs: () => number,
  ) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS routing_open (
        alert_id TEXT PRIMARY KEY,
        agent_id TEXT,
        updated_at INTEGER NOT NULL,
        confirmed INTEGER NOT NULL,
        reserved_at INTEGER
      );
      CREATE INDEX IF NOT EXISTS routing_open_agent_idx ON routing_open (agent_id);
      CREATE TABLE IF NOT EXISTS routing_cursor (rule_id TEXT PRIMARY KEY, agent_id TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS routing_last (agent_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
    `);
  }

  /** Whether the org's open alerts were loaded from D1 already (read once; it never goes back to false). */
  seeded(): boolean {
    this.#seeded ||= this.meta.get(SEEDED_KEY) !== undefined;
    return this.#seeded;
  }

  /** Adds a page of D1's open assigned alerts; an entry an event already made newer is kept. */
  seed(rows: SeedRow[]): void {
    for (const r of rows) {
      this.sql.exec(
        `INSERT INTO routing_open (alert_id, agent_id, updated_at, confirmed, reserved_at) VALUES (?, ?, ?, 1, NULL)
         ON CONFLICT (alert_id) DO UPDATE SET agent_id = excluded.agent_id, updated_at = excluded.updated_at, confirmed = 1, reserved_at = NULL
         WHERE excluded.updated_at > routing_open.updated_at`,
        r.id,
        r.assigneeId,
        r.updatedAt,
      );
    }
  }

  /** Marks the seeding done. */
  markSeeded(now = Date.now()): void {
    this.meta.set(SEEDED_KEY, String(now));
    this.#seeded = true;
  }

  /** Drops reservations no event confirmed in time (their create failed) and old tombstones. */
  expire(now = Date.now()): void {
    this.sql.exec("DELETE FROM routing_open WHERE confirmed = 0 AND reserved_at < ?", now - this.reservationMs());
    this.sql.exec("DELETE FROM routing_open WHERE agent_id IS NULL AND updated_at < ?", now - TOMBSTONE_MS);
  }

  /** Every agent's open load (confirmed entries and live reservations). */
  loads(): Map<string, number> {
    const rows = this.sql
      .exec<{ agent_id: string; n: number }>("SELECT agent_id, count(*) AS n FROM routing_open WHERE agent_id IS NOT NULL GROUP BY agent_id")
      .toArray();
    return new Map(rows.map((r) => [r.agent_id, r.n]));
  }

  /** One agent's open load. */
  load(agentId: string): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM routing_open WHERE agent_id = ?", agentId).one().n;
  }

  /**
   * Reserves the alert for the agent until its event confirms it. A retry
   * for the same agent changes nothing; an alert held by someone else (a
   * reassignment by the rules) moves to the agent at once, keeping its last
   * change time so the reassignment's event confirms it and an older one
   * cannot undo it.
   */
  reserve(alertId: string, agentId: string, now = Date.now()): void {
    this.sql.exec(
      `INSERT INTO routing_open (alert_id, agent_id, updated_at, confirmed, reserved_at) VALUES (?, ?, 0, 0, ?)
       ON CONFLICT (alert_id) DO UPDATE SET agent_id = excluded.agent_id, confirmed = 0, reserved_at = excluded.reserved_at
       WHERE routing_open.agent_id IS NOT excluded.agent_id`,
      alertId,
      agentId,
      now,
    );
  }

  /** The alert's entry in the open loads, if any. */
  entry(alertId: string): OpenEntry | null {
    const row = this.sql
      .exec<{ agent_id: string | null; updated_at: number; confirmed: number; reserved_at: number | null }>(
        "SELECT agent_id, updated_at, confirmed, reserved_at FROM routing_open WHERE alert_id = ?",
        alertId,
      )
      .toArray()[0];
    return row ? { agentId: row.agent_id, updatedAt: row.updated_at, confirmed: row.confirmed === 1, reservedAt: row.reserved_at } : null;
  }

  /** A rule's choice: `reserve` and `assigned` together, returning what they changed for `undo`. */
  reserveFor(alertId: string, agentId: string, ruleId: string, now = Date.now()): Reservation {
    const reservation: Reservation = {
      alertId,
      agentId,
      ruleId,
      at: now,
      previous: this.entry(alertId),
      previousCursor: this.cursor(ruleId),
      previousLastAssignedAt: this.lastAssignedAt(agentId),
    };
    this.reserve(alertId, agentId, now);
    this.assigned(ruleId, agentId, now);
    return reservation;
  }

  /**
   * Gives a reservation back at once (its write lost a race or failed): the
   * alert's entry returns to what it was (a reassignment's previous
   * assignee keeps counting it; a new alert's entry goes), unless an event
   * confirmed or moved it since; the rule's cursor and the agent's
   * last-assigned time return too, unless another decision moved them since
   * (then the rotation goes on from that decision).
   */
  undo(r: Reservation): void {
    const p = r.previous;
    if (p === null) {
      this.sql.exec("DELETE FROM routing_open WHERE alert_id = ? AND agent_id = ? AND confirmed = 0", r.alertId, r.agentId);
    } else {
      this.sql.exec(
        "UPDATE routing_open SET agent_id = ?, updated_at = ?, confirmed = ?, reserved_at = ? WHERE alert_id = ? AND agent_id = ? AND confirmed = 0",
        p.agentId,
        p.updatedAt,
        p.confirmed ? 1 : 0,
        p.reservedAt,
        r.alertId,
        r.agentId,
      );
    }
    if (this.cursor(r.ruleId) === r.agentId) {
      if (r.previousCursor === null) this.sql.exec("DELETE FROM routing_cursor WHERE rule_id = ?", r.ruleId);
      else this.sql.exec("UPDATE routing_cursor SET agent_id = ? WHERE rule_id = ?", r.previousCursor, r.ruleId);
    }
    if (this.lastAssignedAt(r.agentId) === r.at) {
      if (r.previousLastAssignedAt === null) this.sql.exec("DELETE FROM routing_last WHERE agent_id = ?", r.agentId);
      else this.sql.exec("UPDATE routing_last SET at = ? WHERE agent_id = ?", r.previousLastAssignedAt, r.agentId);
    }
  }

  /** Drops an unconfirmed reservation (the create it was for did not happen). */
  release(alertId: string): void {
    this.sql.exec("DELETE FROM routing_open WHERE alert_id = ? AND confirmed = 0", alertId);
  }

  /**
   * Follows an alert event: open and assigned → the entry (moved to the
   * assignee, confirmed); closed or unassigned → a tombstone. Events older
   * than the entry are ignored.
   */
  observe(alert: ObservedAlert): void {
    const at = Date.parse(alert.updatedAt);
    if (Number.isNaN(at)) return;
    const agent = OPEN_STATUSES.has(alert.status) ? alert.assigneeId : null;
    this.sql.exec(
      `INSERT INTO routing_open (alert_id, agent_id, updated_at, confirmed, reserved_at) VALUES (?, ?, ?, 1, NULL)
       ON CONFLICT (alert_id) DO UPDATE SET agent_id = excluded.agent_id, updated_at = excluded.updated_at, confirmed = 1, reserved_at = NULL
       WHERE excluded.updated_at >= routing_open.updated_at`,
      alert.id,
      agent,
      at,
    );
  }

  /** The last agent a round-robin rule assigned. */
  cursor(ruleId: string): string | null {
    return this.sql.exec<{ agent_id: string }>("SELECT agent_id FROM routing_cursor WHERE rule_id = ?", ruleId).toArray()[0]?.agent_id ?? null;
  }

  /** When routing last gave the agent an alert (ms), null if never. */
  lastAssignedAt(agentId: string): number | null {
    return this.sql.exec<{ at: number }>("SELECT at FROM routing_last WHERE agent_id = ?", agentId).toArray()[0]?.at ?? null;
  }

  /** Records an assignment by a rule: its cursor and the agent's last-assigned time. */
  assigned(ruleId: string, agentId: string, now = Date.now()): void {
    this.sql.exec(
      "INSERT INTO routing_cursor (rule_id, agent_id) VALUES (?, ?) ON CONFLICT (rule_id) DO UPDATE SET agent_id = excluded.agent_id",
      ruleId,
      agentId,
    );
    this.sql.exec("INSERT INTO routing_last (agent_id, at) VALUES (?, ?) ON CONFLICT (agent_id) DO UPDATE SET at = excluded.at", agentId, now);
  }
}
