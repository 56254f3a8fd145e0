import { scopeKey, scopesOverlap, type Scope, type Subscription } from "../protocol";

interface SubRow extends Record<string, SqlStorageValue> {
  cid: string;
  channel: string;
  skey: string;
  dept: string | null;
  queue: string | null;
}

const keyOf = (s: Subscription) => `${s.channel}|${scopeKey(s.scope)}`;

/** The subscriptions without repeats (same channel and scope). */
export function dedupeSubs(subs: Subscription[]): Subscription[] {
  const seen = new Map<string, Subscription>();
  for (const s of subs) seen.set(keyOf(s), s);
  return [...seen.values()];
}

/** The scope of a stored row (log or subscription): absent parts stay absent. */
export function rowScope(row: { dept: string | null; queue: string | null }): Scope {
  return { ...(row.dept !== null && { dept: row.dept }), ...(row.queue !== null && { queue: row.queue }) };
}

/**
 * The org stream's subscriptions (table `subs`) with two in-memory indexes:
 * connection → its subscriptions, and channel → connection → its scopes on
 * that channel, so a fan-out visits only the channel's subscribers. The
 * indexes are caches built from the table on first use after a wake-up; rows
 * of connections no longer open (`isOpen`, e.g. after a crash) are deleted
 * then.
 */
export class SubscriptionIndex {
  #subs: Map<string, Map<string, Subscription>> | undefined;
  #byChannel = new Map<string, Map<string, Scope[]>>();

  /** @param openCids the connection ids of the hub's open sockets, read when the index is rebuilt */
  constructor(
    private readonly sql: SqlStorage,
    private readonly openCids: () => Iterable<string>,
  ) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS subs (
        cid TEXT NOT NULL,
        channel TEXT NOT NULL,
        skey TEXT NOT NULL,
        dept TEXT,
        queue TEXT,
        PRIMARY KEY (cid, channel, skey)
      );
    `);
  }

  #load(): Map<string, Map<string, Subscription>> {
    if (this.#subs) return this.#subs;
    const live = new Set(this.openCids());
    const map = new Map<string, Map<string, Subscription>>();
    this.#byChannel.clear();
    const stale = new Set<string>();
    for (const row of this.sql.exec<SubRow>("SELECT * FROM subs")) {
      if (!live.has(row.cid)) {
        stale.add(row.cid);
        continue;
      }
      let mine = map.get(row.cid);
      if (!mine) map.set(row.cid, (mine = new Map()));
      mine.set(`${row.channel}|${row.skey}`, { channel: row.channel, scope: rowScope(row) });
    }
    for (const cid of stale) this.sql.exec("DELETE FROM subs WHERE cid = ?", cid);
    this.#subs = map;
    for (const [cid, mine] of map) for (const channel of new Set([...mine.values()].map((s) => s.channel))) this.#indexChannel(cid, channel);
    return map;
  }

  /** Sets a connection's scopes on a channel in the channel index from its subscriptions (none left: out of the index). */
  #indexChannel(cid: string, channel: string): void {
    const scopes = [...(this.#subs?.get(cid)?.values() ?? [])].filter((s) => s.channel === channel).map((s) => s.scope);
    let cids = this.#byChannel.get(channel);
    if (scopes.length > 0) {
      if (!cids) this.#byChannel.set(channel, (cids = new Map()));
      cids.set(cid, scopes);
    } else if (cids) {
      cids.delete(cid);
      if (cids.size === 0) this.#byChannel.delete(channel);
    }
  }

  /** A connection's subscriptions. */
  of(cid: string): Subscription[] {
    return [...(this.#load().get(cid)?.values() ?? [])];
  }

  /** The distinct channels a connection subscribes to: replay reads only their rows. */
  channelsOf(cid: string): string[] {
    return [...new Set(this.of(cid).map((s) => s.channel))];
  }

  /** Adds subscriptions to a connection (one already there is kept once). */
  add(cid: string, subs: Subscription[]): void {
    const all = this.#load();
    let mine = all.get(cid);
    if (!mine) all.set(cid, (mine = new Map()));
    for (const s of subs) {
      const skey = scopeKey(s.scope);
      this.sql.exec(
        "INSERT OR IGNORE INTO subs (cid, channel, skey, dept, queue) VALUES (?, ?, ?, ?, ?)",
        cid,
        s.channel,
        skey,
        s.scope.dept ?? null,
        s.scope.queue ?? null,
      );
      mine.set(`${s.channel}|${skey}`, s);
      this.#indexChannel(cid, s.channel);
    }
  }

  /** Removes subscriptions of a connection (absent ones are ignored). */
  remove(cid: string, subs: Subscription[]): void {
    const mine = this.#load().get(cid);
    for (const s of subs) {
      const skey = scopeKey(s.scope);
      this.sql.exec("DELETE FROM subs WHERE cid = ? AND channel = ? AND skey = ?", cid, s.channel, skey);
      mine?.delete(`${s.channel}|${skey}`);
      this.#indexChannel(cid, s.channel);
    }
  }

  /** Forgets every subscription of a connection that went away. */
  drop(cid: string): void {
    this.sql.exec("DELETE FROM subs WHERE cid = ?", cid);
    const channels = this.channelsOf(cid);
    this.#subs?.delete(cid);
    for (const channel of channels) this.#indexChannel(cid, channel);
  }

  /** Whether an event on `channel` with `scope` reaches this connection. */
  matches(cid: string, channel: string | null, scope: Scope): boolean {
    if (channel === null) return false;
    const mine = this.#load().get(cid);
    if (!mine) return false;
    for (const s of mine.values()) if (s.channel === channel && scopesOverlap(scope, s.scope)) return true;
    return false;
  }

  /** The subscribers of a channel with their scopes on it (connection id → scopes). */
  subscribers(channel: string): ReadonlyMap<string, Scope[]> | undefined {
    this.#load();
    return this.#byChannel.get(channel);
  }

  /** Subscriber counts per (channel, scope) over the given connections, sorted by channel. */
  countsFor(cids: Iterable<string>): { channel: string; scope: Scope; subscribers: number }[] {
    const channels = new Map<string, { channel: string; scope: Scope; subscribers: number }>();
    for (const cid of cids) {
      for (const s of this.of(cid)) {
        const key = keyOf(s);
        const entry = channels.get(key) ?? { channel: s.channel, scope: s.scope, subscribers: 0 };
        entry.subscribers++;
        channels.set(key, entry);
      }
    }
    return [...channels.values()].sort((a, b) => a.channel.localeCompare(b.channel));
  }
}
