import { getConfig, type Config } from "./config";
import { getDb, type Db } from "./db/client";
import { realtimePort, type RealtimePort } from "./outbox";
import { routingPort, type RoutingPort } from "./services/routing/port";

/** What most services take: the env, D1 through drizzle, the parsed config and the realtime port. */
export interface ServiceDeps {
  env: Env;
  db: Db;
  config: Config;
  realtime: RealtimePort;
}

/**
 * Every dependency a service may need, built in one place. Routes, middleware,
 * hubs and the Worker's handlers pass `deps(env)` (or a part of it) to the
 * services; nothing else calls getDb/getConfig/realtimePort to wire a service.
 */
export interface Deps extends ServiceDeps {
  /** The notification service's dependencies (the alert service notifies through them). */
  notifications: ServiceDeps;
  /** The org hubs' routing (decide and reserve). */
  routing: RoutingPort;
  limits: { maxAlertDataBytes: number };
}

const cache = new WeakMap<Env, Deps>();

/**
 * The dependencies over `env`, built once per env object (as getConfig is
 * cached): a bad configuration is 500 `CONFIG_INVALID` here.
 */
export function deps(env: Env): Deps {
  let built = cache.get(env);
  if (!built) {
    const config = getConfig(env);
    const db = getDb(env);
    const base: ServiceDeps = { env, db, config, realtime: realtimePort(env, db, config) };
    built = { ...base, notifications: base, routing: routingPort(env), limits: { maxAlertDataBytes: config.maxAlertDataBytes } };
    cache.set(env, built);
  }
  return built;
}
