import { getConfig, type Config } from "./config";
import type { Db } from "./db/client";
import { ShardMap, type Shard } from "./db/shards";
import { realtimePort, type RealtimePort } from "./outbox";
import { routingPort, type RoutingPort } from "./services/routing/port";

/** What most services take: the env, one shard's D1 through drizzle, the parsed config and the realtime port. */
export interface ServiceDeps {
  env: Env;
  db: Db;
  config: Config;
  realtime: RealtimePort;
}

/**
 * Every dependency a service may need for the orgs of one shard, built in one
 * place. Routes (through `c.var.deps`, set by middleware/shard.ts), hubs and
 * the Worker's handlers pass `orgDeps(env, org)` or `shardDeps(env, shard)`
 * (or a part of it) to the services; nothing else wires a service.
 */
export interface Deps extends ServiceDeps {
  /** The shard `db` belongs to. */
  shard: Shard;
  /** The notification service's dependencies (the alert service notifies through them). */
  notifications: ServiceDeps;
  /** The org hubs' routing (decide and reserve). */
  routing: RoutingPort;
  limits: { maxAlertDataBytes: number };
}

/** What does not depend on an org: the env, its config and its shards. */
export interface AppDeps {
  env: Env;
  config: Config;
  shards: ShardMap;
}

const apps = new WeakMap<Env, AppDeps>();
const perShard = new WeakMap<Env, Map<number, Deps>>();

/**
 * The org-independent dependencies over `env`, built once per env object: a
 * bad configuration (including a D1_SHARDS name that is not bound) is 500
 * `CONFIG_INVALID` here.
 */
export function appDeps(env: Env): AppDeps {
  let built = apps.get(env);
  if (!built) {
    const config = getConfig(env);
    built = { env, config, shards: new ShardMap(env, config) };
    apps.set(env, built);
  }
  return built;
}

/** The dependencies of the orgs on `shard` (the cron and the move walk shards). */
export function shardDeps(env: Env, shard: Shard): Deps {
  let byIndex = perShard.get(env);
  if (!byIndex) perShard.set(env, (byIndex = new Map()));
  let built = byIndex.get(shard.index);
  if (!built) {
    const { config } = appDeps(env);
    const base: ServiceDeps = { env, db: shard.db, config, realtime: realtimePort(env, shard.db, config) };
    built = { ...base, shard, notifications: base, routing: routingPort(env), limits: { maxAlertDataBytes: config.maxAlertDataBytes } };
    byIndex.set(shard.index, built);
  }
  return built;
}

/** The dependencies for `orgId`: those of the shard it lives on (placing a new org first). */
export async function orgDeps(env: Env, orgId: string): Promise<Deps> {
  return shardDeps(env, await appDeps(env).shards.forOrg(orgId));
}
