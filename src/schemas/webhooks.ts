import { z } from "@hono/zod-openapi";
import { DELIVERY_STATUSES } from "../db/schema";
import { EVENT_NAME_PATTERN, RESERVED_NAMES } from "../protocol";

/** Most patterns one endpoint may subscribe to. */
export const MAX_WEBHOOK_PATTERNS = 20;

/**
 * Whether a subscription pattern is well formed: `*` (every event except
 * the high-frequency internal ones, see `patternMatches`), an event name as
 * docs/PROTOCOL.md defines it (`alert:new`), or such a name followed by `:*`
 * (`alert:*`, every event under that prefix).
 */
export function isValidPattern(p: string): boolean {
  if (p === "*") return true;
  const name = p.endsWith(":*") ? p.slice(0, -2) : p;
  return name.length > 0 && name.length <= 64 && EVENT_NAME_PATTERN.test(name) && !(name === p && RESERVED_NAMES.has(name));
}

const Pattern = z
  .string()
  .min(1)
  .max(66)
  .refine(isValidPattern, "Use an event name (alert:new), a prefix ending in :* (alert:*), or *")
  .openapi({ example: "alert:*" });

const Events = z
  .array(Pattern)
  .min(1)
  .max(MAX_WEBHOOK_PATTERNS)
  // Duplicates are harmless but noisy; store each pattern once, in the order given.
  .transform((list) => [...new Set(list)])
  .openapi({ description: "Event patterns: an event name, a prefix ending in :*, or *", example: ["alert:*"] });

/** Any absolute URL parses here (400 VALIDATION_FAILED otherwise); what is allowed is src/lib/ssrf.ts's call (400 WEBHOOK_URL_NOT_ALLOWED). */
const Url = z
  .string()
  .trim()
  .min(1)
  .max(2048)
  .refine(isAbsoluteUrl, "Not an absolute URL")
  .openapi({
    description: "https only; http and local or private targets only when ALLOW_INSECURE_WEBHOOKS=true",
    example: "https://crm.example.com/hooks/herald",
  });

function isAbsoluteUrl(s: string): boolean {
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}

const Description = z.string().max(500);

export const WebhookIdParams = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "whk_01JD8X4Q9W3R8B6G0N2V5K7M1A" }),
});

export const CreateWebhookBody = z
  .object({
    url: Url,
    events: Events,
    description: Description.nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .openapi("CreateWebhook");

export const UpdateWebhookBody = z
  .object({
    url: Url.optional(),
    events: Events.optional(),
    description: Description.nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, "Send at least one of url, events, description, enabled")
  .openapi("UpdateWebhook");

export const WebhookSchema = z
  .object({
    id: z.string(),
    organizationId: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    /** Why Herald disabled it (410, repeated failures), or who did. */
    disabledReason: z.string().nullable(),
    consecutiveFailures: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Webhook");

export const CreatedWebhookSchema = WebhookSchema.extend({
  secret: z.string().openapi({
    description: "whsec_<base64>: the signing secret, shown only in this response",
    example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  }),
}).openapi("CreatedWebhook");

export const WebhookListSchema = z.object({ items: z.array(WebhookSchema) }).openapi("WebhookList");

export const TestDeliverySchema = z
  .object({ deliveryId: z.string(), eventId: z.string(), status: z.enum(DELIVERY_STATUSES) })
  .openapi("WebhookTestDelivery");

export const ListWebhookDeliveriesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional().openapi({ description: "nextCursor of the previous page" }),
  status: z.enum(DELIVERY_STATUSES).optional(),
});

export const WebhookDeliverySchema = z
  .object({
    id: z.string(),
    webhookId: z.string(),
    eventId: z.string().nullable(),
    eventType: z.string().nullable(),
    url: z.string().nullable(),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    providerMessageId: z.string().nullable(),
    lastError: z.string().nullable(),
    /** The exact JSON body POSTed (signed as is). */
    payload: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
    updatedAt: z.string(),
    sentAt: z.string().nullable(),
  })
  .openapi("WebhookDelivery");

export const WebhookDeliveryPageSchema = z
  .object({ items: z.array(WebhookDeliverySchema), nextCursor: z.string().nullable() })
  .openapi("WebhookDeliveryPage");

export type CreateWebhookInput = z.infer<typeof CreateWebhookBody>;
export type UpdateWebhookInput = z.infer<typeof UpdateWebhookBody>;
export type Webhook = z.infer<typeof WebhookSchema>;
export type CreatedWebhook = z.infer<typeof CreatedWebhookSchema>;
export type ListWebhookDeliveriesInput = z.infer<typeof ListWebhookDeliveriesQuery>;
export type WebhookDelivery = z.infer<typeof WebhookDeliverySchema>;
