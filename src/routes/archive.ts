import { z } from "@hono/zod-openapi";
import { AppError, ErrorCode } from "../errors";
import { bearerSecurity, createRouter, defineRoute, requireRole, jsonContent as json } from "../lib/router";
import { orgArchivePrefix, type ArchiveKind } from "../retention/archive";
import { ArchiveListQuery, ArchiveObjectParams, ArchivePageSchema } from "../schemas/archive";
import { commonErrors, ErrorSchema } from "../schemas/common";

const tags = ["Archive"];
const security = bearerSecurity;

/**
 * The org's archive in R2 (admin only): closed alerts and done notifications
 * that left D1 after their retention (src/retention/archive.ts). Every read is
 * confined to `archive/<caller's org>/`: another org's objects cannot be named.
 */
export const archiveRouter = createRouter()
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      operationId: "listArchive",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "List the org's archive objects (admin), oldest day first, with cursor paging",
      description:
        "One object per org, kind and UTC creation day per retention batch: gzip-compressed NDJSON, one D1 row per line " +
        "(alerts carry their history, assignments and recipients). Written before the rows were deleted from D1.",
      request: { query: ArchiveListQuery },
      responses: {
        200: { description: "A page of objects", content: json(ArchivePageSchema) },
        ...commonErrors,
        400: { description: "VALIDATION_FAILED, or INVALID_CURSOR", content: json(ErrorSchema) },
      },
    }),
    async (c) => {
      const { limit, cursor, kind } = c.req.valid("query");
      const orgPrefix = orgArchivePrefix(c.var.auth.org);
      let page: R2Objects;
      try {
        page = await c.env.ARCHIVE.list({ prefix: kind ? `${orgPrefix}${kind}/` : orgPrefix, limit, cursor, include: ["customMetadata"] });
      } catch (err) {
        if (cursor) throw new AppError(400, ErrorCode.INVALID_CURSOR, "The cursor is not one this listing returned");
        throw err;
      }
      const items = page.objects.map((o) => {
        const [objKind, day, file] = o.key.slice(orgPrefix.length).split("/") as [ArchiveKind, string, string];
        const rows = Number(o.customMetadata?.rows);
        return {
          key: o.key,
          kind: objKind,
          day,
          size: o.size,
          rows: Number.isInteger(rows) ? rows : null,
          uploaded: o.uploaded.toISOString(),
          href: `/api/v1/archive/${objKind}/${day}/${file}`,
        };
      });
      return c.json({ items, nextCursor: page.truncated ? page.cursor : null }, 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{kind}/{day}/{file}",
      operationId: "getArchiveObject",
      middleware: [requireRole("admin")],
      tags,
      security,
      summary: "Stream one archive object (admin), decompressed: NDJSON, one row per line",
      description:
        "The object is stored gzip-compressed; it is served decompressed (Content-Type application/x-ndjson, no Content-Encoding), " +
        "so any HTTP client reads it line by line. Only objects under the caller's organization exist here.",
      request: { params: ArchiveObjectParams },
      responses: {
        200: {
          description: "The rows, one JSON object per line",
          content: { "application/x-ndjson": { schema: z.string() } },
        },
        ...commonErrors,
        404: { description: "NOT_FOUND: no such object in your organization's archive", content: json(ErrorSchema) },
      },
    }),
    async (c) => {
      const { kind, day, file } = c.req.valid("param");
      const obj = await c.env.ARCHIVE.get(`${orgArchivePrefix(c.var.auth.org)}${kind}/${day}/${file}`);
      if (!obj) throw new AppError(404, ErrorCode.NOT_FOUND, "No such archive object in your organization");
      const body = obj.body.pipeThrough(new DecompressionStream("gzip"));
      const res = new Response(body, { headers: { "Content-Type": "application/x-ndjson; charset=utf-8", "Cache-Control": "private, no-store" } });
      // A byte stream: zod-openapi types a handler's result only for JSON bodies.
      return res as never;
    },
  );
