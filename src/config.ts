import { z } from "zod";
import { AppError, ErrorCode } from "./errors";

/**
 * Every var and secret Herald reads, parsed once per `env` object. Defaults
 * here are the documented defaults (README, configuration table).
 */
export interface Config {
  environment: "development" | "test" | "production";
  corsOrigins: string[];
  maxBodyBytes: number;
  maxAlertDataBytes: number;
  idempotencyTtlSeconds: number;
  /** The rate limiter's period, sent as Retry-After on 429 (match wrangler.toml [[ratelimits]]). */
  rateLimitPeriodSeconds: number;
  jwt: {
    secret?: Uint8Array;
    jwksUrl?: URL;
    jwksCacheSeconds: number;
    issuer?: string;
    audience?: string;
    clockToleranceSeconds: number;
  };
}

const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const int = (def: number, min: number, max: number) =>
  z.preprocess(blankToUndefined, z.coerce.number().int().min(min).max(max).default(def));
const optionalString = z.preprocess(blankToUndefined, z.string().optional());

const EnvSchema = z.object({
  ENVIRONMENT: z.preprocess(blankToUndefined, z.enum(["development", "test", "production"]).default("production")),
  CORS_ORIGINS: z.preprocess(blankToUndefined, z.string().default("")),
  MAX_BODY_BYTES: int(262_144, 1_024, 100 * 1024 * 1024),
  MAX_ALERT_DATA_BYTES: int(16_384, 64, 1024 * 1024),
  IDEMPOTENCY_TTL_SECONDS: int(86_400, 60, 30 * 86_400),
  RATE_LIMIT_PERIOD_SECONDS: int(60, 1, 3600),
  JWT_SECRET: optionalString,
  JWT_JWKS_URL: z.preprocess(blankToUndefined, z.url({ protocol: /^https?$/ }).optional()),
  JWKS_CACHE_SECONDS: int(600, 0, 86_400),
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
});

const cache = new WeakMap<object, Config>();

/** Parses and caches the configuration; a bad value is a 500 `CONFIG_INVALID`. */
export function getConfig(env: Env): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    console.error("herald: invalid configuration", z.prettifyError(parsed.error));
    throw new AppError(500, ErrorCode.CONFIG_INVALID, "The service is misconfigured");
  }
  const e = parsed.data;
  if (!e.JWT_JWKS_URL && (!e.JWT_SECRET || e.JWT_SECRET.length < 32)) {
    console.error("herald: JWT_SECRET must be at least 32 characters (or set JWT_JWKS_URL)");
    throw new AppError(500, ErrorCode.CONFIG_INVALID, "The service is misconfigured");
  }
  const config: Config = {
    environment: e.ENVIRONMENT,
    corsOrigins: e.CORS_ORIGINS.split(",").map((s) => s.trim()).filter(Boolean),
    maxBodyBytes: e.MAX_BODY_BYTES,
    maxAlertDataBytes: e.MAX_ALERT_DATA_BYTES,
    idempotencyTtlSeconds: e.IDEMPOTENCY_TTL_SECONDS,
    rateLimitPeriodSeconds: e.RATE_LIMIT_PERIOD_SECONDS,
    jwt: {
      secret: e.JWT_SECRET ? new TextEncoder().encode(e.JWT_SECRET) : undefined,
      jwksUrl: e.JWT_JWKS_URL ? new URL(e.JWT_JWKS_URL) : undefined,
      jwksCacheSeconds: e.JWKS_CACHE_SECONDS,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      clockToleranceSeconds: 30,
    },
  };
  cache.set(env, config);
  return config;
}
