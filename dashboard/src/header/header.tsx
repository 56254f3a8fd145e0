import type { Claims } from "../session";
import { onLinkClick } from "../lib/router";
import { Bell } from "./bell";
import { useBrowserNotifications } from "./browser-notify";
import { ConnectionIndicator } from "./connection";

/** Props of `Header`. */
export interface HeaderProps {
  path: string;
  claims: Claims | null;
  isAdmin: boolean;
  onSignOut: () => void;
}

/** The banner: name, main navigation, connection, bell, browser notifications, who is signed in, sign out. */
export function Header({ path, claims, isAdmin, onSignOut }: HeaderProps) {
  const browser = useBrowserNotifications();
  const links = [
    { href: "/", label: "Alerts" },
    { href: "/stats", label: "Statistics" },
    ...(isAdmin ? [{ href: "/admin", label: "Admin" }] : []),
  ];
  const who = claims ? (claims.name ?? claims.email ?? claims.sub) : undefined;
  return (
    <header className="app-header">
      <div className="app-header-row">
        <h1 className="brand">
          <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">
            <path fill="currentColor" d="M4 10v4h3l5 4V6L7 10H4Zm12.5 2a4.5 4.5 0 0 0-2.5-4v8a4.5 4.5 0 0 0 2.5-4ZM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6Z" />
          </svg>
          Herald
        </h1>
        <nav aria-label="Main" className="main-nav">
          <ul>
            {links.map(({ href, label }) => (
              <li key={href}>
                <a href={href} aria-current={path === href ? "page" : undefined} onClick={(e) => onLinkClick(e.nativeEvent, href)}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="app-header-tools">
          <ConnectionIndicator />
          {browser.permission === "default" ? (
            <button type="button" className="small" onClick={() => void browser.request()}>
              Enable browser notifications
            </button>
          ) : null}
          <Bell />
          {who ? (
            <span className="who" title={claims?.org ? `${who} · ${claims.org}` : who}>
              <span className="visually-hidden">Signed in as </span>
              {who}
              {claims?.role ? <span className="role-tag">{claims.role}</span> : null}
            </span>
          ) : null}
          <button type="button" className="small" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </div>
    </header>
  );
}
