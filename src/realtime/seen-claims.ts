import { seenFingerprint, type SeenUser } from "../services/users";
import type { ConnectIdentity } from "./hub-api";

/** Most fingerprints kept in memory (a cache of the table). */
const MEMORY_MAX = 50_000;

/**
 * What the org hub last recorded in the D1 directory for each person who
 * opened a socket (table `seen_claims`: user id → fingerprint of role, email
 * and name). The org hub admits every socket of its org, user and org
 * streams alike, so it records people for the upgrade path: a person whose
 * claims did not change since the last recording costs no D1 write, even
 * after a deploy (the table survives restarts), and the ones that did are
 * written together (`take`, then `recorded` once the write succeeded).
 * Service tokens are machines, not recipients: never recorded.
 */
export class SeenClaims {
  #memory = new Map<string, string>();
  #pending = new Map<string, SeenUser>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS seen_claims (user_id TEXT PRIMARY KEY, fp TEXT NOT NULL)");
  }

  /** Notes a person seen on a socket; true when their directory row needs writing. */
  note(identity: Pick<ConnectIdentity, "userId" | "orgId" | "role" | "email" | "name">): boolean {
    if (identity.role === "service") return false;
    const fp = seenFingerprint(identity);
    if (this.#fingerprint(identity.userId) === fp && !this.#pending.has(identity.userId)) return false;
    const { userId, orgId, role, email, name } = identity;
    this.#pending.set(userId, { orgId, id: userId, role, ...(email !== undefined && { email }), ...(name !== undefined && { name }) });
    return true;
  }

  /** The people noted since the last `take`, to write in one go. */
  take(): SeenUser[] {
    const out = [...this.#pending.values()];
    this.#pending.clear();
    return out;
  }

  /** The directory now holds these claims (one statement for all of them). */
  recorded(seen: readonly SeenUser[]): void {
    if (seen.length === 0) return;
    const rows = seen.map((user) => ({ id: user.id, fp: seenFingerprint(user) }));
    this.sql.exec(
      `INSERT INTO seen_claims (user_id, fp) SELECT value ->> 'id', value ->> 'fp' FROM json_each(?) WHERE true
       ON CONFLICT (user_id) DO UPDATE SET fp = excluded.fp`,
      JSON.stringify(rows),
    );
    for (const { id, fp } of rows) this.#remember(id, fp);
  }

  #fingerprint(userId: string): string | undefined {
    let fp = this.#memory.get(userId);
    if (fp === undefined) {
      fp = this.sql.exec<{ fp: string }>("SELECT fp FROM seen_claims WHERE user_id = ?", userId).toArray()[0]?.fp;
      if (fp !== undefined) this.#remember(userId, fp);
    }
    return fp;
  }

  #remember(userId: string, fp: string): void {
    if (this.#memory.size >= MEMORY_MAX) this.#memory.clear();
    this.#memory.set(userId, fp);
  }
}
