import { useState } from "react";
import type { AlertEventData, Assignment } from "@herald/sdk";
import { useEvent } from "@herald/sdk/react";

/** Alerts whose latest assignment is remembered; the oldest entry goes first past it. */
const KEEP = 500;

/**
 * The latest assignment of each alert, as live `alert:new`, `alert:assigned`
 * and `alert:escalated` events carry it (routing's rule and reason, an
 * escalation's level). The REST list does not carry assignments, so an alert
 * loaded with the page has none here until its next assignment event; the
 * detail view lists them all. An `alert:assigned` without an assignment
 * forgets the alert's entry: it would no longer say why.
 */
export function useLatestAssignments(): ReadonlyMap<string, Assignment> {
  const [latest, setLatest] = useState<ReadonlyMap<string, Assignment>>(() => new Map());
  const note = (forgetWithout: boolean) => ({ alert, assignment }: AlertEventData) => {
    if (!assignment && !forgetWithout) return;
    setLatest((current) => {
      if (!assignment && !current.has(alert.id)) return current;
      const next = new Map(current);
      next.delete(alert.id);
      if (assignment && assignment.alertId === alert.id) next.set(alert.id, assignment);
      for (const id of next.keys()) {
        if (next.size <= KEEP) break;
        next.delete(id);
      }
      return next;
    });
  };
  useEvent("alert:new", note(false));
  useEvent("alert:assigned", note(true));
  useEvent("alert:escalated", note(false));
  return latest;
}
