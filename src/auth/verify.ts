import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { Config } from "../config";
import { AppError, ErrorCode } from "../errors";
import { ClaimsSchema } from "../schemas/common";
import type { Claims } from "../types";

/** Symmetric tokens: HS256 only. */
const HMAC_ALGORITHMS = ["HS256"];
/** Asymmetric tokens from a JWKS. No HS* here, so a public key can never be used as an HMAC secret. */
const JWKS_ALGORITHMS = ["RS256", "ES256", "EdDSA", "Ed25519"];

const WWW_AUTHENTICATE = { "WWW-Authenticate": 'Bearer realm="herald", error="invalid_token"' };

const authError = (code: ErrorCode, message: string) => new AppError(401, code, message, undefined, WWW_AUTHENTICATE);

/**
 * One remote key set per URL per isolate, so the JWKS is fetched once and
 * cached (jose refetches on an unknown `kid`, at most once per cooldown).
 */
const jwksCache = new Map<string, JWTVerifyGetKey>();
function remoteKeySet(url: URL, cacheSeconds: number): JWTVerifyGetKey {
  const cacheKey = `${url.href}#${cacheSeconds}`;
  let keySet = jwksCache.get(cacheKey);
  if (!keySet) {
    keySet = createRemoteJWKSet(url, { cacheMaxAge: cacheSeconds * 1000, cooldownDuration: 30_000, timeoutDuration: 5_000 });
    jwksCache.set(cacheKey, keySet);
  }
  return keySet;
}

/**
 * The HMAC key of a secret, imported once per isolate (the config, and so the
 * secret's bytes, are cached per env) instead of once per verification.
 */
const hmacKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();
function hmacKey(secret: Uint8Array): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    hmacKeys.set(secret, key);
  }
  return key;
}

/** Extracts the token from an `Authorization: Bearer …` header, or undefined when absent. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
  if (!match) throw authError(ErrorCode.AUTH_FAILED, "Authorization must be `Bearer <token>`");
  return match[1];
}

/**
 * Verifies a JWT and returns its Herald claims.
 * - HS256 with JWT_SECRET, or RS256/ES256/EdDSA from JWT_JWKS_URL when set;
 * - `exp` required, 30 s clock tolerance, `iss`/`aud` enforced when configured;
 * - failures are 401: TOKEN_EXPIRED for an expired token, AUTH_FAILED otherwise.
 */
export async function verifyToken(token: string, config: Config): Promise<Claims> {
  const { jwt } = config;
  const options = {
    issuer: jwt.issuer,
    audience: jwt.audience,
    clockTolerance: jwt.clockToleranceSeconds,
    requiredClaims: ["exp"],
  };
  let payload: JWTPayload;
  try {
    if (jwt.jwksUrl) {
      ({ payload } = await jwtVerify(token, remoteKeySet(jwt.jwksUrl, jwt.jwksCacheSeconds), {
        ...options,
        algorithms: JWKS_ALGORITHMS,
      }));
    } else {
      ({ payload } = await jwtVerify(token, await hmacKey(jwt.secret!), { ...options, algorithms: HMAC_ALGORITHMS }));
    }
  } catch (err) {
    if (err instanceof errors.JWTExpired) throw authError(ErrorCode.TOKEN_EXPIRED, "The token has expired");
    if (err instanceof errors.JOSEError) {
      if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
        console.error("herald: JWKS unavailable", err.code, err.message);
      }
      throw authError(ErrorCode.AUTH_FAILED, tokenFailureMessage(err));
    }
    throw err;
  }
  const claims = ClaimsSchema.safeParse(payload);
  if (!claims.success) {
    throw authError(
      ErrorCode.AUTH_FAILED,
      `The token's claims are invalid: ${claims.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return claims.data;
}

function tokenFailureMessage(err: errors.JOSEError): string {
  if (err instanceof errors.JOSEAlgNotAllowed) return "The token's algorithm is not allowed";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "The token's signature is invalid";
  if (err instanceof errors.JWTClaimValidationFailed) return `The token's ${err.claim} claim is invalid`;
  if (err instanceof errors.JWKSNoMatchingKey) return "No key of the key set matches the token";
  return "The token is malformed or cannot be verified";
}
