import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * Every stable error code a client may branch on. The README's error table
 * lists the same codes with their HTTP status.
 */
export const ErrorCode = {
  VALIDATION_FAILED: "VALIDATION_FAILED",
  INVALID_JSON: "INVALID_JSON",
  INVALID_CURSOR: "INVALID_CURSOR",
  INVALID_IDEMPOTENCY_KEY: "INVALID_IDEMPOTENCY_KEY",
  AUTH_REQUIRED: "AUTH_REQUIRED",
  AUTH_FAILED: "AUTH_FAILED",
  TOKEN_EXPIRED: "TOKEN_EXPIRED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  ALERT_NOT_FOUND: "ALERT_NOT_FOUND",
  NOTIFICATION_NOT_FOUND: "NOTIFICATION_NOT_FOUND",
  UNKNOWN_TEMPLATE: "UNKNOWN_TEMPLATE",
  USER_NOT_FOUND: "USER_NOT_FOUND",
  WEBHOOK_NOT_FOUND: "WEBHOOK_NOT_FOUND",
  ROUTING_RULE_NOT_FOUND: "ROUTING_RULE_NOT_FOUND",
  WEBHOOK_URL_NOT_ALLOWED: "WEBHOOK_URL_NOT_ALLOWED",
  WEBHOOK_DISABLED: "WEBHOOK_DISABLED",
  UNSUBSCRIBE_TOKEN_INVALID: "UNSUBSCRIBE_TOKEN_INVALID",
  METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
  INVALID_TRANSITION: "INVALID_TRANSITION",
  ALREADY_ASSIGNED: "ALREADY_ASSIGNED",
  CONFLICT: "CONFLICT",
  VERSION_CONFLICT: "VERSION_CONFLICT",
  ROUTING_RULES_LIMIT: "ROUTING_RULES_LIMIT",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  DATA_TOO_LARGE: "DATA_TOO_LARGE",
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  IDEMPOTENCY_KEY_REUSED: "IDEMPOTENCY_KEY_REUSED",
  UNKNOWN_ASSIGNEE: "UNKNOWN_ASSIGNEE",
  RATE_LIMITED: "RATE_LIMITED",
  CONNECTION_LIMIT: "CONNECTION_LIMIT",
  UPGRADE_REQUIRED: "UPGRADE_REQUIRED",
  ORIGIN_NOT_ALLOWED: "ORIGIN_NOT_ALLOWED",
  TICKET_INVALID: "TICKET_INVALID",
  REALTIME_UNAVAILABLE: "REALTIME_UNAVAILABLE",
  CONFIG_INVALID: "CONFIG_INVALID",
  SERVICE_UNAVAILABLE: "SERVICE_UNAVAILABLE",
  ORG_MOVING: "ORG_MOVING",
  SHARD_NOT_FOUND: "SHARD_NOT_FOUND",
  INTERNAL: "INTERNAL",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown; requestId?: string };
}

/**
 * An expected failure with its HTTP status and stable code, carrying its own
 * response (as Hono's `HTTPException`). Services, middleware and hubs throw or
 * answer with it; the app's single `onError` sends `getResponse(requestId)`.
 */
export class AppError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "AppError";
  }

  /** The JSON error body; `details` and `requestId` only when present. */
  toBody(requestId?: string): ErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details, requestId } };
  }

  /**
   * The error as an HTTP response: its status, its headers (`Retry-After`,
   * `WWW-Authenticate`, …), `X-Request-Id` when a request id is given, and the
   * JSON body of `toBody`.
   */
  getResponse(requestId?: string): Response {
    const headers = new Headers(this.headers);
    if (requestId) headers.set("X-Request-Id", requestId);
    headers.set("Content-Type", "application/json");
    return new Response(JSON.stringify(this.toBody(requestId)), { status: this.status, headers });
  }
}

export const notFound = (code: ErrorCode, message: string) => new AppError(404, code, message);
export const forbidden = (message = "Your role may not do this") =>
  new AppError(403, ErrorCode.FORBIDDEN, message);
export const badRequest = (code: ErrorCode, message: string, details?: unknown) =>
  new AppError(400, code, message, details);

/** Seconds a client should wait before retrying a change whose side effects are not confirmed yet. */
export const RETRY_AFTER_SECONDS = 2;

/**
 * 503 for a change that is saved but whose realtime delivery or queued work
 * is not confirmed yet: the events stay unpublished, so an idempotent retry or
 * the cron sweep finishes them. `what` completes "The change is saved but …".
 */
export const notYetDelivered = (code: ErrorCode, what: string, eventIds: string[]) =>
  new AppError(
    503,
    code,
    `The change is saved but ${what}; retry with the same Idempotency-Key, or rely on automatic re-delivery`,
    { eventIds },
    { "Retry-After": String(RETRY_AFTER_SECONDS) },
  );
