import { z } from "@hono/zod-openapi";
import { RoleSchema } from "../protocol";

/** Ids of users, organizations and subjects: what producers already use, bounded. */
export const IdString = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@+-]*$/, "Use letters, digits and . _ : @ + -");

export { RoleSchema };

/** The claims Herald reads from a verified bearer token. */
export const ClaimsSchema = z.object({
  sub: IdString,
  org: IdString,
  role: RoleSchema,
  email: z.email().max(320).optional(),
  name: z.string().min(1).max(200).optional(),
  /** Expiry (seconds since epoch); always present in a verified token. */
  exp: z.number().int().optional(),
});

/** A query parameter holding a comma-separated list of `values` (at least one), parsed to an array. */
export const csvOf = <T extends [string, ...string[]]>(values: T) =>
  z
    .string()
    .transform((s) => s.split(",").map((v) => v.trim()).filter(Boolean))
    .pipe(z.array(z.enum(values)).min(1))
    .openapi({ description: `Comma-separated: ${values.join(", ")}` });

/** ISO-8601 instant with an offset, e.g. 2026-11-24T08:00:00Z. */
export const IsoDateTime = z.iso.datetime({ offset: true });

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "VALIDATION_FAILED" }),
      message: z.string(),
      details: z.unknown().optional(),
      requestId: z.string().optional(),
    }),
  })
  .openapi("Error");

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorSchema } },
});

/** Error responses shared by every authenticated route, for the OpenAPI document. */
export const commonErrors = {
  400: errorResponse("Invalid input (VALIDATION_FAILED with zod issues in details, INVALID_JSON, …)"),
  401: errorResponse("AUTH_REQUIRED, AUTH_FAILED or TOKEN_EXPIRED"),
  403: errorResponse("FORBIDDEN: the token's role may not do this"),
  413: errorResponse("PAYLOAD_TOO_LARGE or DATA_TOO_LARGE"),
  415: errorResponse("UNSUPPORTED_MEDIA_TYPE: send application/json"),
  429: errorResponse("RATE_LIMITED"),
  500: errorResponse("INTERNAL"),
} as const;

export const notFoundResponse = { 404: errorResponse("The id does not exist in your organization") } as const;
export const conflictResponse = { 409: errorResponse("INVALID_TRANSITION, ALREADY_ASSIGNED or CONFLICT") } as const;
export const unprocessableResponse = {
  422: errorResponse("IDEMPOTENCY_KEY_REUSED or UNKNOWN_ASSIGNEE"),
} as const;

export const IdempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .optional()
    .openapi({ description: "Makes a retried create return the first response (1–255 visible ASCII characters)" }),
});
