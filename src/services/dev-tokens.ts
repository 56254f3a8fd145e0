import { SignJWT } from "jose";
import type { Config } from "../config";
import { AppError, ErrorCode } from "../errors";
import type { Role } from "../types";

/** What a development token is minted for (the body of `POST /api/dev/token`, defaults applied). */
export interface DevTokenRequest {
  sub: string;
  org: string;
  role: Role;
  name?: string | undefined;
  email?: string | undefined;
  ttlSeconds: number;
}

/** The claims a minted token carries, as `verifyToken` will read them (plus the registered ones). */
export interface DevTokenClaims {
  sub: string;
  org: string;
  role: Role;
  name?: string;
  email?: string;
  iat: number;
  exp: number;
  iss?: string;
  aud?: string;
}

/** A minted token, its expiry (ISO 8601) and its claims. */
export interface DevToken {
  token: string;
  expiresAt: string;
  claims: DevTokenClaims;
}

/**
 * Signs an HS256 token with JWT_SECRET, with JWT_ISSUER and JWT_AUDIENCE when
 * configured, so it passes the API's own verification. The caller must have
 * checked that the environment is development. When the API verifies tokens
 * against JWT_JWKS_URL (or has no secret), an HS256 token could never pass:
 * 503 `SERVICE_UNAVAILABLE` rather than a token that would be refused.
 */
export async function mintDevToken(config: Config, req: DevTokenRequest, now = Date.now()): Promise<DevToken> {
  const { secret, jwksUrl, issuer, audience } = config.jwt;
  if (!secret || jwksUrl) {
    throw new AppError(
      503,
      ErrorCode.SERVICE_UNAVAILABLE,
      "Dev tokens are signed with JWT_SECRET; set it (and leave JWT_JWKS_URL empty) to mint them",
    );
  }
  const iat = Math.floor(now / 1000);
  const claims: DevTokenClaims = {
    sub: req.sub,
    org: req.org,
    role: req.role,
    ...(req.name !== undefined && { name: req.name }),
    ...(req.email !== undefined && { email: req.email }),
    iat,
    exp: iat + req.ttlSeconds,
    ...(issuer !== undefined && { iss: issuer }),
    ...(audience !== undefined && { aud: audience }),
  };
  const token = await new SignJWT({ ...claims }).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);
  return { token, expiresAt: new Date(claims.exp * 1000).toISOString(), claims };
}
