import { useState, type FormEvent, type ReactNode } from "react";
import { fetchTokenFromUrl, looksLikeJwt, mintDevToken, type Session } from "./session";

type Form = "token" | "url" | "dev";

/** Props of `SignIn`. */
export interface SignInProps {
  /** Why the last session ended (the API's message), shown until the next attempt. */
  notice?: string;
  /** The token URL used last, prefilled. */
  lastTokenUrl?: string;
  onSignIn: (session: Session) => void;
}

/** The signed-out page: paste a token, use a token URL, or (development builds) mint a dev token. */
export function SignIn({ notice, lastTokenUrl, onSignIn }: SignInProps) {
  const [error, setError] = useState<{ form: Form; message: string } | undefined>();
  const [busy, setBusy] = useState<Form | undefined>();
  const [token, setToken] = useState("");
  const [tokenUrl, setTokenUrl] = useState(lastTokenUrl ?? "");

  const attempt = async (form: Form, run: () => Promise<Session>) => {
    setError(undefined);
    setBusy(form);
    try {
      onSignIn(await run());
    } catch (err) {
      setError({ form, message: err instanceof Error ? err.message : String(err) });
      setBusy(undefined);
    }
  };

  const submitToken = (event: FormEvent) => {
    event.preventDefault();
    void attempt("token", async () => {
      const value = token.trim().replace(/^Bearer\s+/i, "");
      if (!looksLikeJwt(value)) throw new Error("That is not a token: a Herald token is a JWT, three parts separated by dots.");
      return { kind: "token", token: value };
    });
  };

  const submitUrl = (event: FormEvent) => {
    event.preventDefault();
    void attempt("url", async () => {
      let url: URL;
      try {
        url = new URL(tokenUrl.trim(), location.href);
      } catch {
        throw new Error("Enter the token URL as https://… or a path on this site.");
      }
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("The token URL must be an http(s) address.");
      return { kind: "url", tokenUrl: url.href, token: await fetchTokenFromUrl(url.href) };
    });
  };

  const alert = (form: Form) =>
    error?.form === form ? (
      <p role="alert" className="error">
        {error.message}
      </p>
    ) : null;

  return (
    <main id="main" className="sign-in" tabIndex={-1}>
      <h1>Sign in to Herald</h1>
      {notice && !error ? (
        <p role="alert" className="error">
          {notice}
        </p>
      ) : null}
      <p className="muted">Herald has no accounts of its own: use a token from your application.</p>

      <form className="card stack" onSubmit={submitToken} aria-labelledby="sign-in-token">
        <h2 id="sign-in-token">Paste a token</h2>
        <label htmlFor="token">Token</label>
        <textarea
          id="token"
          name="token"
          rows={3}
          required
          spellCheck={false}
          autoComplete="off"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
        />
        {alert("token")}
        <button className="primary" type="submit" disabled={busy === "token"}>
          Sign in
        </button>
      </form>

      <form className="card stack" onSubmit={submitUrl} aria-labelledby="sign-in-url">
        <h2 id="sign-in-url">Use your application's token URL</h2>
        <label htmlFor="token-url">Token URL</label>
        <input
          id="token-url"
          name="tokenUrl"
          type="text"
          inputMode="url"
          required
          placeholder="https://app.example.com/herald-token"
          aria-describedby="token-url-help"
          value={tokenUrl}
          onInput={(e) => setTokenUrl(e.currentTarget.value)}
        />
        <p id="token-url-help" className="hint">
          An address of your application that returns a Herald token for the signed-in user (JSON {"{"}"token": "…"{"}"} or text). It is
          called with your cookies, again whenever a new token is needed, and remembered on this device.
        </p>
        {alert("url")}
        <button className="primary" type="submit" disabled={busy === "url"}>
          Use token URL
        </button>
      </form>

      {__HERALD_DEV_TOKEN__ ? <DevTokenForm busy={busy === "dev"} alert={alert("dev")} onSubmit={(run) => void attempt("dev", run)} /> : null}
    </main>
  );
}

/** The development build's sign-in: a token for any user, org and role from `POST /api/dev/token`. */
function DevTokenForm({ busy, alert, onSubmit }: { busy: boolean; alert: ReactNode; onSubmit: (run: () => Promise<Session>) => void }) {
  const [sub, setSub] = useState("dev-admin");
  const [org, setOrg] = useState("dev-org");
  const [role, setRole] = useState("admin");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit(async () => {
      const request = { sub: sub.trim(), org: org.trim(), role };
      const { token } = await mintDevToken(request);
      return { kind: "dev", token, request };
    });
  };
  return (
    <form className="card stack dev" onSubmit={submit} aria-labelledby="sign-in-dev">
      <h2 id="sign-in-dev">Dev token</h2>
      <p className="hint">Development server only: signs a token for any user.</p>
      <div className="fields">
        <div className="field">
          <label htmlFor="dev-sub">User id</label>
          <input id="dev-sub" required value={sub} onInput={(e) => setSub(e.currentTarget.value)} />
        </div>
        <div className="field">
          <label htmlFor="dev-org">Organization</label>
          <input id="dev-org" required value={org} onInput={(e) => setOrg(e.currentTarget.value)} />
        </div>
        <div className="field">
          <label htmlFor="dev-role">Role</label>
          <select id="dev-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            <option value="admin">admin</option>
            <option value="agent">agent</option>
            <option value="member">member</option>
          </select>
        </div>
      </div>
      {alert}
      <button className="primary" type="submit" disabled={busy}>
        Get a dev token
      </button>
    </form>
  );
}
