import type { z } from "@hono/zod-openapi";
import type { Deps } from "./deps";
import type { ClaimsSchema } from "./schemas/common";

/** The verified identity of a request, from its bearer token. */
export type Claims = z.infer<typeof ClaimsSchema>;
export type Role = Claims["role"];

/** Hono's environment for the whole app: bindings plus per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    auth: Claims;
    /** The dependencies over the caller's org's shard (middleware/shard.ts). */
    deps: Deps;
    /** Completed moves of the caller's org between shards (polling cursors carry it). */
    epoch: number;
  };
}
