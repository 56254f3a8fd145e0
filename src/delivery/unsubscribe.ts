import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { AppError, ErrorCode } from "../errors";

/**
 * Signed one-click unsubscribe links (RFC 8058).
 *
 * A token names one organization, one user and one notification type, and
 * is verified without a database lookup: a compact JWS (HS256) whose key is
 * derived with HKDF-SHA256 from UNSUBSCRIBE_SECRET, or from JWT_SECRET when
 * that is unset, under its own label. The derived key signs nothing else, so
 * an unsubscribe token is never a valid API token and an API token is never a
 * valid unsubscribe token (the audience differs too). Tokens do not expire:
 * the link in an old email keeps working, as mailbox providers expect;
 * rotating the secret revokes every link at once.
 */

/** HKDF `info`: a new version or purpose gets a new label, never the same key. */
const HKDF_INFO = "herald/unsubscribe/v1";
const HKDF_SALT = "herald";
const AUDIENCE = "herald:unsubscribe";

/** What a token carries. */
export interface UnsubscribeClaims {
  orgId: string;
  userId: string;
  /** The notification type whose emails the link turns off, e.g. `alert.new`. */
  type: string;
}

const Payload = z.object({
  org: z.string().min(1).max(128),
  sub: z.string().min(1).max(128),
  nt: z.string().min(1).max(64),
});

const keys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

/** The HMAC key for unsubscribe tokens, derived once per secret. */
function unsubscribeKey(secret: Uint8Array): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    const enc = new TextEncoder();
    key = crypto.subtle
      .importKey("raw", secret, "HKDF", false, ["deriveKey"])
      .then((material) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: enc.encode(HKDF_SALT), info: enc.encode(HKDF_INFO) },
          material,
          { name: "HMAC", hash: "SHA-256", length: 256 },
          false,
          ["sign", "verify"],
        ),
      );
    keys.set(secret, key);
  }
  return key;
}

/** Signs an unsubscribe token for one org, user and notification type. */
export async function signUnsubscribeToken(secret: Uint8Array, claims: UnsubscribeClaims): Promise<string> {
  return new SignJWT({ org: claims.orgId, nt: claims.type })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(claims.userId)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .sign(await unsubscribeKey(secret));
}

/**
 * Verifies an unsubscribe token; anything else (malformed, tampered, signed
 * with another key, no key configured) is 400 `UNSUBSCRIBE_TOKEN_INVALID`.
 */
export async function verifyUnsubscribeToken(secret: Uint8Array | undefined, token: string): Promise<UnsubscribeClaims> {
  if (!secret) throw invalid("One-click unsubscribe is not configured on this deployment");
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, await unsubscribeKey(secret), { algorithms: ["HS256"], audience: AUDIENCE }));
  } catch (err) {
    if (err instanceof joseErrors.JOSEError) throw invalid("This unsubscribe link is not valid");
    throw err;
  }
  const parsed = Payload.safeParse(payload);
  if (!parsed.success) throw invalid("This unsubscribe link is not valid");
  return { orgId: parsed.data.org, userId: parsed.data.sub, type: parsed.data.nt };
}

const invalid = (message: string) => new AppError(400, ErrorCode.UNSUBSCRIBE_TOKEN_INVALID, message);

/** The public one-click address: PUBLIC_BASE_URL/unsubscribe?token=… */
export function unsubscribeUrl(publicBaseUrl: string, token: string): string {
  return `${publicBaseUrl.replace(/\/+$/, "")}/unsubscribe?token=${encodeURIComponent(token)}`;
}
