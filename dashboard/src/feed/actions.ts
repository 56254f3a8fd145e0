import { useCallback, useMemo, useState } from "react";
import { CONVERTIBLE_FROM, STATUS_TRANSITIONS } from "@herald/sdk";
import type { Alert, BulkAction, BulkResult, Herald } from "@herald/sdk";
import { errorMessage } from "./format";

/** The signed-in user as the feed needs it (the token's claims; the shell's `Claims` fits). */
export interface Me {
  sub: string;
  /** admin | agent | member | service; anything else gets the member's view. */
  role?: string;
  org?: string;
}

/** Admins and services see the whole org's alerts and assign anyone. */
export const isPrivileged = (me: Me | null | undefined) => me?.role === "admin" || me?.role === "service";

/** Whether the user assigns anyone (admins, services) or only takes alerts for themselves (agents). */
export function assignMode(me: Me): "assign" | "take" | null {
  if (isPrivileged(me)) return "assign";
  return me.role === "agent" ? "take" : null;
}

/** Which of a card's actions the alert's status (and the user's role) allow. */
export function allowedActions(alert: Alert, me: Me) {
  const mode = assignMode(me);
  return {
    acknowledge: STATUS_TRANSITIONS[alert.status].includes("ACKNOWLEDGED"),
    dismiss: STATUS_TRANSITIONS[alert.status].includes("DISMISSED"),
    convert: CONVERTIBLE_FROM.includes(alert.status),
    assign: alert.status !== "CONVERTED" && (mode === "assign" || (mode === "take" && alert.assigneeId === null)),
  };
}

interface Override {
  patch: Partial<Alert>;
  /** Still waiting for the server. */
  pending: boolean;
  /** The `updatedAt` of the server's answer: the list catching up to it retires the override. */
  confirmedAt?: string;
}

/** The outcome of one bulk request, for the "Bulk results" summary. */
export interface BulkOutcome {
  action: BulkAction["action"];
  result?: BulkResult;
  error?: string;
}

/**
 * Optimistic actions: a card shows the expected change at once (marked
 * pending), then the server's answer until the live list has caught up with
 * it; a failure rolls the card back and keeps the API's message for it.
 */
export function useAlertActions(herald: Herald) {
  const [overrides, setOverrides] = useState<ReadonlyMap<string, Override>>(new Map());
  const [errors, setErrors] = useState<ReadonlyMap<string, string>>(new Map());

  const update = <V>(set: (fn: (m: ReadonlyMap<string, V>) => ReadonlyMap<string, V>) => void, id: string, value: V | undefined) =>
    set((m) => {
      const next = new Map(m);
      if (value === undefined) next.delete(id);
      else next.set(id, value);
      return next;
    });

  const begin = useCallback((ids: string[], patch: Partial<Alert>) => {
    for (const id of ids) {
      update(setOverrides, id, { patch, pending: true });
      update(setErrors, id, undefined);
    }
  }, []);
  const confirm = useCallback((alert: Alert) => update(setOverrides, alert.id, { patch: alert, pending: false, confirmedAt: alert.updatedAt }), []);
  const fail = useCallback((id: string, message: string) => {
    update(setOverrides, id, undefined);
    update(setErrors, id, message);
  }, []);

  /** Runs one alert's request with `patch` shown meanwhile; resolves true on success. */
  const act = useCallback(
    async (id: string, patch: Partial<Alert>, call: () => Promise<Alert>): Promise<boolean> => {
      begin([id], patch);
      try {
        confirm(await call());
        return true;
      } catch (err) {
        fail(id, errorMessage(err));
        return false;
      }
    },
    [begin, confirm, fail],
  );

  /** Runs a bulk action with `patch` shown on every id meanwhile; each id settles on its own result. */
  const bulk = useCallback(
    async (body: BulkAction, patch: Partial<Alert>): Promise<BulkOutcome> => {
      begin(body.ids, patch);
      try {
        const result = await herald.api.alerts.bulk(body);
        for (const r of result.results) {
          if (r.ok && r.alert) confirm(r.alert);
          else fail(r.id, r.error?.message ?? "Failed");
        }
        return { action: body.action, result };
      } catch (err) {
        for (const id of body.ids) update(setOverrides, id, undefined);
        return { action: body.action, error: errorMessage(err) };
      }
    },
    [herald, begin, confirm, fail],
  );

  /** The alert as the user should see it now, and whether a change of it is in flight. */
  const view = useCallback(
    (alert: Alert): { alert: Alert; pending: boolean } => {
      const o = overrides.get(alert.id);
      if (!o || (o.confirmedAt && Date.parse(alert.updatedAt) >= Date.parse(o.confirmedAt))) return { alert, pending: false };
      return { alert: { ...alert, ...o.patch }, pending: o.pending };
    },
    [overrides],
  );

  const clearError = useCallback((id: string) => update(setErrors, id, undefined), []);

  return useMemo(() => ({ act, bulk, view, errors, clearError }), [act, bulk, view, errors, clearError]);
}

/** What `useAlertActions` returns. */
export type AlertActions = ReturnType<typeof useAlertActions>;
