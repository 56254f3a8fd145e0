/**
 * SQL condition on a table with an `org_id` column (optionally through
 * `alias`) that leaves out organizations fenced on this shard: moving away
 * ('fenced', whose writes the triggers of migration 0006 refuse) or gone
 * ('retired', whose rows the move deletes). The cron's sweeps and retention
 * add it, so a statement that touches many orgs never fails on one moving org
 * and never changes a move's copy under it.
 */
export function notFenced(alias?: string): string {
  return `${alias ? `${alias}.` : ""}org_id NOT IN (SELECT org_id FROM org_fence)`;
}

/** notFenced() on an unaliased table. */
export const NOT_FENCED = notFenced();
