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

export interface MailingConfig extends CommonConfig {
  readonly auth: AuthConfig;
  readonly peers: Record<string, Peer>;
  readonly redisUrl: string;
  readonly eventsStream: string;
  readonly consumerGroup: string;
  /** How many "sent" messages to keep for GET /messages. */
  readonly keepSent: number;
  /** How long an event stays pending under another consumer before this one claims it. */
  readonly claimMinIdleMs: number;
}

export function mailingConfigFromEnv(env: Env): MailingConfig {
  return {
    ...commonConfigFromEnv(env),
    auth: authConfigFromEnv(env),
    peers: resolvePeers(env, ["auth-service"]),
    redisUrl: envString(env, "REDIS_URL", "redis://redis:6379"),
    eventsStream: envString(env, "EVENTS_STREAM", DEFAULT_EVENTS_STREAM),
    consumerGroup: envString(env, "CONSUMER_GROUP", "mailing-service"),
    keepSent: envInt(env, "KEEP_SENT_MESSAGES", 200, { min: 1, max: 10_000 }),
    claimMinIdleMs: envInt(env, "CLAIM_MIN_IDLE_MS", 60_000, { min: 100, max: 86_400_000 }),
  };
}
