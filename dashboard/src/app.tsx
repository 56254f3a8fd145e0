import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { HeraldProvider, useEvent, useHerald } from "@herald/sdk/react";
import type { HeraldError, HeraldOptions } from "@herald/sdk";
import { AdminPage } from "./admin/admin";
import type { Me } from "./feed/actions";
import { Feed } from "./feed/feed";
import { Header } from "./header/header";
import { useLocation } from "./lib/router";
import { clearSession, decodeClaims, loadSession, saveSession, tokenProvider, type Claims, type Session } from "./session";
import { SignIn } from "./sign-in";
import { StatsPage } from "./stats/stats";

/** The dashboard: the sign-in while signed out; else one Herald client for the session and the page picked by the path. */
export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [notice, setNotice] = useState<string>();
  const lastTokenUrl = useRef<string | undefined>(session?.kind === "url" ? session.tokenUrl : undefined);

  const signIn = useCallback((next: Session) => {
    saveSession(next);
    if (next.kind === "url") lastTokenUrl.current = next.tokenUrl;
    setNotice(undefined);
    setSession(next);
  }, []);
  const signOut = useCallback((reason?: string) => {
    clearSession();
    setNotice(reason);
    setSession(null);
  }, []);

  useEffect(() => {
    if (!session) document.title = "Sign in · Herald";
  }, [session]);

  if (!session) return <SignIn notice={notice} lastTokenUrl={lastTokenUrl.current} onSignIn={signIn} />;
  // A new session is a new client (HeraldProvider reads its options once).
  return <SignedIn key={sessionKey(session)} session={session} onSignOut={signOut} />;
}

function sessionKey(session: Session): string {
  return session.kind === "url" ? `url:${session.tokenUrl}` : `${session.kind}:${session.token}`;
}

function SignedIn({ session, onSignOut }: { session: Session; onSignOut: (reason?: string) => void }) {
  const [claims, setClaims] = useState<Claims | null>(() => (session.token ? decodeClaims(session.token) : null));
  const options = useMemo<HeraldOptions>(
    () => ({
      url: location.origin,
      token: tokenProvider(session, (token) => {
        const next = decodeClaims(token);
        setClaims((old) => (old && next && old.sub === next.sub && old.role === next.role && old.name === next.name ? old : next));
      }),
    }),
    [session],
  );
  return (
    <HeraldProvider options={options} fallback={<Loading />}>
      <Shell claims={claims} onSignOut={onSignOut} />
    </HeraldProvider>
  );
}

function Loading() {
  return (
    <main id="main" className="page">
      <p className="muted">Connecting…</p>
    </main>
  );
}

const TITLES: Record<string, string> = { "/": "Alerts", "/stats": "Statistics", "/admin": "Admin" };

function Shell({ claims, onSignOut }: { claims: Claims | null; onSignOut: (reason?: string) => void }) {
  const { path } = useLocation();
  // The role decides which views to show, never what the user may do: the server checks every request.
  const isAdmin = claims?.role === "admin" || claims?.role === "service";
  useSessionGuard(onSignOut);
  const me = useMemo(() => (claims ? toMe(claims) : null), [claims]);

  const main = useRef<HTMLElement>(null);
  const firstPath = useRef(path);
  useEffect(() => {
    document.title = `${TITLES[path] ?? "Not found"} · Herald`;
    // After an in-app navigation, start reading at the new page, as a page load would.
    if (path !== firstPath.current) {
      firstPath.current = "";
      main.current?.focus();
    }
  }, [path]);

  let page;
  if (!me) page = <p className="muted">Signing in…</p>;
  else if (path === "/") page = <Feed me={me} />;
  else if (path === "/stats") page = <StatsPage role={claims?.role} />;
  else if (path === "/admin") page = <AdminPage isAdmin={isAdmin} role={claims?.role} />;
  else page = <NotFound path={path} />;

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to main content
      </a>
      <Header path={path} claims={claims} isAdmin={isAdmin} onSignOut={() => onSignOut()} />
      <main id="main" ref={main} className="page" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

const ROLES = ["admin", "agent", "member", "service"] as const;

/** Who the feed acts as (for showing the actions a role has; the server decides what it may do). */
function toMe(claims: Claims): Me {
  const role = ROLES.find((r) => r === claims.role) ?? "member";
  return { sub: claims.sub, org: claims.org ?? "", role };
}

function NotFound({ path }: { path: string }) {
  return (
    <>
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <a href="/">Go to the alerts</a>.
      </p>
    </>
  );
}

/** Status codes meaning the server refused the credentials (HTTP 401, a socket refused with 4401, a fixed token that expired on an open socket). */
const REFUSED = new Set([401, 4401, 4001]);

/**
 * Back to the sign-in, with the API's message, when the server refuses the
 * session's token: checked once at start (a pasted token the server rejects)
 * and whenever the SDK gives up on its token later (it expired and cannot be
 * renewed, or the token URL stopped issuing tokens).
 */
function useSessionGuard(onSignOut: (reason?: string) => void): void {
  const herald = useHerald();
  const refused = (err: HeraldError) => {
    if (REFUSED.has(err.status ?? 0) || (err.code === "TOKEN_URL" && (err.status === 401 || err.status === 403))) {
      onSignOut(`Signed out: ${err.message}`);
      return true;
    }
    return false;
  };
  useEvent("error", (err: HeraldError) => void refused(err));
  useEffect(() => {
    herald.api.notifications.counts().catch((err: HeraldError) => refused(err));
    // Once per client: later refusals arrive as the SDK's error events.
  }, [herald]);
}
