import { z } from "@hono/zod-openapi";
import { ARCHIVE_KINDS } from "../retention/archive";

export const ArchiveListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).max(1024).optional().openapi({ description: "nextCursor of the previous page" }),
  kind: z.enum(ARCHIVE_KINDS).optional().openapi({ description: "Only this kind of archive" }),
});

/** An archive object's address under the caller's organization (its key without `archive/<org>/`). */
export const ArchiveObjectParams = z.object({
  kind: z.enum(ARCHIVE_KINDS),
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "A UTC day, YYYY-MM-DD").openapi({ example: "2025-11-30" }),
  file: z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_-]+\.ndjson\.gz$/, "A file name as listed, ending in .ndjson.gz")
    .openapi({ example: "alr_01JD7Q0M0000000000000000-3f2a9c1b0d4e5f60.ndjson.gz" }),
});

export const ArchiveObjectSchema = z
  .object({
    key: z.string().openapi({ description: "The R2 key: archive/<org>/<kind>/<day>/<file>" }),
    kind: z.enum(ARCHIVE_KINDS),
    day: z.string().openapi({ description: "UTC creation day of the rows inside" }),
    size: z.number().int().openapi({ description: "Bytes stored (gzip)" }),
    rows: z.number().int().nullable().openapi({ description: "NDJSON lines inside" }),
    uploaded: z.string().openapi({ description: "When the object was written (ISO-8601)" }),
    href: z.string().openapi({ description: "Path that streams it: /api/v1/archive/<kind>/<day>/<file>" }),
  })
  .openapi("ArchiveObject");

export const ArchivePageSchema = z
  .object({ items: z.array(ArchiveObjectSchema), nextCursor: z.string().nullable() })
  .openapi("ArchivePage");
