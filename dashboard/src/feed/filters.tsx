import { useEffect, useRef, useState, type ReactNode } from "react";
import type { AlertStatus, Priority } from "@herald/sdk";
import { useAgents } from "./directory";
import { PRIORITY_ICON, PRIORITY_LABEL, PRIORITY_ORDER, STATUS_LABEL, STATUS_ORDER } from "./format";
import { filterProblems, hasFilters, type UrlFilters } from "./url-filters";

/** How a filter change goes into the URL: typing replaces the history entry, a click adds one. */
export type FilterChange = (patch: Partial<UrlFilters>, options?: { replace?: boolean }) => void;

/** Props of `Filters`. */
export interface FiltersProps {
  filters: UrlFilters;
  /** Admins pick an assignee from the directory. */
  isAdmin: boolean;
  onChange: FilterChange;
  onClear: () => void;
}

const DEBOUNCE_MS = 300;

/** A text-like field whose value reaches the URL after the user pauses typing (and follows the URL on back/forward). */
function useDebounced(value: string, commit: (v: string) => void): [string, (v: string) => void, () => void] {
  const [local, setLocal] = useState(value);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const latest = useRef(commit);
  latest.current = commit;
  useEffect(() => setLocal(value), [value]);
  useEffect(() => () => clearTimeout(timer.current), []);
  return [
    local,
    (v: string) => {
      setLocal(v);
      clearTimeout(timer.current);
      timer.current = setTimeout(() => latest.current(v), DEBOUNCE_MS);
    },
    () => {
      clearTimeout(timer.current);
      setLocal("");
    },
  ];
}

function CheckGroup<T extends string>(props: {
  legend: string;
  values: readonly T[];
  checked: T[];
  label: (v: T) => ReactNode;
  onChange: (next: T[]) => void;
}) {
  return (
    <fieldset className="filter-group">
      <legend>{props.legend}</legend>
      {props.values.map((v) => (
        <label key={v} className="check">
          <input
            type="checkbox"
            checked={props.checked.includes(v)}
            onChange={(e) => props.onChange(e.currentTarget.checked ? props.values.filter((x) => x === v || props.checked.includes(x)) : props.checked.filter((x) => x !== v))}
          />
          {props.label(v)}
        </label>
      ))}
    </fieldset>
  );
}

/** The feed's filters (a `search` landmark named "Filters"), each one a URL query parameter. */
export function Filters({ filters, isAdmin, onChange, onClear }: FiltersProps) {
  const [type, setType, resetType] = useDebounced(filters.type, (v) => onChange({ type: v }, { replace: true }));
  const [assignee, setAssignee, resetAssignee] = useDebounced(filters.assignee, (v) => onChange({ assignee: v }, { replace: true }));
  const [confidence, setConfidence, resetConfidence] = useDebounced(filters.minConfidence, (v) => onChange({ minConfidence: v }, { replace: true }));
  const [q, setQ, resetQ] = useDebounced(filters.q, (v) => onChange({ q: v }, { replace: true }));
  // The directory is read when the assignee field is first used, not on every page load.
  const [wantAgents, setWantAgents] = useState(false);
  const { agents } = useAgents({ enabled: isAdmin && wantAgents });
  const problems = filterProblems({ ...filters, minConfidence: confidence });
  // On a phone the filters below the search fold away behind a toggle (CSS shows them always on wider screens).
  const [open, setOpen] = useState(false);
  const active = filters.priority.length + filters.status.length + [filters.type, filters.assignee, filters.since, filters.until, filters.minConfidence].filter(Boolean).length;
  return (
    <form role="search" aria-label="Filters" className={`filters${open ? " is-open" : ""}`} onSubmit={(e) => e.preventDefault()}>
      <div className="filters-top">
        <label className="field field-search">
          <span>Search</span>
          <input type="search" placeholder="Title or subject" maxLength={200} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
        <button type="button" className="filters-toggle" aria-expanded={open} aria-controls="feed-filters-more" onClick={() => setOpen(!open)}>
          {open ? "Fewer filters" : `More filters${active ? ` (${active})` : ""}`}
        </button>
      </div>
      <div className="filters-more" id="feed-filters-more">
      <CheckGroup<Priority>
        legend="Priority"
        values={PRIORITY_ORDER}
        checked={filters.priority}
        label={(p) => (
          <>
            <span aria-hidden="true" className={`prio-icon prio-${p.toLowerCase()}`}>
              {PRIORITY_ICON[p]}
            </span>{" "}
            {PRIORITY_LABEL[p]}
          </>
        )}
        onChange={(priority) => onChange({ priority })}
      />
      <CheckGroup<AlertStatus> legend="Status" values={STATUS_ORDER} checked={filters.status} label={(s) => STATUS_LABEL[s]} onChange={(status) => onChange({ status })} />
      <div className="filter-fields">
        <label className="field">
          <span>Type</span>
          <input value={type} maxLength={64} onInput={(e) => setType(e.currentTarget.value)} />
        </label>
        {isAdmin && (
          <label className="field">
            <span>Assignee</span>
            <input list="feed-assignees" placeholder="Anyone" value={assignee} onFocus={() => setWantAgents(true)} onInput={(e) => setAssignee(e.currentTarget.value)} />
            <datalist id="feed-assignees">
              {agents?.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </datalist>
          </label>
        )}
        <DateField label="From" value={filters.since} problem={problems.since} onChange={(since) => onChange({ since }, { replace: true })} />
        <DateField label="To" value={filters.until} problem={problems.until} onChange={(until) => onChange({ until }, { replace: true })} />
        <label className="field">
          <span>Minimum confidence</span>
          <input
            type="number"
            min={0}
            max={1}
            step={0.05}
            inputMode="decimal"
            value={confidence}
            aria-invalid={problems.minConfidence ? "true" : undefined}
            aria-describedby={problems.minConfidence ? "filter-confidence-problem" : undefined}
            onInput={(e) => setConfidence(e.currentTarget.value)}
          />
          {problems.minConfidence && (
            <small id="filter-confidence-problem" className="field-problem">
              {problems.minConfidence}
            </small>
          )}
        </label>
      </div>
      </div>
      <button
        type="button"
        className="filters-clear"
        disabled={!hasFilters(filters) && !q && !type && !assignee && !confidence}
        onClick={() => {
          for (const reset of [resetType, resetAssignee, resetConfidence, resetQ]) reset();
          onClear();
        }}
      >
        Clear filters
      </button>
    </form>
  );
}

function DateField({ label, value, problem, onChange }: { label: string; value: string; problem?: string; onChange: (v: string) => void }) {
  const problemId = `filter-${label.toLowerCase()}-problem`;
  return (
    <label className="field">
      <span>{label}</span>
      <input
        type="date"
        value={value}
        aria-invalid={problem ? "true" : undefined}
        aria-describedby={problem ? problemId : undefined}
        onChange={(e) => onChange(e.currentTarget.value)}
      />
      {problem && (
        <small id={problemId} className="field-problem">
          {problem}
        </small>
      )}
    </label>
  );
}
