import { z } from "zod";
import { AppError, ErrorCode } from "./errors";

const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const int = (def: number, min: number, max: number) =>
  z.preprocess(blankToUndefined, z.coerce.number().int().min(min).max(max).default(def));
const optionalString = z.preprocess(blankToUndefined, z.string().optional());

/** A comma-separated origin list: `*` any, empty none. */
const originList = (v: string) => v.split(",").map((s) => s.trim()).filter(Boolean);
const bytes = (v: string) => new TextEncoder().encode(v);
/** Marks keys as optional in the inferred type while keeping them present (as undefined) in the value. */
const optionalKeys = <T extends object>(o: T): Partial<T> => o;

/**
 * Every var and secret Herald reads (wrangler.toml `[vars]`, secrets), parsed
 * with the documented defaults and bounds (README, configuration table) and
 * transformed into the nested {@link Config}: the single declaration of both.
 */
const ConfigSchema = z.object({
  ENVIRONMENT: z.preprocess(blankToUndefined, z.enum(["development", "test", "production"]).default("production")),
  CORS_ORIGINS: z.preprocess(blankToUndefined, z.string().default("")),
  MAX_BODY_BYTES: int(262_144, 1_024, 100 * 1024 * 1024),
  MAX_ALERT_DATA_BYTES: int(16_384, 64, 1024 * 1024),
  MAX_JSON_DEPTH: int(32, 1, 256),
  IDEMPOTENCY_TTL_SECONDS: int(86_400, 60, 30 * 86_400),
  RATE_LIMIT_PERIOD_SECONDS: int(60, 1, 3600),
  ALLOWED_ORIGINS: z.preprocess(blankToUndefined, z.string().default("")),
  EVENT_TTL_SECONDS: int(86_400, 60, 30 * 86_400),
  REPLAY_RETENTION_SECONDS: int(86_400, 1, 30 * 86_400),
  REPLAY_MAX_EVENTS: int(10_000, 1, 1_000_000),
  MAX_FRAME_BYTES: int(65_536, 128, 1_048_576),
  FRAME_RATE_PER_SECOND: int(100, 1, 100_000),
  FRAME_BURST: int(200, 1, 100_000),
  FRAME_ABUSE_LIMIT: int(200, 1, 1_000_000),
  MAX_CONNECTIONS_PER_USER: int(20, 1, 10_000),
  MAX_CONNECTIONS_PER_ORG: int(10_000, 1, 1_000_000),
  MAX_CONNECTS_PER_MINUTE: int(60, 1, 100_000),
  MAX_SUBSCRIPTIONS_PER_SOCKET: int(50, 1, 1_000),
  MAX_BROADCAST_DATA_BYTES: int(65_536, 64, 1_048_576),
  MAX_BROADCAST_USERS: int(500, 1, 1_000),
  TICKET_TTL_SECONDS: int(30, 5, 600),
  STATS_COALESCE_MS: int(1_000, 100, 60_000),
  OUTBOX_MAX_ATTEMPTS: int(10, 1, 1_440),
  HUB_CALL_CONCURRENCY: int(50, 1, 1_000),
  MAX_ADMIN_NOTIFICATIONS: int(1_000, 1, 5_000),
  MAX_ROUTING_RULES: int(50, 1, 500),
  ROUTING_DEFAULT_CAPACITY: int(25, 1, 10_000),
  ROUTING_RESERVATION_SECONDS: int(60, 5, 3_600),
  ROUTING_MAX_ESCALATION_LEVELS: int(5, 1, 20),
  DELIVERY_RETENTION_DAYS: int(30, 1, 3_650),
  ALERT_RETENTION_DAYS: int(30, 1, 36_500),
  NOTIFICATION_RETENTION_DAYS: int(30, 1, 36_500),
  RETENTION_BATCH_ROWS: int(500, 1, 5_000),
  RETENTION_MAX_BATCHES: int(20, 1, 1_000),
  D1_SHARDS: z.preprocess(blankToUndefined, z.string().regex(/^\s*[A-Za-z_][A-Za-z0-9_]*(\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*\s*$/).default("DB")),
  SHARD_CACHE_SECONDS: int(60, 0, 3_600),
  SHARD_MOVE_BATCH_ROWS: int(200, 1, 1_000),
  SHARD_MOVE_STEP_BATCHES: int(20, 1, 1_000),
  OPS_TOKEN: z.preprocess(blankToUndefined, z.string().min(32).optional()),
  EMAIL_PROVIDER: z.preprocess(blankToUndefined, z.enum(["log", "sendgrid", "resend"]).default("log")),
  EMAIL_FROM: z.preprocess(blankToUndefined, z.string().min(3).default("Herald <notifications@herald.invalid>")),
  SENDGRID_API_KEY: optionalString,
  RESEND_API_KEY: optionalString,
  SMS_PROVIDER: z.preprocess(blankToUndefined, z.enum(["log", "twilio"]).default("log")),
  TWILIO_ACCOUNT_SID: optionalString,
  TWILIO_AUTH_TOKEN: optionalString,
  TWILIO_FROM: optionalString,
  ALLOW_INSECURE_WEBHOOKS: z.preprocess(blankToUndefined, z.enum(["true", "false"]).default("false")),
  PUBLIC_BASE_URL: z.preprocess(blankToUndefined, z.url({ protocol: /^https?$/ }).default("http://localhost:8787")),
  DELIVERY_TIMEOUT_MS: int(10_000, 100, 60_000),
  DELIVERY_MAX_RETRIES: int(5, 0, 100),
  RETRY_BASE_SECONDS: int(10, 1, 3_600),
  RETRY_MAX_SECONDS: int(3_600, 1, 43_200),
  WEBHOOK_DISABLE_AFTER_FAILURES: int(3, 1, 1_000),
  JWT_SECRET: optionalString,
  UNSUBSCRIBE_SECRET: z.preprocess(blankToUndefined, z.string().min(32).optional()),
  JWT_JWKS_URL: z.preprocess(blankToUndefined, z.url({ protocol: /^https?$/ }).optional()),
  JWKS_CACHE_SECONDS: int(600, 0, 86_400),
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
}).transform((e, ctx) => {
  if (!e.JWT_JWKS_URL && (!e.JWT_SECRET || e.JWT_SECRET.length < 32)) {
    ctx.addIssue({ code: "custom", path: ["JWT_SECRET"], message: "JWT_SECRET must be at least 32 characters (or set JWT_JWKS_URL)" });
    return z.NEVER;
  }
  const unsubscribeSecret = e.UNSUBSCRIBE_SECRET ?? e.JWT_SECRET;
  return {
    environment: e.ENVIRONMENT,
    /** Browser origins allowed by CORS: `*` any, empty none (the production default). */
    corsOrigins: originList(e.CORS_ORIGINS),
    maxBodyBytes: e.MAX_BODY_BYTES,
    maxAlertDataBytes: e.MAX_ALERT_DATA_BYTES,
    /** Deepest nesting of objects/arrays in a request body's free JSON fields (MAX_JSON_DEPTH). */
    maxJsonDepth: e.MAX_JSON_DEPTH,
    idempotencyTtlSeconds: e.IDEMPOTENCY_TTL_SECONDS,
    /** The rate limiter's period, sent as Retry-After on 429 (match wrangler.toml [[ratelimits]]). */
    rateLimitPeriodSeconds: e.RATE_LIMIT_PERIOD_SECONDS,
    /**
     * Browser origins allowed to open WebSockets; same grammar as `corsOrigins`:
     * `*` any, empty none. Requests without `Origin` (servers, CLIs) are not browsers and pass.
     */
    allowedOrigins: originList(e.ALLOWED_ORIGINS),
    eventTtlSeconds: e.EVENT_TTL_SECONDS,
    replayRetentionSeconds: e.REPLAY_RETENTION_SECONDS,
    replayMaxEvents: e.REPLAY_MAX_EVENTS,
    maxFrameBytes: e.MAX_FRAME_BYTES,
    frameRatePerSecond: e.FRAME_RATE_PER_SECOND,
    frameBurst: e.FRAME_BURST,
    frameAbuseLimit: e.FRAME_ABUSE_LIMIT,
    maxConnectionsPerUser: e.MAX_CONNECTIONS_PER_USER,
    maxConnectionsPerOrg: e.MAX_CONNECTIONS_PER_ORG,
    maxConnectsPerMinute: e.MAX_CONNECTS_PER_MINUTE,
    maxSubscriptionsPerSocket: e.MAX_SUBSCRIPTIONS_PER_SOCKET,
    maxBroadcastDataBytes: e.MAX_BROADCAST_DATA_BYTES,
    maxBroadcastUsers: e.MAX_BROADCAST_USERS,
    ticketTtlSeconds: e.TICKET_TTL_SECONDS,
    statsCoalesceMs: e.STATS_COALESCE_MS,
    /** Cron sweeps an unpublished event gets before it is marked failed (OUTBOX_MAX_ATTEMPTS). */
    outboxMaxAttempts: e.OUTBOX_MAX_ATTEMPTS,
    /** User-hub calls one delivery keeps in flight at once (HUB_CALL_CONCURRENCY). */
    hubCallConcurrency: e.HUB_CALL_CONCURRENCY,
    /** Admins an alert without assignee or recipients notifies, most recently seen first (MAX_ADMIN_NOTIFICATIONS). */
    maxAdminNotifications: e.MAX_ADMIN_NOTIFICATIONS,
    /** Alert auto-routing (docs/ROUTING.md). */
    routing: {
      /** Routing rules per org (MAX_ROUTING_RULES). */
      maxRules: e.MAX_ROUTING_RULES,
      /** Open alerts an agent without a `capacity` of their own may hold (ROUTING_DEFAULT_CAPACITY). */
      defaultCapacity: e.ROUTING_DEFAULT_CAPACITY,
      /** Seconds a hub reservation waits for the alert's event before it is dropped (ROUTING_RESERVATION_SECONDS). */
      reservationSeconds: e.ROUTING_RESERVATION_SECONDS,
      /** Upper bound of a rule's `escalation.maxLevels` (ROUTING_MAX_ESCALATION_LEVELS). */
      maxEscalationLevels: e.ROUTING_MAX_ESCALATION_LEVELS,
    },
    /** What the cron deletes, and when (README, "Retention and archive"; src/retention). */
    retention: {
      /** Days a sent, failed or skipped delivery is kept after its last change (DELIVERY_RETENTION_DAYS). */
      deliveryDays: e.DELIVERY_RETENTION_DAYS,
      /** Days a closed alert is kept after its last change before it is archived and deleted (ALERT_RETENTION_DAYS). */
      alertDays: e.ALERT_RETENTION_DAYS,
      /** Days a read or archived notification is kept before it is archived and deleted (NOTIFICATION_RETENTION_DAYS). */
      notificationDays: e.NOTIFICATION_RETENTION_DAYS,
      /** Rows one delete statement removes at most (RETENTION_BATCH_ROWS). */
      batchRows: e.RETENTION_BATCH_ROWS,
      /** Batches per kind of data per cron run (RETENTION_MAX_BATCHES): the rest waits for the next run. */
      maxBatches: e.RETENTION_MAX_BATCHES,
    },
    /** Organizations sharded across D1 databases (README "Shards"; src/db/shards.ts, src/sharding/). */
    shards: {
      /** D1 binding names in shard order (D1_SHARDS); the first also holds the control data. */
      bindings: [...new Set(e.D1_SHARDS.split(",").map((s) => s.trim()))],
      /** Seconds an isolate trusts its copy of an org's shard (SHARD_CACHE_SECONDS); a move waits this long before deleting. */
      cacheSeconds: e.SHARD_CACHE_SECONDS,
      /** Rows one move batch reads per table (SHARD_MOVE_BATCH_ROWS). */
      moveBatchRows: e.SHARD_MOVE_BATCH_ROWS,
      /** Batches one move step (one call of the operator route) runs at most (SHARD_MOVE_STEP_BATCHES). */
      moveStepBatches: e.SHARD_MOVE_STEP_BATCHES,
      ...optionalKeys({
        /** Bearer token of the operator routes (/api/ops/*), a secret; unset: those routes are 404. */
        opsToken: e.OPS_TOKEN,
      }),
    },
    delivery: {
      emailProvider: e.EMAIL_PROVIDER,
      emailFrom: e.EMAIL_FROM,
      smsProvider: e.SMS_PROVIDER,
      allowInsecureWebhooks: e.ALLOW_INSECURE_WEBHOOKS === "true",
      /** Absolute base URL of this API, for links in emails (List-Unsubscribe). */
      publicBaseUrl: e.PUBLIC_BASE_URL.replace(/\/+$/, ""),
      timeoutMs: e.DELIVERY_TIMEOUT_MS,
      /** Must equal max_retries of the deliveries queue consumer in wrangler.toml. */
      maxRetries: e.DELIVERY_MAX_RETRIES,
      retryBaseSeconds: e.RETRY_BASE_SECONDS,
      retryMaxSeconds: e.RETRY_MAX_SECONDS,
      webhookDisableAfterFailures: e.WEBHOOK_DISABLE_AFTER_FAILURES,
      ...optionalKeys({
        sendgridApiKey: e.SENDGRID_API_KEY,
        resendApiKey: e.RESEND_API_KEY,
        twilioAccountSid: e.TWILIO_ACCOUNT_SID,
        twilioAuthToken: e.TWILIO_AUTH_TOKEN,
        twilioFrom: e.TWILIO_FROM,
        /** Key material for one-click unsubscribe tokens: UNSUBSCRIBE_SECRET, else JWT_SECRET (HKDF-separated); none → no one-click links. */
        unsubscribeSecret: unsubscribeSecret ? bytes(unsubscribeSecret) : undefined,
      }),
    },
    jwt: {
      jwksCacheSeconds: e.JWKS_CACHE_SECONDS,
      clockToleranceSeconds: 30,
      ...optionalKeys({
        secret: e.JWT_SECRET ? bytes(e.JWT_SECRET) : undefined,
        jwksUrl: e.JWT_JWKS_URL ? new URL(e.JWT_JWKS_URL) : undefined,
        issuer: e.JWT_ISSUER,
        audience: e.JWT_AUDIENCE,
      }),
    },
  };
});

/** Herald's configuration: every var and secret, parsed, with defaults applied (inferred from the schema). */
export type Config = z.output<typeof ConfigSchema>;

const cache = new WeakMap<object, Config>();

/** Parses and caches the configuration; a bad value is a 500 `CONFIG_INVALID`. */
export function getConfig(env: Env): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    console.error("herald: invalid configuration", z.prettifyError(parsed.error));
    throw new AppError(500, ErrorCode.CONFIG_INVALID, "The service is misconfigured");
  }
  cache.set(env, parsed.data);
  return parsed.data;
}
