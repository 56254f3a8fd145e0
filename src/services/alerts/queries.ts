import { and, asc, eq, gte, inArray, isNotNull, isNull, lt, or, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../../db/client";
import { keysetPage } from "../../db/pagination";
import { alertHistory, alerts } from "../../db/schema";
import type { Alert, AlertHistoryEntry, ListAlertsInput } from "../../schemas/alerts";
import type { Claims } from "../../types";
import { loadVisible, visibleTo } from "./access";
import { creationEntries, toAlert, toHistoryEntry } from "./model";

/** Reads of visible alerts: one alert, its history, a filtered page. */

/** One alert, if the actor may see it (404 otherwise, also for other orgs' ids). */
export async function getAlert(db: Db, actor: Claims, id: string): Promise<Alert> {
  return toAlert(await loadVisible(db, actor, id));
}

/** The audit trail of a visible alert, oldest first. */
export async function getAlertHistory(db: Db, actor: Claims, id: string): Promise<AlertHistoryEntry[]> {
  const alert = await loadVisible(db, actor, id);
  const rows = await db.query.alertHistory.findMany({
    where: and(eq(alertHistory.alertId, id), eq(alertHistory.orgId, actor.org)),
    // rowid: insertion order, for entries written in the same millisecond.
    orderBy: [asc(alertHistory.createdAt), asc(sql`rowid`)],
  });
  const entries = rows.map(toHistoryEntry);
  // Alerts created before migration 0007 have their creation as rows.
  return rows.some((r) => r.action === "created") ? entries : [...creationEntries(alert), ...entries];
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (ch) => `\\${ch}`);

/** Lists visible alerts, newest first, filtered, one page at a time. */
export async function listAlerts(
  db: Db,
  actor: Claims,
  query: ListAlertsInput,
): Promise<{ items: Alert[]; nextCursor: string | null }> {
  const conditions: (SQL | undefined)[] = [visibleTo(db, actor)];
  if (query.status) conditions.push(inArray(alerts.status, query.status));
  if (query.priority) conditions.push(inArray(alerts.priority, query.priority));
  if (query.type) conditions.push(eq(alerts.alertType, query.type));
  if (query.assigneeId) conditions.push(eq(alerts.assigneeId, query.assigneeId));
  if (query.unassigned !== undefined) conditions.push(query.unassigned ? isNull(alerts.assigneeId) : isNotNull(alerts.assigneeId));
  if (query.since) conditions.push(gte(alerts.createdAt, new Date(query.since)));
  if (query.until) conditions.push(lt(alerts.createdAt, new Date(query.until)));
  if (query.minConfidence !== undefined) conditions.push(gte(alerts.confidence, query.minConfidence));
  if (query.q) {
    const pattern = `%${escapeLike(query.q)}%`;
    const match = (column: SQLiteColumn) => sql`${column} LIKE ${pattern} ESCAPE '\\'`;
    conditions.push(or(match(alerts.title), match(alerts.subjectName), match(alerts.subjectEmail), match(alerts.subjectId)));
  }
  return keysetPage(
    alerts,
    query,
    (after, orderBy, limit) =>
      db
        .select()
        .from(alerts)
        .where(and(...conditions, after))
        .orderBy(...orderBy)
        .limit(limit),
    toAlert,
  );
}
