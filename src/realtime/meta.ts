/**
 * A hub's small key/value table (`meta`): the log's head, when counting
 * started, the pending stats tick. Each part that keeps a value here names
 * its own key.
 */
export class MetaTable {
  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
  }

  /** The value of `key`, or undefined when unset. */
  get(key: string): string | undefined {
    const row = this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = ?", key).toArray()[0];
    return row?.v;
  }

  set(key: string, value: string): void {
    this.sql.exec("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", key, value);
  }

  delete(key: string): void {
    this.sql.exec("DELETE FROM meta WHERE k = ?", key);
  }
}
