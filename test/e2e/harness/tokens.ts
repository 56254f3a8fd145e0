// Tokens as the app's identity provider would issue them: HS256 with the e2e servers' secret.
import { SignJWT } from "jose";
import { TEST_SECRET } from "./server";

export type Role = "admin" | "agent" | "member" | "service";

export interface TokenClaims {
  sub: string;
  org: string;
  role: Role;
  /** Lifetime in seconds (default one hour). */
  ttl?: number;
}

/** A signed JWT for `claims`. */
export function mintToken({ sub, org, role, ttl = 3600 }: TokenClaims): Promise<string> {
  return new SignJWT({ org, role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
    .sign(new TextEncoder().encode(TEST_SECRET));
}

/** A unique id per test run, so users and orgs never collide between tests on one server. */
export function uid(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
