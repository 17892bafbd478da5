import {
  commonConfigFromEnv,
  envBool,
  envInt,
  envString,
  type CommonConfig,
  type Env,
} from "../../shared/src/config.ts";
import { DEFAULT_AUDIENCE, DEFAULT_ISSUER } from "../../shared/src/authenticate.ts";
import type { TokenExpectations } from "../../shared/src/jwt.ts";
import { resolvePeers, type Peer } from "../../shared/src/peers.ts";

export interface PortalConfig extends CommonConfig {
  readonly peers: Record<string, Peer>;
  readonly title: string;
  /** Content cards per page, each its own call, so one page can show several versions answering. */
  readonly contentParts: number;
  readonly sessionCookie: string;
  /** Set behind HTTPS (an Istio Gateway with TLS); off for plain-HTTP local runs. */
  readonly secureCookie: boolean;
  readonly peerTimeoutMs: number;
  /** What a token must say for the portal to turn it into routing headers (as the backends check). */
  readonly jwt: TokenExpectations;
}

export const PORTAL_PEERS = [
  "auth-service",
  "content-generator",
  "image-processor",
  "mailing-service",
] as const;

export function portalConfigFromEnv(env: Env): PortalConfig {
  return {
    ...commonConfigFromEnv(env),
    peers: resolvePeers(env, PORTAL_PEERS),
    title: envString(env, "PORTAL_TITLE", "Istio workshop portal"),
    contentParts: envInt(env, "CONTENT_PARTS", 3, { min: 1, max: 6 }),
    sessionCookie: envString(env, "SESSION_COOKIE", "workshop_session"),
    secureCookie: envBool(env, "SECURE_COOKIE", false),
    peerTimeoutMs: envInt(env, "PEER_TIMEOUT_MS", 3000, { min: 50, max: 60_000 }),
    jwt: {
      issuer: envString(env, "JWT_ISSUER", DEFAULT_ISSUER),
      audience: envString(env, "JWT_AUDIENCE", DEFAULT_AUDIENCE),
    },
  };
}
