import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { useEvent, useHerald } from "@herald/sdk/react";
import type { AlertStats, AlertVolume } from "@herald/sdk";
import { errorMessage, formatCount, formatDuration, formatEnum, formatPercent } from "../lib/format";
import { setQuery, useLocation } from "../lib/router";
import { useSubscriptionReady } from "../lib/subscription";
import { useCoalesced } from "../lib/timing";
import { VolumeChart } from "./volume-chart";

const WINDOWS = {
  "24h": { label: "last 24 hours", option: "Last 24 hours, by hour", ms: 24 * 3600_000, bucket: "hour" },
  "30d": { label: "last 30 days", option: "Last 30 days, by day", ms: 30 * 86400_000, bucket: "day" },
} as const;
type WindowKey = keyof typeof WINDOWS;

const PRIORITY_ORDER = ["CRITICAL", "HIGH", "MEDIUM", "LOW"];
const STATUS_ORDER = ["PENDING", "ACKNOWLEDGED", "IN_PROGRESS", "RESOLVED", "DISMISSED", "CONVERTED"];

/**
 * Statistics over a window (the last 24 hours by default, or 30 days: `?window=30d`).
 * Kept live: admins follow the org's `stats` channel (`stats:updated`, coalesced by the
 * server); other roles, whose statistics cover only the alerts they may see,
 * refetch when one of their alerts changes. Either way a burst costs one
 * refetch a second.
 */
export function StatsPage({ role }: { role: string | undefined }) {
  const herald = useHerald();
  const { search } = useLocation();
  const key: WindowKey = search.get("window") === "30d" ? "30d" : "24h";
  const win = WINDOWS[key];
  const [stats, setStats] = useState<AlertStats>();
  const [volume, setVolume] = useState<AlertVolume>();
  const [error, setError] = useState<string>();
  const [volumeError, setVolumeError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);

  const load = useCallback(
    async (what: { stats: boolean; volume: boolean }) => {
      const mine = ++generation.current;
      const since = new Date(Date.now() - win.ms).toISOString();
      const [s, v] = await Promise.allSettled([
        what.stats ? herald.api.alerts.stats({ since }) : Promise.resolve(undefined),
        what.volume ? herald.api.alerts.volume({ since, bucket: win.bucket }) : Promise.resolve(undefined),
      ]);
      if (mine !== generation.current) return;
      if (s.status === "rejected") setError(errorMessage(s.reason));
      else if (s.value) {
        setStats(s.value);
        setError(undefined);
      }
      if (v.status === "rejected") setVolumeError(errorMessage(v.reason));
      else if (v.value) {
        setVolume(v.value);
        setVolumeError(undefined);
      }
      setLoading(false);
    },
    [herald, win],
  );

  useEffect(() => {
    setLoading(true);
    void load({ stats: true, volume: true });
  }, [load]);

  const refetchAll = useCoalesced(() => void load({ stats: true, volume: true }), 1000);
  const refetchVolume = useCoalesced(() => void load({ stats: false, volume: true }), 1000);

  const admin = role === "admin" || role === "service";
  const refused = useSubscriptionReady(admin ? "stats" : undefined, refetchAll);
  const live = admin && !refused;
  useEvent("stats:updated", (data: AlertStats) => {
    // The event's figures cover the last 24 hours: use them as they are for that window.
    if (key === "24h") {
      setStats(data);
      refetchVolume();
    } else refetchAll();
  });
  const onAlertChange = () => {
    if (!live) refetchAll();
  };
  useEvent("alert:new", onAlertChange);
  useEvent("alert:updated", onAlertChange);
  useEvent("alert:assigned", onAlertChange);
  useEvent("alert:converted", onAlertChange);
  useEvent("resync", refetchAll);

  return (
    <div className="stats-page stack">
      <div className="page-head">
        <h1>Statistics</h1>
        <div className="field inline">
          <label htmlFor="stats-window">Window</label>
          <select id="stats-window" value={key} onChange={(e) => setQuery({ window: e.currentTarget.value === "30d" ? "30d" : undefined })}>
            {(Object.keys(WINDOWS) as WindowKey[]).map((k) => (
              <option key={k} value={k}>
                {WINDOWS[k].option}
              </option>
            ))}
          </select>
        </div>
      </div>
      <p className="muted">
        Alerts created in the {win.label}
        {admin ? " across the organization" : " that you can see"}, updated as they change.
      </p>
      {error ? (
        <p role="alert" className="error">
          {error}
        </p>
      ) : null}
      <div aria-busy={loading} className="stack">
        {stats ? <Figures stats={stats} /> : loading ? <p className="muted">Loading…</p> : null}
        <figure className="card volume" aria-labelledby="volume-title">
          <figcaption id="volume-title">
            <h2>Alert volume</h2>
          </figcaption>
          {volume ? <VolumeChart volume={volume} windowLabel={win.label} /> : null}
          {volumeError ? <p className="error">The volume could not be loaded: {volumeError}</p> : null}
        </figure>
        {stats ? (
          <div className="tables">
            <Breakdown title="By priority" label="Priority" counts={stats.byPriority} order={PRIORITY_ORDER} total={stats.total} />
            <Breakdown title="By status" label="Status" counts={stats.byStatus} order={STATUS_ORDER} total={stats.total} />
            <Breakdown title="By type" label="Type" counts={stats.byType} total={stats.total} raw />
          </div>
        ) : null}
      </div>
    </div>
  );
}

function Figures({ stats }: { stats: AlertStats }) {
  const avg = stats.avgTimeToAcknowledgeMs;
  return (
    <div className="figures">
      <Figure stat="total" caption="Alerts" value={stats.total}>
        {formatCount(stats.total)}
      </Figure>
      <Figure stat="acknowledged" caption="Acknowledged" value={stats.acknowledged}>
        {formatCount(stats.acknowledged)}
      </Figure>
      <Figure stat="converted" caption="Converted" value={stats.converted}>
        {formatCount(stats.converted)}
      </Figure>
      <Figure stat="conversionRate" caption="Conversion rate" value={stats.conversionRate}>
        {formatPercent(stats.conversionRate)}
      </Figure>
      <Figure stat="avgTimeToAcknowledge" caption="Average time to acknowledge" value={avg ?? ""}>
        {avg === null ? <span className="stat-none">None acknowledged yet</span> : formatDuration(avg)}
      </Figure>
      {stats.conversionValueTotal ? (
        <Figure stat="conversionValueTotal" caption="Conversion value" value={stats.conversionValueTotal}>
          {formatCount(stats.conversionValueTotal)}
        </Figure>
      ) : null}
    </div>
  );
}

function Figure({ stat, caption, value, children }: { stat: string; caption: string; value: number | string; children: ReactNode }) {
  return (
    <figure className="card stat" data-stat={stat} data-value={value}>
      <figcaption>{caption}</figcaption>
      <p className="stat-value">{children}</p>
    </figure>
  );
}

/** A table of counts by one dimension, with each count's share of the total. */
function Breakdown(props: { title: string; label: string; counts: Record<string, number>; order?: string[]; total: number; raw?: boolean }) {
  const { title, label, counts, order, total, raw } = props;
  const keys = order ? [...order, ...Object.keys(counts).filter((k) => !order.includes(k))] : Object.keys(counts).sort((a, b) => counts[b]! - counts[a]! || a.localeCompare(b));
  return (
    <div className="card">
      <table className="breakdown">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">{label}</th>
            <th scope="col" className="num">
              Alerts
            </th>
            <th scope="col" className="num">
              Share
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.length === 0 ? (
            <tr>
              <td colSpan={3} className="muted">
                No alerts
              </td>
            </tr>
          ) : (
            keys.map((k) => (
              <tr key={k} data-key={k}>
                <th scope="row">{raw ? k : formatEnum(k)}</th>
                <td className="num">{formatCount(counts[k] ?? 0)}</td>
                <td className="num">{formatPercent(total ? (counts[k] ?? 0) / total : 0)}</td>
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}
