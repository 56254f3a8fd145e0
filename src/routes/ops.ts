import { z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { appDeps } from "../deps";
import { AppError, ErrorCode } from "../errors";
import { sha256Hex } from "../lib/json";
import { createRouter, defineRoute, jsonContent as json } from "../lib/router";
import { commonErrors } from "../schemas/common";
import { moveStep, orgShardStatus } from "../sharding/move";
import type { AppEnv } from "../types";

/**
 * Operator routes (/api/ops): the shards and moving an organization between
 * them (README "Shards"; `npm run shard:move` drives them). Not a tenant
 * API: they take `Authorization: Bearer <OPS_TOKEN>` (a secret), not a JWT,
 * are left out of the OpenAPI document, and without OPS_TOKEN they answer
 * exactly what an unknown route answers.
 */
const opsOnly = createMiddleware<AppEnv>(async (c, next) => {
  const token = appDeps(c.env).config.shards.opsToken;
  if (!token) throw new AppError(404, ErrorCode.NOT_FOUND, `No route ${c.req.method} ${c.req.path}`);
  const sent = /^Bearer (.+)$/.exec(c.req.header("Authorization") ?? "")?.[1] ?? "";
  // Compared as hashes: equal length, so the comparison time says nothing about the token.
  if ((await sha256Hex(sent)) !== (await sha256Hex(token))) {
    throw new AppError(401, ErrorCode.AUTH_FAILED, "Send Authorization: Bearer <OPS_TOKEN>", undefined, { "WWW-Authenticate": 'Bearer realm="herald-ops"' });
  }
  await next();
});

const OrgParams = z.object({ org: z.string().min(1).max(128) });
const MoveBody = z.object({ to: z.number().int().min(0) }).strict();

const ShardsSchema = z.object({
  shards: z.array(
    z.object({
      index: z.number().int(),
      binding: z.string(),
      bytes: z.number().int().nullable(),
      measuredAt: z.string().nullable(),
      orgs: z.number().int(),
    }),
  ),
});

const MoveSchema = z.object({
  org: z.string(),
  shard: z.number().int(),
  epoch: z.number().int(),
  move: z
    .object({
      from: z.number().int(),
      to: z.number().int(),
      state: z.enum(["copying", "syncing", "verifying", "switched", "deleting"]),
      table: z.string().nullable(),
      startedAt: z.string(),
      switchedAt: z.string().nullable(),
      deleteAfter: z.string().nullable(),
    })
    .nullable(),
});

const router = createRouter();
router.use("*", opsOnly);

export const opsRouter = router
  .openapi(
    defineRoute({
      method: "get",
      path: "/shards",
      operationId: "listShards",
      hide: true,
      tags: ["Operations"],
      summary: "The shards (D1_SHARDS), their last measured size and how many orgs each holds",
      responses: { 200: { description: "Shards", content: json(ShardsSchema) }, ...commonErrors },
    }),
    async (c) => {
      const { shards } = appDeps(c.env);
      const { results } = await shards.control.d1
        .prepare(
          `SELECT s.value AS idx, z.bytes, z.measured_at, (SELECT COUNT(*) FROM org_shards o WHERE o.shard = s.value) AS orgs
           FROM json_each(?) s LEFT JOIN shard_sizes z ON z.shard = s.value ORDER BY s.value`,
        )
        .bind(JSON.stringify(shards.shards.map((s) => s.index)))
        .all<{ idx: number; bytes: number | null; measured_at: number | null; orgs: number }>();
      return c.json(
        {
          shards: results.map((r) => ({
            index: r.idx,
            binding: shards.shard(r.idx).binding,
            bytes: r.bytes,
            measuredAt: r.measured_at === null ? null : new Date(r.measured_at).toISOString(),
            orgs: r.orgs,
          })),
        },
        200,
      );
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/orgs/{org}",
      operationId: "getOrgShard",
      hide: true,
      tags: ["Operations"],
      summary: "Where an organization lives and the move in progress, if any",
      request: { params: OrgParams },
      responses: { 200: { description: "Placement", content: json(MoveSchema) }, ...commonErrors },
    }),
    async (c) => c.json(await orgShardStatus(appDeps(c.env), c.req.valid("param").org), 200),
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/orgs/{org}/move",
      operationId: "moveOrg",
      hide: true,
      tags: ["Operations"],
      summary: "Run one bounded step of moving an organization to shard `to` (starts the move); call until done",
      request: { params: OrgParams, body: { required: true, content: json(MoveBody) } },
      responses: {
        200: { description: "Where the move got to", content: json(MoveSchema.extend({ done: z.boolean(), changed: z.number().int() })) },
        ...commonErrors,
      },
    }),
    async (c) => c.json(await moveStep(appDeps(c.env), c.req.valid("param").org, c.req.valid("json").to), 200),
  );
