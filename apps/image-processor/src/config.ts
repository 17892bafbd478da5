import { authConfigFromEnv, type AuthConfig } from "../../shared/src/authenticate.ts";
import {
  commonConfigFromEnv,
  envInt,
  envString,
  type CommonConfig,
  type Env,
} from "../../shared/src/config.ts";
import { resolvePeers, type Peer } from "../../shared/src/peers.ts";
import { DEFAULT_EVENTS_STREAM } from "../../shared/src/queue.ts";

export interface ImageProcessorConfig extends CommonConfig {
  readonly auth: AuthConfig;
  readonly peers: Record<string, Peer>;
  /** postgres://… ; empty means the standard PGHOST/PGUSER/PGPASSWORD/PGDATABASE variables. */
  readonly databaseUrl: string;
  readonly poolMax: number;
  readonly redisUrl: string;
  readonly eventsStream: string;
}

export function imageProcessorConfigFromEnv(env: Env): ImageProcessorConfig {
  return {
    ...commonConfigFromEnv(env),
    auth: authConfigFromEnv(env),
    peers: resolvePeers(env, ["content-generator", "auth-service"]),
    databaseUrl: envString(env, "DATABASE_URL", ""),
    poolMax: envInt(env, "PG_POOL_MAX", 10, { min: 1, max: 100 }),
    redisUrl: envString(env, "REDIS_URL", "redis://redis:6379"),
    eventsStream: envString(env, "EVENTS_STREAM", DEFAULT_EVENTS_STREAM),
  };
}
