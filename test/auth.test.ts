import { env } from "cloudflare:workers";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { verifyToken } from "../src/auth/verify";
import { getConfig, type Config } from "../src/config";
import { AppError, ErrorCode } from "../src/errors";
import { alertBody, call, makeToken, setupOrg, uniqueOrg } from "./helpers";
import { orgBeside } from "./shard-helpers";

const ALERTS = "/api/v1/alerts";
const secret = () => new TextEncoder().encode(env.JWT_SECRET!);
const now = () => Math.floor(Date.now() / 1000);

const b64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** Asserts a 401 with the given code and the RFC 6750 challenge. */
function expect401(res: Awaited<ReturnType<typeof call>>, code: ErrorCode) {
  expect(res.status, res.text).toBe(401);
  expect(res.json?.error?.code, res.text).toBe(code);
  expect(res.headers.get("WWW-Authenticate") ?? "").toContain('error="invalid_token"');
}

/** Calls GET /api/v1/alerts with a raw Authorization header value. */
const listWithAuthorization = (authorization: string) =>
  call("GET", ALERTS, { headers: { Authorization: authorization } });

/** Asserts that verifyToken rejects with a 401 AppError of the given code. */
async function expectRejected(promise: Promise<unknown>, code: ErrorCode) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "verifyToken should have rejected").toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe(code);
  expect((err as AppError).status).toBe(401);
}

describe("bearer tokens on /api/v1", () => {
  it("asks for a token when no Authorization header is sent", async () => {
    const res = await call("GET", ALERTS);
    expect401(res, ErrorCode.AUTH_REQUIRED);
  });

  it("refuses an Authorization header that is not `Bearer <token>`", async () => {
    expect401(await listWithAuthorization("Basic dXNlcjpwYXNz"), ErrorCode.AUTH_FAILED);
    // Even a valid JWT is refused under another scheme.
    const valid = await makeToken({ org: uniqueOrg() });
    expect401(await listWithAuthorization(`Basic ${valid}`), ErrorCode.AUTH_FAILED);
    expect401(await listWithAuthorization(`Token ${valid}`), ErrorCode.AUTH_FAILED);
    expect401(await listWithAuthorization("Bearer"), ErrorCode.AUTH_FAILED);
    expect401(await listWithAuthorization("Bearer "), ErrorCode.AUTH_FAILED);
  });

  it("refuses tokens that are not JWTs", async () => {
    expect401(await call("GET", ALERTS, { token: "not.a.jwt" }), ErrorCode.AUTH_FAILED);
    expect401(await call("GET", ALERTS, { token: "abc" }), ErrorCode.AUTH_FAILED);
  });

  it("accepts a valid HS256 token", async () => {
    const res = await call("GET", ALERTS, { token: await makeToken({ org: uniqueOrg() }) });
    expect(res.status, res.text).toBe(200);
    expect(res.json.items).toEqual([]);
  });

  it("refuses a token signed with another secret", async () => {
    const token = await makeToken({ org: uniqueOrg(), secret: new TextEncoder().encode("another-secret-another-secret-0123456") });
    expect401(await call("GET", ALERTS, { token }), ErrorCode.AUTH_FAILED);
  });

  it("says TOKEN_EXPIRED for a token that expired two minutes ago", async () => {
    const token = await makeToken({ org: uniqueOrg(), expiresIn: -120 });
    expect401(await call("GET", ALERTS, { token }), ErrorCode.TOKEN_EXPIRED);
  });

  it("still accepts a token that expired 10 s ago (30 s clock tolerance)", async () => {
    const token = await makeToken({ org: uniqueOrg(), expiresIn: -10 });
    const res = await call("GET", ALERTS, { token });
    expect(res.status, res.text).toBe(200);
  });

  it("refuses a token without an expiry", async () => {
    const token = await new SignJWT({ org: uniqueOrg(), role: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("u1")
      .setIssuedAt()
      .sign(secret());
    expect401(await call("GET", ALERTS, { token }), ErrorCode.AUTH_FAILED);
  });

  it("refuses an unsecured `alg: none` token", async () => {
    const header = b64url({ alg: "none", typ: "JWT" });
    const payload = b64url({ sub: "u1", org: uniqueOrg(), role: "admin", iat: now(), exp: now() + 3600 });
    expect401(await call("GET", ALERTS, { token: `${header}.${payload}.` }), ErrorCode.AUTH_FAILED);
  });

  it("refuses an HS512 token even when signed with the right secret", async () => {
    const token = await new SignJWT({ org: uniqueOrg(), role: "admin" })
      .setProtectedHeader({ alg: "HS512" })
      .setSubject("u1")
      .setIssuedAt()
      .setExpirationTime(now() + 3600)
      .sign(secret());
    expect401(await call("GET", ALERTS, { token }), ErrorCode.AUTH_FAILED);
  });

  it("refuses a token without an org claim", async () => {
    const token = await new SignJWT({ role: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("u1")
      .setIssuedAt()
      .setExpirationTime(now() + 3600)
      .sign(secret());
    expect401(await call("GET", ALERTS, { token }), ErrorCode.AUTH_FAILED);
  });

  it("refuses a token with an unknown role", async () => {
    const token = await makeToken({ org: uniqueOrg(), extra: { role: "superuser" } });
    expect401(await call("GET", ALERTS, { token }), ErrorCode.AUTH_FAILED);
  });

  it("refuses a token whose sub is not a valid id", async () => {
    const token = await makeToken({ org: uniqueOrg(), sub: "jane doe" });
    expect401(await call("GET", ALERTS, { token }), ErrorCode.AUTH_FAILED);
  });
});

describe("issuer and audience (verifyToken)", () => {
  // The test env's config with only the jwt section replaced (the env is fixed per file).
  const config: Config = {
    ...getConfig(env),
    jwt: {
      secret: new TextEncoder().encode(env.JWT_SECRET!),
      jwksCacheSeconds: 600,
      issuer: "https://issuer.test",
      audience: "herald",
      clockToleranceSeconds: 30,
    },
  };

  it("accepts a token with the configured issuer and audience", async () => {
    const org = uniqueOrg();
    const token = await makeToken({ org, sub: "u1", role: "agent", issuer: "https://issuer.test", audience: "herald" });
    const claims = await verifyToken(token, config);
    expect(claims).toMatchObject({ sub: "u1", org, role: "agent" });
  });

  it("refuses a token from another issuer", async () => {
    const token = await makeToken({ org: uniqueOrg(), issuer: "https://evil.test", audience: "herald" });
    await expectRejected(verifyToken(token, config), ErrorCode.AUTH_FAILED);
  });

  it("refuses a token for another audience", async () => {
    const token = await makeToken({ org: uniqueOrg(), issuer: "https://issuer.test", audience: "someone-else" });
    await expectRejected(verifyToken(token, config), ErrorCode.AUTH_FAILED);
  });

  it("refuses a token without iss/aud when they are configured", async () => {
    const token = await makeToken({ org: uniqueOrg() });
    await expectRejected(verifyToken(token, config), ErrorCode.AUTH_FAILED);
  });
});

describe("JWKS mode (verifyToken)", () => {
  let counter = 0;
  /** A fresh URL per case: the key set is cached per URL per isolate. */
  const freshJwksUrl = () => new URL(`https://jwks.test/${crypto.randomUUID()}-${++counter}/.well-known/jwks.json`);

  /** JWKS only: no secret, so nothing can fall back to HS256. */
  const jwksConfig = (jwksUrl: URL): Config => ({
    ...getConfig(env),
    jwt: { jwksUrl, jwksCacheSeconds: 600, clockToleranceSeconds: 30 },
  });

  /** Serves `keys` as the JWKS at `url` through a spy on global fetch; returns the spy. */
  function serveJwks(url: URL, keys: JWK[]) {
    return vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL) => {
      const href = input instanceof Request ? input.url : String(input);
      if (href === url.href) return Response.json({ keys });
      return new Response("not found", { status: 404 });
    });
  }

  const jwksCalls = (spy: ReturnType<typeof serveJwks>, url: URL) =>
    spy.mock.calls.filter(([input]) => (input instanceof Request ? input.url : String(input)) === url.href).length;

  async function publicJwk(publicKey: CryptoKey, kid: string, alg: string): Promise<JWK> {
    return { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  }

  const sign = (privateKey: CryptoKey | Uint8Array, alg: string, kid: string | undefined, org: string) =>
    new SignJWT({ org, role: "agent", email: "jwks@example.com" })
      .setProtectedHeader(kid === undefined ? { alg } : { alg, kid })
      .setSubject("jwks-user")
      .setIssuedAt()
      .setExpirationTime(now() + 3600)
      .sign(privateKey);

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("accepts an RS256 token from the key set", async () => {
    const url = freshJwksUrl();
    const { publicKey, privateKey } = await generateKeyPair("RS256");
    serveJwks(url, [await publicJwk(publicKey, "rsa-1", "RS256")]);
    const org = uniqueOrg();
    const claims = await verifyToken(await sign(privateKey, "RS256", "rsa-1", org), jwksConfig(url));
    expect(claims).toMatchObject({ sub: "jwks-user", org, role: "agent", email: "jwks@example.com" });
  });

  it("accepts an ES256 token from the key set", async () => {
    const url = freshJwksUrl();
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    serveJwks(url, [await publicJwk(publicKey, "ec-1", "ES256")]);
    const org = uniqueOrg();
    const claims = await verifyToken(await sign(privateKey, "ES256", "ec-1", org), jwksConfig(url));
    expect(claims).toMatchObject({ sub: "jwks-user", org, role: "agent" });
  });

  it("accepts an EdDSA (Ed25519) token from the key set", async () => {
    const url = freshJwksUrl();
    const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    serveJwks(url, [await publicJwk(publicKey, "ed-1", "EdDSA")]);
    const org = uniqueOrg();
    const claims = await verifyToken(await sign(privateKey, "EdDSA", "ed-1", org), jwksConfig(url));
    expect(claims).toMatchObject({ sub: "jwks-user", org, role: "agent" });
  });

  it("refuses an HS256 token signed with the RSA public key as HMAC secret", async () => {
    const url = freshJwksUrl();
    const { publicKey } = await generateKeyPair("RS256");
    const jwk = await publicJwk(publicKey, "rsa-1", "RS256");
    serveJwks(url, [jwk]);
    const hmacKey = new TextEncoder().encode(JSON.stringify(jwk));
    await expectRejected(verifyToken(await sign(hmacKey, "HS256", "rsa-1", uniqueOrg()), jwksConfig(url)), ErrorCode.AUTH_FAILED);
    // Nor does an HS256 token with the ordinary secret pass in JWKS mode.
    await expectRejected(verifyToken(await sign(secret(), "HS256", undefined, uniqueOrg()), jwksConfig(url)), ErrorCode.AUTH_FAILED);
  });

  it("refuses a token signed by another RSA key that claims the same kid", async () => {
    const url = freshJwksUrl();
    const trusted = await generateKeyPair("RS256");
    const attacker = await generateKeyPair("RS256");
    serveJwks(url, [await publicJwk(trusted.publicKey, "rsa-1", "RS256")]);
    await expectRejected(verifyToken(await sign(attacker.privateKey, "RS256", "rsa-1", uniqueOrg()), jwksConfig(url)), ErrorCode.AUTH_FAILED);
  });

  it("refuses an expired token from the key set with TOKEN_EXPIRED", async () => {
    const url = freshJwksUrl();
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    serveJwks(url, [await publicJwk(publicKey, "ec-1", "ES256")]);
    const token = await new SignJWT({ org: uniqueOrg(), role: "agent" })
      .setProtectedHeader({ alg: "ES256", kid: "ec-1" })
      .setSubject("jwks-user")
      .setIssuedAt(now() - 3600)
      .setExpirationTime(now() - 120)
      .sign(privateKey);
    await expectRejected(verifyToken(token, jwksConfig(url)), ErrorCode.TOKEN_EXPIRED);
  });

  it("fetches the key set once and reuses it for the next token", async () => {
    const url = freshJwksUrl();
    const { publicKey, privateKey } = await generateKeyPair("RS256");
    const spy = serveJwks(url, [await publicJwk(publicKey, "rsa-1", "RS256")]);
    const config = jwksConfig(url);
    const org = uniqueOrg();
    await verifyToken(await sign(privateKey, "RS256", "rsa-1", org), config);
    await verifyToken(await sign(privateKey, "RS256", "rsa-1", org), config);
    expect(jwksCalls(spy, url)).toBe(1);
  });
});

describe("organization isolation", () => {
  it("hides org A's alert from a valid token of org B", async () => {
    const a = await setupOrg();
    // On the same shard, so only the org check keeps them apart.
    const b = await setupOrg(await orgBeside(a.org));
    const created = await call("POST", ALERTS, { token: a.tokens.admin, body: alertBody() });
    expect(created.status, created.text).toBe(201);
    const id = created.json.id as string;

    const attempts = [
      await call("GET", `${ALERTS}/${id}`, { token: b.tokens.admin }),
      await call("GET", `${ALERTS}/${id}/history`, { token: b.tokens.admin }),
      await call("PATCH", `${ALERTS}/${id}/status`, { token: b.tokens.admin, body: { status: "ACKNOWLEDGED" } }),
      await call("POST", `${ALERTS}/${id}/assign`, { token: b.tokens.admin, body: { agentId: "agent1" } }),
      await call("POST", `${ALERTS}/${id}/convert`, {
        token: b.tokens.admin,
        body: { conversionValue: 1000, conversionType: "sale" },
      }),
    ];
    for (const res of attempts) {
      expect(res.status, res.text).toBe(404);
      expect(res.json.error.code).toBe(ErrorCode.ALERT_NOT_FOUND);
    }

    const listB = await call("GET", ALERTS, { token: b.tokens.admin });
    expect(listB.status, listB.text).toBe(200);
    expect(listB.json.items).toEqual([]);

    const stillA = await call("GET", `${ALERTS}/${id}`, { token: a.tokens.admin });
    expect(stillA.status, stillA.text).toBe(200);
    expect(stillA.json).toMatchObject({
      id,
      organizationId: a.org,
      status: "PENDING",
      assigneeId: null,
      conversionValue: null,
      conversionType: null,
    });
    const history = await call("GET", `${ALERTS}/${id}/history`, { token: a.tokens.admin });
    expect(history.json.items.map((i: { action: string }) => i.action)).toEqual(["created"]);
  });
});

describe("lazy directory upsert from token claims", () => {
  it("records a member the first time their token is used", async () => {
    const org = uniqueOrg();
    const member = await makeToken({ org, sub: "newbie", role: "member", email: "newbie@example.com", name: "Nora Newbie" });
    const admin = await makeToken({ org, sub: "boss", role: "admin" });

    const first = await call("GET", ALERTS, { token: member });
    expect(first.status, first.text).toBe(200);

    const user = await call("GET", "/api/v1/users/newbie", { token: admin });
    expect(user.status, user.text).toBe(200);
    expect(user.json).toMatchObject({
      id: "newbie",
      organizationId: org,
      email: "newbie@example.com",
      name: "Nora Newbie",
      role: "member",
    });
  });

  it("does not record a service token's subject as a user", async () => {
    const org = uniqueOrg();
    const service = await makeToken({ org, sub: "scorer-bot", role: "service" });
    const admin = await makeToken({ org, sub: "boss", role: "admin" });

    const used = await call("GET", ALERTS, { token: service });
    expect(used.status, used.text).toBe(200);

    const user = await call("GET", "/api/v1/users/scorer-bot", { token: admin });
    expect(user.status, user.text).toBe(404);
    expect(user.json.error.code).toBe(ErrorCode.USER_NOT_FOUND);
  });
});
