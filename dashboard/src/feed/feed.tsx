import { useCallback, useEffect, useRef, useState } from "react";
import type { Alert, BulkAction, BulkResult } from "@herald/sdk";
import { useAlerts, useEvent, useHerald } from "@herald/sdk/react";
import { setQuery, useLocation } from "../lib/router";
import { assignMode, isPrivileged, useAlertActions, type BulkOutcome, type Me } from "./actions";
import { AlertCard } from "./alert-card";
import { AssignDialog } from "./assign-dialog";
import { useLatestAssignments } from "./assignments";
import { BulkBar, summarizeBulk } from "./bulk-bar";
import { ConvertDialog, type Conversion } from "./convert-dialog";
import { AlertDetail } from "./detail";
import { Filters, type FilterChange } from "./filters";
import { filtersToQuery, FILTER_KEYS, hasFilters, readFilters, toApiFilters } from "./url-filters";
import "../styles/feed.css";

export type { Me } from "./actions";

/** Scrolled further than this from the top, arrivals are counted in "N new alerts" instead of just appearing. */
const AWAY_PX = 200;
/** The bulk route takes up to 100 ids. */
const BULK_MAX = 100;

type Dialog = { kind: "assign"; alerts: Alert[]; bulk: boolean } | { kind: "convert"; alert: Alert } | null;

/** Where focus goes when a dialog's opener is gone: the alert's card title, else the page heading. */
const cardFocus = (id: string) => () =>
  document.querySelector<HTMLElement>(`[data-alert-id="${CSS.escape(id)}"] .card-title a`) ?? document.getElementById("feed-heading");

/**
 * The alert feed (`/`): filters in the URL, the live list with infinite
 * scroll, per-card and bulk actions (optimistic), the assign and convert
 * dialogs and the detail view (`?alert=<id>`). `me` is the signed-in user:
 * admins and services follow the org-wide feed and assign anyone, agents
 * take alerts for themselves, members neither.
 */
export function Feed({ me: given }: { me?: Me | null }) {
  // Until the token's claims are known (a token URL's first fetch), the most restricted view.
  const me: Me = given ?? { sub: "" };
  const herald = useHerald();
  const { search } = useLocation();
  const filters = readFilters(search);
  const privileged = isPrivileged(me);
  const { alerts, loading, error, hasMore, loadMore, refetch } = useAlerts(toApiFilters(filters), { org: privileged });
  const actions = useAlertActions(herald);
  const shown = alerts.map(actions.view);
  const mode = assignMode(me);
  const assignments = useLatestAssignments();

  const onFilter: FilterChange = (patch, options) => setQuery(filtersToQuery(patch), options);
  const clearFilters = () => setQuery(Object.fromEntries(FILTER_KEYS.map((k) => [k, undefined])));

  // --- arrivals: announced, and counted while the user is scrolled away ---
  const arrived = useRef<Alert[]>([]);
  const announced = useRef(new Set<string>());
  // The last few announcements, each its own node: an added node is read out, a replaced text may be skipped.
  const [announcements, setAnnouncements] = useState<{ key: number; text: string }[]>([]);
  const announceKey = useRef(0);
  const [newCount, setNewCount] = useState(0);
  useEvent("alert:new", ({ alert }) => void arrived.current.push(alert));
  useEffect(() => {
    if (!arrived.current.length) return;
    const inList = new Set(alerts.map((a) => a.id));
    const fresh = arrived.current.filter((a) => inList.has(a.id) && !announced.current.has(a.id));
    arrived.current = [];
    if (!fresh.length) return;
    for (const a of fresh) announced.current.add(a.id);
    const added = fresh.map((a) => ({ key: ++announceKey.current, text: `New ${a.priority} alert: ${a.title}` }));
    setAnnouncements((list) => [...list, ...added].slice(-5));
    if (scrollY > AWAY_PX) setNewCount((n) => n + fresh.length);
  }, [alerts]);
  useEffect(() => {
    const onScroll = () => scrollY <= AWAY_PX && setNewCount(0);
    addEventListener("scroll", onScroll, { passive: true });
    return () => removeEventListener("scroll", onScroll);
  }, []);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const showNew = () => {
    setNewCount(0);
    scrollTo({ top: 0, behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
    headingRef.current?.focus({ preventScroll: true });
  };

  // --- infinite scroll: a sentinel below the list, plus the "Load more" button ---
  const [loadingMore, setLoadingMore] = useState(false);
  const busyMore = useRef(false);
  const more = useCallback(async () => {
    if (busyMore.current) return;
    busyMore.current = true;
    setLoadingMore(true);
    try {
      await loadMore();
    } finally {
      busyMore.current = false;
      setLoadingMore(false);
    }
  }, [loadMore]);
  const feedRef = useRef<HTMLDivElement>(null);
  // A keyboard user who pressed "Load more" continues at the first alert it brought (the button may vanish).
  const loadMoreByButton = async () => {
    const before = feedRef.current?.children.length ?? 0;
    await more();
    requestAnimationFrame(() => (feedRef.current?.children[before] as HTMLElement | undefined)?.focus());
  };
  const sentinel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!hasMore || loading || !sentinel.current || typeof IntersectionObserver === "undefined") return;
    // Observing anew after each page: a sentinel still in view after a short page triggers the next.
    const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && void more(), { rootMargin: "400px 0px" });
    observer.observe(sentinel.current);
    return () => observer.disconnect();
  }, [hasMore, loading, alerts.length, more]);

  // --- selection and bulk actions ---
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const selectedAlerts = shown.filter((v) => selected.has(v.alert.id)).map((v) => v.alert);
  const allSelected = shown.length > 0 && selectedAlerts.length === shown.length;
  const select = (id: string, on: boolean) =>
    setSelected((s) => {
      const next = new Set(s);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  const selectAllRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (selectAllRef.current) selectAllRef.current.indeterminate = selectedAlerts.length > 0 && !allSelected;
  });
  const [bulkBusy, setBulkBusy] = useState(false);
  const [bulkSummary, setBulkSummary] = useState("");
  const titles = useRef(new Map<string, string>());
  for (const a of alerts) titles.current.set(a.id, a.title);
  const runBulk = async (make: (ids: string[]) => BulkAction, patch: Partial<Alert>) => {
    const ids = selectedAlerts.map((a) => a.id);
    if (!ids.length) return;
    setBulkBusy(true);
    setBulkSummary("");
    const merged: BulkResult = { results: [], succeeded: 0, failed: 0 };
    let outcome: BulkOutcome = { action: make([]).action, result: merged };
    for (let i = 0; i < ids.length; i += BULK_MAX) {
      const part = await actions.bulk(make(ids.slice(i, i + BULK_MAX)), patch);
      if (part.error) {
        outcome = part;
        break;
      }
      merged.results.push(...part.result!.results);
      merged.succeeded += part.result!.succeeded;
      merged.failed += part.result!.failed;
    }
    const done = new Set(merged.results.filter((r) => r.ok).map((r) => r.id));
    setSelected((s) => new Set([...s].filter((id) => !done.has(id))));
    setBulkSummary(summarizeBulk(outcome, (id) => titles.current.get(id) ?? id));
    setBulkBusy(false);
    selectAllRef.current?.focus();
  };

  // --- dialogs: assign, convert, details ---
  const [dialog, setDialog] = useState<Dialog>(null);
  const onStatus = (alert: Alert, status: "ACKNOWLEDGED" | "DISMISSED") =>
    void actions.act(alert.id, { status }, () => herald.api.alerts.updateStatus(alert.id, status));
  const assign = (alert: Alert, agentId: string, note?: string) =>
    void actions.act(alert.id, { assigneeId: agentId, assignedAt: new Date().toISOString() }, () => herald.api.alerts.assign(alert.id, agentId, note));
  const onAssign = (alert: Alert) => (mode === "take" ? assign(alert, me.sub) : setDialog({ kind: "assign", alerts: [alert], bulk: false }));
  const onConvert = (alert: Alert) => setDialog({ kind: "convert", alert });
  const convert = (alert: Alert, c: Conversion) =>
    void actions.act(alert.id, { status: "CONVERTED", conversionValue: c.conversionValue, conversionType: c.conversionType }, () =>
      herald.api.alerts.convert(alert.id, c),
    );
  const bulkAssign = (agentId: string) => runBulk((ids) => ({ action: "assign", ids, agentId }), { assigneeId: agentId });
  const detailId = search.get("alert");
  const openDetail = (alert: Alert) => setQuery({ alert: alert.id });
  const closeDetail = () => setQuery({ alert: undefined });

  const onFeedKey = (e: { key: string; currentTarget: HTMLElement; preventDefault(): void }) => {
    if (e.key !== "PageDown" && e.key !== "PageUp") return;
    const cards = [...e.currentTarget.querySelectorAll<HTMLElement>("article")];
    const at = cards.findIndex((c) => c.contains(document.activeElement));
    const next = cards[e.key === "PageDown" ? at + 1 : Math.max(0, at - 1)];
    if (next) {
      e.preventDefault();
      next.focus();
    }
  };

  const filtered = hasFilters(filters);
  return (
    <section className="feed-page" aria-labelledby="feed-heading">
      <h1 id="feed-heading" ref={headingRef} tabIndex={-1}>
        Alerts
      </h1>
      <Filters filters={filters} isAdmin={privileged} onChange={onFilter} onClear={clearFilters} />
      <div aria-live="polite" className="visually-hidden">
        {announcements.map((a) => (
          <p key={a.key}>{a.text}</p>
        ))}
      </div>
      {newCount > 0 && (
        <button type="button" className="new-alerts" onClick={showNew}>
          {newCount} new {newCount === 1 ? "alert" : "alerts"}
        </button>
      )}
      <div className="feed-tools">
        <label className="check">
          <input
            ref={selectAllRef}
            type="checkbox"
            checked={allSelected}
            disabled={!shown.length}
            onChange={(e) => setSelected(e.currentTarget.checked ? new Set(shown.map((v) => v.alert.id)) : new Set())}
          />
          Select all visible
        </label>
        {selectedAlerts.length > 0 && (
          <BulkBar
            selected={selectedAlerts}
            assignMode={mode}
            busy={bulkBusy}
            onAcknowledge={() => void runBulk((ids) => ({ action: "acknowledge", ids }), { status: "ACKNOWLEDGED" })}
            onDismiss={() => void runBulk((ids) => ({ action: "dismiss", ids }), { status: "DISMISSED" })}
            onAssign={() => (mode === "take" ? void bulkAssign(me.sub) : setDialog({ kind: "assign", alerts: selectedAlerts, bulk: true }))}
            onClear={() => setSelected(new Set())}
          />
        )}
        <p role="status" aria-label="Bulk results" className="bulk-results">
          {bulkSummary}
        </p>
      </div>
      {error && (
        <div role="alert" className="feed-error">
          {error.message}{" "}
          <button type="button" onClick={() => void refetch()}>
            Retry
          </button>
        </div>
      )}
      <div ref={feedRef} role="feed" aria-label="Alert feed" aria-busy={loading || loadingMore} className="feed" onKeyDown={onFeedKey}>
        {shown.map(({ alert, pending }, i) => (
          <AlertCard
            key={alert.id}
            alert={alert}
            me={me}
            assignment={assignments.get(alert.id)}
            pending={pending}
            error={actions.errors.get(alert.id)}
            selected={selected.has(alert.id)}
            position={i + 1}
            setSize={hasMore ? -1 : shown.length}
            onSelect={select}
            onStatus={onStatus}
            onAssign={onAssign}
            onConvert={onConvert}
            onDetails={openDetail}
          />
        ))}
      </div>
      {!loading && !shown.length && !error && <p className="feed-empty">{filtered ? "No alerts match these filters." : "No alerts yet."}</p>}
      <div ref={sentinel} className="feed-sentinel" aria-hidden="true" />
      {hasMore && !loading && (
        <button type="button" className="load-more" disabled={loadingMore} onClick={() => void loadMoreByButton()}>
          {loadingMore ? "Loading…" : "Load more"}
        </button>
      )}
      {loading && <p className="feed-loading">Loading alerts…</p>}

      {dialog?.kind === "assign" && (
        <AssignDialog
          what={dialog.bulk ? `${dialog.alerts.length} selected ${dialog.alerts.length === 1 ? "alert" : "alerts"}` : `“${dialog.alerts[0]!.title}”`}
          withNote={!dialog.bulk}
          current={dialog.bulk ? undefined : dialog.alerts[0]!.assigneeId}
          onClose={() => setDialog(null)}
          fallbackFocus={dialog.bulk ? () => selectAllRef.current : cardFocus(dialog.alerts[0]!.id)}
          onSubmit={(agentId, note) => {
            setDialog(null);
            if (dialog.bulk) void bulkAssign(agentId);
            else assign(dialog.alerts[0]!, agentId, note);
          }}
        />
      )}
      {dialog?.kind === "convert" && (
        <ConvertDialog
          title={dialog.alert.title}
          onClose={() => setDialog(null)}
          fallbackFocus={cardFocus(dialog.alert.id)}
          onSubmit={(c) => {
            setDialog(null);
            convert(dialog.alert, c);
          }}
        />
      )}
      {detailId && (
        <AlertDetail
          key={detailId}
          alertId={detailId}
          fromList={shown.find((v) => v.alert.id === detailId)?.alert}
          onClose={closeDetail}
          fallbackFocus={cardFocus(detailId)}
        />
      )}
    </section>
  );
}
