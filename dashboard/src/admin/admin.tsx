import { useCallback, useEffect, useState } from "react";
import { useEvent, useHerald } from "@herald/sdk/react";
import type { EventMap, Herald, User } from "@herald/sdk";
import { errorMessage, formatCount, formatDateTime, formatRelative } from "../lib/format";
import { useSubscriptionReady } from "../lib/subscription";
import { useCoalesced, useVisibleInterval } from "../lib/timing";

type RealtimeStats = Awaited<ReturnType<Herald["api"]["realtime"]["stats"]>>;

/** One row of "Who is online". */
interface Person {
  userId: string;
  online: boolean;
  connections: number;
  lastSeenAt: string | null;
}

/** The admin page: who is online (presence, live) and the org's connections. Others get a notice. */
export function AdminPage({ isAdmin, role }: { isAdmin: boolean; role: string | undefined }) {
  if (!isAdmin) {
    return (
      <div className="stack">
        <h1>Admin</h1>
        <p className="notice">
          This page is for administrators{role ? `; you are signed in as ${role === "agent" ? "an agent" : `a ${role}`}` : ""}.
        </p>
      </div>
    );
  }
  return <AdminView />;
}

function AdminView() {
  const herald = useHerald();
  const [people, setPeople] = useState<Map<string, Person>>(new Map());
  const [names, setNames] = useState<Map<string, User>>(new Map());
  const [stats, setStats] = useState<RealtimeStats>();
  const [error, setError] = useState<string>();
  const [statsError, setStatsError] = useState<string>();
  const [loaded, setLoaded] = useState(false);

  const loadPresence = useCallback(async () => {
    try {
      const { items } = await herald.api.realtime.presence();
      setPeople(new Map(items.map((p) => [p.userId, p])));
      setError(undefined);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setLoaded(true);
    }
  }, [herald]);

  const loadStats = useCallback(async () => {
    try {
      setStats(await herald.api.realtime.stats());
      setStatsError(undefined);
    } catch (err) {
      setStatsError(errorMessage(err));
    }
  }, [herald]);

  useEffect(() => {
    void loadPresence();
    void loadStats();
    // Names from the directory: a nicety, so a failure leaves the ids showing.
    void (async () => {
      const found = new Map<string, User>();
      let cursor: string | undefined;
      try {
        for (let page = 0; page < 10; page++) {
          const { items, nextCursor } = await herald.api.users.list({ limit: 100, ...(cursor && { cursor }) });
          for (const user of items) found.set(user.id, user);
          if (!nextCursor) break;
          cursor = nextCursor;
        }
      } catch {
        // Keep what was found.
      }
      setNames(found);
    })();
  }, [herald, loadPresence, loadStats]);

  useVisibleInterval(() => void loadStats(), 10_000);
  const refreshStats = useCoalesced(() => void loadStats(), 1000);

  const refused = useSubscriptionReady("presence", () => {
    void loadPresence();
    void loadStats();
  });
  const onPresence = (data: EventMap["presence:online"]) => {
    setPeople((old) => new Map(old).set(data.userId, { ...data }));
    refreshStats();
  };
  useEvent("presence:online", onPresence);
  useEvent("presence:offline", onPresence);
  useEvent("resync", () => void loadPresence());

  const list = [...people.values()].sort(
    (a, b) => Number(b.online) - Number(a.online) || displayName(a.userId, names).localeCompare(displayName(b.userId, names)),
  );
  const onlineCount = list.filter((p) => p.online).length;

  return (
    <div className="stack admin-page">
      <h1>Admin</h1>
      <div className="figures">
        <figure className="card stat" data-stat="connections" data-value={stats?.connections.total ?? ""}>
          <figcaption>Open connections</figcaption>
          <p className="stat-value">{stats ? formatCount(stats.connections.total) : "…"}</p>
          {stats ? (
            <p className="muted small-text">
              {formatCount(stats.connections.user)} user, {formatCount(stats.connections.org)} org
            </p>
          ) : null}
        </figure>
        <figure className="card stat" data-stat="onlineUsers" data-value={onlineCount}>
          <figcaption>People online</figcaption>
          <p className="stat-value">{formatCount(onlineCount)}</p>
        </figure>
      </div>
      {statsError ? (
        <p role="alert" className="error">
          Connections: {statsError}
        </p>
      ) : null}
      {refused ? (
        <p role="alert" className="error">
          Live presence is unavailable: {refused.message}
        </p>
      ) : null}
      {error ? (
        <p role="alert" className="error">
          {error}
        </p>
      ) : null}

      <section className="card" aria-labelledby="who-title">
        <h2 id="who-title">Who is online</h2>
        {loaded && list.length === 0 ? <p className="muted">Nobody has connected yet.</p> : null}
        <ul className="people" aria-labelledby="who-title">
          {list.map((p) => {
            const user = names.get(p.userId);
            return (
              <li key={p.userId} data-user-id={p.userId} data-online={p.online ? "true" : "false"} className="person">
                <span className="presence-dot" data-online={p.online ? "true" : "false"} aria-hidden="true" />
                <span className="person-name">
                  {displayName(p.userId, names)}
                  {user?.name && user.email ? <span className="muted"> {user.email}</span> : null}
                  {user?.name ? null : <span className="visually-hidden"> (user id)</span>}
                </span>
                <span className="person-state">
                  {p.online ? (
                    <>
                      <strong>Online</strong>
                      <span className="muted">
                        {" "}
                        · {p.connections} {p.connections === 1 ? "connection" : "connections"}
                      </span>
                    </>
                  ) : (
                    <>
                      Offline
                      {p.lastSeenAt ? (
                        <span className="muted">
                          {" "}
                          · last seen <time dateTime={p.lastSeenAt} title={formatDateTime(p.lastSeenAt)}>{formatRelative(p.lastSeenAt)}</time>
                        </span>
                      ) : null}
                    </>
                  )}
                </span>
                {user ? <span className="role-tag">{user.role}</span> : null}
              </li>
            );
          })}
        </ul>
      </section>
    </div>
  );
}

function displayName(userId: string, names: Map<string, User>): string {
  const user = names.get(userId);
  return user?.name ?? user?.email ?? userId;
}
