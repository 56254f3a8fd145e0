import type { AlertVolume } from "@herald/sdk";
import { formatCount } from "../lib/format";

/** How a bucket's start reads: "14:00" for hours, "30 Nov" for days. */
function bucketLabel(start: string, bucket: AlertVolume["bucket"]): string {
  const date = new Date(start);
  return bucket === "hour"
    ? date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

/**
 * Alerts per bucket as SVG bars (hand-drawn: a chart library would outweigh
 * the rest of the dashboard), with a text summary for screen readers and the
 * same numbers as a table.
 */
export function VolumeChart({ volume, windowLabel }: { volume: AlertVolume; windowLabel: string }) {
  const items = volume.items;
  const counts = items.map((i) => i.count);
  const total = counts.reduce((a, b) => a + b, 0);
  const max = Math.max(0, ...counts);
  const peakAt = counts.indexOf(max);
  const unit = volume.bucket === "hour" ? "hour" : "day";
  const summary =
    total === 0
      ? `Alert volume, ${windowLabel} by ${unit}: no alerts.`
      : `Alert volume, ${windowLabel} by ${unit}: ${formatCount(total)} alerts; busiest ${unit} ${bucketLabel(items[peakAt]!.start, volume.bucket)} with ${formatCount(max)}.`;
  const scale = Math.max(1, max);
  const width = Math.max(1, items.length) * 10;
  // A handful of axis labels, evenly spaced, so they fit at any width.
  const ticks = items.length ? [0, Math.floor((items.length - 1) / 2), items.length - 1] : [];
  return (
    <>
      <div className="chart">
        <span className="chart-max" aria-hidden="true">
          {formatCount(max)}
        </span>
        <svg role="img" aria-label={summary} viewBox={`0 0 ${width} 100`} preserveAspectRatio="none" className="chart-svg">
          <line x1="0" x2={width} y1="99.5" y2="99.5" className="chart-axis" />
          <line x1="0" x2={width} y1="50" y2="50" className="chart-grid" />
          {items.map((item, i) => {
            const h = (item.count / scale) * 96;
            return (
              <rect key={item.start} x={i * 10 + 1.5} width="7" y={100 - h} height={h} className="chart-bar">
                <title>{`${bucketLabel(item.start, volume.bucket)}: ${item.count}`}</title>
              </rect>
            );
          })}
        </svg>
        <div className="chart-ticks" aria-hidden="true">
          {[...new Set(ticks)].map((i) => (
            <span key={i}>{bucketLabel(items[i]!.start, volume.bucket)}</span>
          ))}
        </div>
      </div>
      <details className="chart-data">
        <summary>Show the numbers</summary>
        <table>
          <caption className="visually-hidden">Alert volume by {unit}</caption>
          <thead>
            <tr>
              <th scope="col">{volume.bucket === "hour" ? "Hour starting" : "Day"}</th>
              <th scope="col" className="num">
                Alerts
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((item) => (
              <tr key={item.start}>
                <th scope="row">
                  <time dateTime={item.start}>{volume.bucket === "hour" ? new Date(item.start).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" }) : bucketLabel(item.start, "day")}</time>
                </th>
                <td className="num">{formatCount(item.count)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </>
  );
}
