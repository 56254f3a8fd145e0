/** Most users whose user-stream count is kept in memory (a cache of the presence table). */
const USER_CONNS_CACHE_MAX = 50_000;

/** A row of the presence table: a user's user-stream connections as their user hub last reported them. */
export interface PresenceRow extends Record<string, SqlStorageValue> {
  user_id: string;
  user_conns: number;
  last_seen_at: number;
}

/**
 * The org's presence registry (table `presence`): per user, the user-stream
 * connection count its user hub reported, with a version so an older report
 * arriving late is ignored, and when the user was last seen. The counts and
 * their sum are cached in memory (read through, written through): admission
 * needs the sum on every upgrade. The org hub adds its own sockets to these
 * counts; this table holds only what the user hubs report.
 */
export class PresenceTable {
  #cache = new Map<string, number>();
  #total: number | undefined;

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS presence (
        user_id TEXT PRIMARY KEY,
        user_conns INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0,
        last_seen_at INTEGER NOT NULL
      );
    `);
  }

  /** A user's user-stream connections (0 for a user never seen). */
  userConns(userId: string): number {
    let n = this.#cache.get(userId);
    if (n === undefined) {
      n = this.sql.exec<{ n: number }>("SELECT user_conns AS n FROM presence WHERE user_id = ?", userId).toArray()[0]?.n ?? 0;
      if (this.#cache.size >= USER_CONNS_CACHE_MAX) this.#cache.clear();
      this.#cache.set(userId, n);
    }
    return n;
  }

  /** The sum of every user's user-stream connections. */
  total(): number {
    this.#total ??= this.sql.exec<{ n: number | null }>("SELECT sum(user_conns) AS n FROM presence").toArray()[0]?.n ?? 0;
    return this.#total;
  }

  /** The version of the latest report recorded for a user (0 when none). */
  version(userId: string): number {
    return this.sql.exec<{ version: number }>("SELECT version FROM presence WHERE user_id = ?", userId).toArray()[0]?.version ?? 0;
  }

  /** Records a user's count (and a report's version, never lowering it) and marks the user seen now. */
  touch(userId: string, userConns: number, version?: number): void {
    this.#total = this.total() - this.userConns(userId) + userConns;
    this.#cache.set(userId, userConns);
    this.sql.exec(
      `INSERT INTO presence (user_id, user_conns, version, last_seen_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET user_conns = excluded.user_conns, last_seen_at = excluded.last_seen_at,
         version = max(version, excluded.version)`,
      userId,
      userConns,
      version ?? 0,
      Date.now(),
    );
  }

  /** Every user seen, by id, or the one user (no row when never seen). */
  rows(userId?: string): PresenceRow[] {
    return userId === undefined
      ? this.sql.exec<PresenceRow>("SELECT * FROM presence ORDER BY user_id").toArray()
      : this.sql.exec<PresenceRow>("SELECT * FROM presence WHERE user_id = ?", userId).toArray();
  }

  /** Users with user-stream connections, most recently seen first, at most `limit`. */
  connectedUsers(limit: number): string[] {
    return this.sql
      .exec<{ user_id: string }>("SELECT user_id FROM presence WHERE user_conns > 0 ORDER BY last_seen_at DESC LIMIT ?", limit)
      .toArray()
      .map((r) => r.user_id);
  }
}
