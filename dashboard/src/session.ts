import { HeraldError, type TokenProvider } from "@herald/sdk";

/**
 * The dashboard's session: how it gets Herald tokens. Herald has no login of
 * its own; a token comes from the host application (pasted, or from its
 * token URL) or, in development builds, from `POST /api/dev/token`.
 */

/** What the dashboard reads from a token's payload, for display and for showing role-specific views. */
export interface Claims {
  sub: string;
  org?: string;
  role?: string;
  name?: string;
  email?: string;
  /** Expiry, seconds since the epoch. */
  exp?: number;
}

/** The body of a dev-token request (development builds). */
export interface DevTokenRequest {
  sub: string;
  org: string;
  role: string;
}

/** One way in. */
export type Session =
  | { kind: "token"; token: string }
  /** `token` is the first token, fetched at sign-in (kept in memory only). */
  | { kind: "url"; tokenUrl: string; token?: string }
  | { kind: "dev"; token: string; request: DevTokenRequest };

// Where a session is kept, and why:
// - A token (pasted or dev) is a bearer credential: sessionStorage keeps it for
//   this tab only, survives a reload, and is gone when the tab closes, so a
//   token never outlives the tab it was pasted into.
// - A token URL is no secret (the host app's own cookie authenticates the call
//   to it): localStorage remembers the choice across tabs and restarts, so a new
//   tab signs itself in through the host app.
const TAB_KEY = "herald.session";
const URL_KEY = "herald.tokenUrl";

/** The stored session, if any. */
export function loadSession(): Session | null {
  try {
    const tab = sessionStorage.getItem(TAB_KEY);
    if (tab) {
      const parsed = JSON.parse(tab) as Session;
      const known = parsed.kind === "token" || (parsed.kind === "dev" && __HERALD_DEV_TOKEN__);
      if (known && typeof parsed.token === "string") return parsed;
    }
    const tokenUrl = localStorage.getItem(URL_KEY);
    if (tokenUrl) return { kind: "url", tokenUrl };
  } catch {
    // Storage disabled or a corrupt entry: sign in again.
  }
  return null;
}

/** Stores a session (and forgets any other kind). */
export function saveSession(session: Session): void {
  clearSession();
  try {
    if (session.kind === "url") localStorage.setItem(URL_KEY, session.tokenUrl);
    else sessionStorage.setItem(TAB_KEY, JSON.stringify(session));
  } catch {
    // Storage disabled: the session lasts until a reload.
  }
}

/** Forgets the stored session (sign out). */
export function clearSession(): void {
  try {
    sessionStorage.removeItem(TAB_KEY);
    localStorage.removeItem(URL_KEY);
  } catch {
    // Nothing stored.
  }
}

/**
 * The token's payload, decoded without verifying its signature: for display
 * and for choosing which views to show only. The server verifies every
 * request; nothing here is a security decision.
 */
export function decodeClaims(token: string): Claims | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const payload = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    if (typeof payload.sub !== "string") return null;
    const text = (v: unknown) => (typeof v === "string" ? v : undefined);
    return {
      sub: payload.sub,
      org: text(payload.org),
      role: text(payload.role),
      name: text(payload.name),
      email: text(payload.email),
      exp: typeof payload.exp === "number" ? payload.exp : undefined,
    };
  } catch {
    return null;
  }
}

/** Whether a string has the shape of a JWT (three base64url parts). */
export function looksLikeJwt(token: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token);
}

/**
 * Asks the host app's token URL for a Herald token, with the browser's
 * cookies for that origin. Accepts JSON `{ "token": "…" }` or the token as text.
 * Throws a HeraldError with code `TOKEN_URL` (and the status it answered).
 */
export async function fetchTokenFromUrl(tokenUrl: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(tokenUrl, { credentials: "include", headers: { accept: "application/json, text/plain" } });
  } catch {
    throw new HeraldError("TOKEN_URL", `Could not reach the token URL ${tokenUrl}`);
  }
  if (!res.ok) throw new HeraldError("TOKEN_URL", `The token URL answered ${res.status} ${res.statusText}`.trim(), res.status);
  const text = (await res.text()).trim();
  let token = text;
  if ((res.headers.get("content-type") ?? "").includes("json") || text.startsWith("{")) {
    try {
      const body = JSON.parse(text) as { token?: unknown };
      token = typeof body.token === "string" ? body.token : "";
    } catch {
      token = "";
    }
  }
  if (!looksLikeJwt(token)) throw new HeraldError("TOKEN_URL", 'The token URL did not return a token (JSON {"token": "…"} or the token as text)');
  return token;
}

/** What `POST /api/dev/token` answers. */
export interface DevToken {
  token: string;
  expiresAt: string;
  claims: Record<string, unknown>;
}

/** Mints a development token (`POST /api/dev/token`, development servers only). Call only under `if (__HERALD_DEV_TOKEN__)`. */
export async function mintDevToken(request: DevTokenRequest): Promise<DevToken> {
  const res = await fetch("/api/dev/token", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(request),
  });
  const body = (await res.json().catch(() => null)) as (Partial<DevToken> & { error?: { code?: string; message?: string } }) | null;
  if (!res.ok || typeof body?.token !== "string") {
    const error = body?.error;
    throw new HeraldError(error?.code ?? `HTTP_${res.status}`, error?.message ?? `The dev token endpoint answered ${res.status}`, res.status);
  }
  return body as DevToken;
}

/**
 * The SDK's `token` option for a session. A pasted token is fixed (the SDK
 * stops on its rejection, and the app signs out). A token URL is asked again
 * whenever the SDK needs a new token; a dev session mints a new one once its
 * first token expires. `onToken` hears every token handed to the SDK.
 */
export function tokenProvider(session: Session, onToken: (token: string) => void): TokenProvider {
  if (session.kind === "token") return session.token;
  let first: string | undefined = session.token;
  return async () => {
    let token = first;
    first = undefined;
    if (token === undefined || expiresWithin(token, 30)) {
      if (session.kind === "url") token = await fetchTokenFromUrl(session.tokenUrl);
      else if (__HERALD_DEV_TOKEN__) {
        token = (await mintDevToken(session.request)).token;
        saveSession({ ...session, token });
      } else throw new HeraldError("CONFIG", "Dev tokens exist only in development builds");
    }
    onToken(token);
    return token;
  };
}

function expiresWithin(token: string, seconds: number): boolean {
  const exp = decodeClaims(token)?.exp;
  return exp !== undefined && exp * 1000 - Date.now() < seconds * 1000;
}
