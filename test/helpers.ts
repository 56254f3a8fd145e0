import { env, exports } from "cloudflare:workers";
import { SignJWT } from "jose";
import type { Role } from "../src/types";

export const BASE = "https://herald.test";
const secret = () => new TextEncoder().encode(env.JWT_SECRET!);

export interface TokenOptions {
  sub?: string;
  org?: string;
  role?: Role;
  email?: string;
  name?: string;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  issuer?: string;
  audience?: string;
  secret?: Uint8Array;
  extra?: Record<string, unknown>;
}

/** Signs an HS256 token with the test secret. */
export async function makeToken(o: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({
    org: o.org ?? "acme",
    role: o.role ?? "admin",
    ...(o.email && { email: o.email }),
    ...(o.name && { name: o.name }),
    ...o.extra,
  })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(o.sub ?? "u1")
    .setIssuedAt(now)
    .setExpirationTime(now + (o.expiresIn ?? 3600));
  if (o.issuer) jwt.setIssuer(o.issuer);
  if (o.audience) jwt.setAudience(o.audience);
  return jwt.sign(o.secret ?? secret());
}

/** A unique organization id, so tests in one file never see each other's rows. */
export function uniqueOrg(prefix = "org"): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  rawBody?: BodyInit;
  headers?: Record<string, string>;
}

/** Calls the Worker's fetch handler like a client would. */
export async function call(method: string, path: string, o: CallOptions = {}) {
  const headers = new Headers(o.headers);
  if (o.token) headers.set("Authorization", `Bearer ${o.token}`);
  let body: BodyInit | undefined = o.rawBody;
  if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  }
  const res = await exports.default.fetch(new Request(`${BASE}${path}`, { method, headers, body }));
  const text = await res.text();
  let json: any = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** An org (`org`, or a new unique one) with an admin, a service, two agents and a member, each with a token. */
export async function setupOrg(org = uniqueOrg()) {
  const tokens = {
    admin: await makeToken({ org, sub: "admin1", role: "admin", email: "admin1@example.com", name: "Ada Admin" }),
    service: await makeToken({ org, sub: "scorer", role: "service" }),
    agent: await makeToken({ org, sub: "agent1", role: "agent", email: "agent1@example.com" }),
    agent2: await makeToken({ org, sub: "agent2", role: "agent" }),
    member: await makeToken({ org, sub: "member1", role: "member" }),
  };
  for (const [id, role] of [
    ["agent1", "agent"],
    ["agent2", "agent"],
    ["member1", "member"],
  ] as const) {
    const res = await call("PUT", `/api/v1/users/${id}`, { token: tokens.admin, body: { role } });
    if (res.status !== 200 && res.status !== 201) throw new Error(`setup: PUT user ${id} → ${res.status} ${res.text}`);
  }
  return { org, tokens };
}

/** A valid alert body; override fields per test. */
export function alertBody(overrides: Record<string, unknown> = {}) {
  return {
    alertType: "LIKELY_TO_SELL",
    priority: "HIGH",
    confidence: 0.87,
    title: "Jane Doe is likely to sell",
    message: "Score jumped after three signals",
    subject: { id: "lead-42", email: "jane@example.com", name: "Jane Doe" },
    data: { score: 0.87, signals: ["visit", "email_open", "valuation"] },
    modelVersion: "v3.2",
    signalCount: 3,
    ...overrides,
  };
}
