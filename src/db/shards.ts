import { drizzle } from "drizzle-orm/d1";
import type { Config } from "../config";
import { AppError, ErrorCode, RETRY_AFTER_SECONDS } from "../errors";
import type { Db } from "./client";
import * as schema from "./schema";

/**
 * Organizations are sharded across D1 databases (README "Shards"). The
 * databases are bound as a list, D1_SHARDS = "DB,DB_SHARD_1,…": shard 0 is
 * the first and also holds the control data (org_shards: which org lives
 * where; shard_sizes). Every org-scoped query goes through the org's shard;
 * every table is org-scoped, so an org's rows live on exactly one shard.
 */
export interface Shard {
  index: number;
  /** The binding's name in wrangler.toml. */
  binding: string;
  d1: D1Database;
  db: Db;
}

/** Where an org lives now, as the control table says. */
export interface Placement {
  shard: Shard;
  /** Completed moves of this org; polling cursors carry it. */
  epoch: number;
}

interface Cached {
  placement: Placement;
  until: number;
}

/** The D1 error text a fenced org's write fails with (migration 0006's triggers). */
export const ORG_MOVING_MARK = "HERALD_ORG_MOVING";

/** Whether `err` (or its cause chain) is a write refused by a shard's fence. */
export function isOrgMoving(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.message.includes(ORG_MOVING_MARK)) return true;
  }
  return false;
}

/** 503 `ORG_MOVING`: the org is being moved between shards; retrying shortly succeeds. */
export const orgMoving = () =>
  new AppError(503, ErrorCode.ORG_MOVING, "This organization's data is being moved; retry shortly", undefined, {
    "Retry-After": String(RETRY_AFTER_SECONDS),
  });

/**
 * The shards of one env and the org → shard map, cached per isolate for
 * SHARD_CACHE_SECONDS. A stale entry is safe: the old shard's fence refuses
 * the org's writes (503 ORG_MOVING, and `forget` drops the entry), and a move
 * deletes the old copy only after the cache time has passed.
 */
export class ShardMap {
  readonly shards: readonly Shard[];
  readonly #orgs = new Map<string, Cached>();
  readonly #cacheMs: number;

  constructor(env: Env, config: Config) {
    const bindings = env as unknown as Record<string, unknown>;
    this.shards = config.shards.bindings.map((binding, index) => {
      const d1 = bindings[binding];
      if (!d1 || typeof (d1 as D1Database).prepare !== "function") {
        throw new AppError(500, ErrorCode.CONFIG_INVALID, `D1_SHARDS names ${binding}, which is not a D1 binding of this Worker`);
      }
      return { index, binding, d1: d1 as D1Database, db: drizzle(d1 as D1Database, { schema }) };
    });
    this.#cacheMs = config.shards.cacheSeconds * 1000;
  }

  /** The first shard: control data (and its share of orgs). */
  get control(): Shard {
    return this.shards[0]!;
  }

  /** Shard `index`, or 404 `SHARD_NOT_FOUND`. */
  shard(index: number): Shard {
    const s = this.shards[index];
    if (!s) throw new AppError(404, ErrorCode.SHARD_NOT_FOUND, `No shard ${index}; D1_SHARDS lists ${this.shards.length}`);
    return s;
  }

  /** Where `orgId` lives; an org seen for the first time is placed on the least-full shard. */
  async placement(orgId: string, now = Date.now()): Promise<Placement> {
    return (await this.#placement(orgId, true, now))!;
  }

  /** Where `orgId` lives, or null for an org never placed (for unauthenticated input, which must not create orgs). */
  async existing(orgId: string, now = Date.now()): Promise<Shard | null> {
    return (await this.#placement(orgId, false, now))?.shard ?? null;
  }

  async #placement(orgId: string, create: boolean, now: number): Promise<Placement | null> {
    const hit = this.#orgs.get(orgId);
    if (hit && hit.until > now) return hit.placement;
    let row = await this.#read(orgId);
    if (!row && !create) return null;
    if (!row) row = await this.#place(orgId, now);
    const shard = this.shards[row.shard];
    if (!shard) {
      throw new AppError(500, ErrorCode.CONFIG_INVALID, `Organization ${orgId} lives on shard ${row.shard}, which D1_SHARDS does not list`);
    }
    const placement = { shard, epoch: row.epoch };
    this.#orgs.set(orgId, { placement, until: now + this.#cacheMs });
    return placement;
  }

  /** The org's shard (see placement). */
  async forOrg(orgId: string): Promise<Shard> {
    return (await this.placement(orgId)).shard;
  }

  /** Drops the cached placement of `orgId` (after a fence refused a write, or a move switched it). */
  forget(orgId: string): void {
    this.#orgs.delete(orgId);
  }

  /**
   * Whether `err` is a write of `orgId` refused by a shard's fence (the org is
   * moving, or this isolate's placement is stale); if so the cached placement
   * is dropped, so the retry resolves the org's shard again.
   */
  refused(err: unknown, orgId: string): boolean {
    if (!isOrgMoving(err)) return false;
    this.forget(orgId);
    return true;
  }

  async #read(orgId: string): Promise<{ shard: number; epoch: number } | null> {
    return this.control.d1.prepare("SELECT shard, epoch FROM org_shards WHERE org_id = ?").bind(orgId).first();
  }

  /**
   * Places a new org on the shard with the fewest bytes (as the cron last
   * measured them; unmeasured counts as empty), ties to the one with fewer
   * orgs, then the lower index. Concurrent first requests agree: the first
   * insert wins and everyone reads it back.
   */
  async #place(orgId: string, now: number): Promise<{ shard: number; epoch: number }> {
    let target = 0;
    if (this.shards.length > 1) {
      const least = await this.control.d1
        .prepare(
          `SELECT s.value AS shard, COALESCE(z.bytes, 0) AS bytes, (SELECT COUNT(*) FROM org_shards o WHERE o.shard = s.value) AS orgs
           FROM json_each(?) s LEFT JOIN shard_sizes z ON z.shard = s.value
           ORDER BY bytes, orgs, shard LIMIT 1`,
        )
        .bind(JSON.stringify(this.shards.map((s) => s.index)))
        .first<number>("shard");
      target = least ?? 0;
    }
    await this.control.d1
      .prepare("INSERT INTO org_shards (org_id, shard, epoch, updated_at) VALUES (?, ?, 0, ?) ON CONFLICT (org_id) DO NOTHING")
      .bind(orgId, target, now)
      .run();
    return (await this.#read(orgId))!;
  }
}
