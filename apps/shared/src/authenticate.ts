import type { FastifyRequest } from "fastify";
import { createRemoteJWKSet } from "jose";
import { envEnum, envString, type Env } from "./config.ts";
import { PeerError } from "./http-client.ts";
import { bearerToken, InvalidTokenError, verifyAccessToken, type Principal } from "./jwt.ts";
import type { Service } from "./service.ts";

/**
 * How a backend decides who is calling:
 * - auth-service: asks the auth service on every request (the original, pre-mesh flow);
 * - jwks: verifies the JWT itself against the auth service's published keys;
 * - none: trusts the mesh (an Istio RequestAuthentication + AuthorizationPolicy did the checking)
 *   and takes the user from the x-workshop-user / x-workshop-group headers if present.
 */
export const AUTH_MODES = ["auth-service", "jwks", "none"] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export interface AuthConfig {
  readonly mode: AuthMode;
  readonly issuer: string;
  readonly audience: string;
}

export const DEFAULT_ISSUER = "https://auth-service.workshop";
export const DEFAULT_AUDIENCE = "workshop-app";

export function authConfigFromEnv(env: Env): AuthConfig {
  return {
    mode: envEnum(env, "AUTH_MODE", AUTH_MODES, "auth-service"),
    issuer: envString(env, "JWT_ISSUER", DEFAULT_ISSUER),
    audience: envString(env, "JWT_AUDIENCE", DEFAULT_AUDIENCE),
  };
}

export type Authenticate = (request: FastifyRequest) => Promise<Principal>;

class UpstreamAuthError extends Error {
  readonly statusCode = 503;
}

export function createAuthenticator(service: Service, config: AuthConfig): Authenticate {
  if (config.mode === "none") {
    return async (request) => ({
      sub: request.trace.routingHeaders["x-workshop-user"] ?? "anonymous",
      group: request.trace.routingHeaders["x-workshop-group"] ?? "guests",
    });
  }
  const authPeer = service.peers["auth-service"];
  if (!authPeer) throw new Error(`AUTH_MODE=${config.mode} needs the auth-service peer`);

  if (config.mode === "jwks") {
    const jwks = createRemoteJWKSet(new URL(`${authPeer.url}/.well-known/jwks.json`), {
      timeoutDuration: 2000,
    });
    return async (request) => {
      const token = bearerToken(request.headers.authorization);
      if (!token) throw new InvalidTokenError("missing Authorization: Bearer token");
      return verifyAccessToken(token, jwks, config);
    };
  }

  return async (request) => {
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new InvalidTokenError("missing Authorization: Bearer token");
    let response;
    try {
      response = await service.callPeer<{ valid?: boolean; sub?: string; group?: string; reason?: string }>(
        request,
        "auth-service",
        "/verify-session-token",
        { headers: { authorization: `Bearer ${token}` }, timeoutMs: 2000 },
      );
    } catch (error) {
      throw new UpstreamAuthError(
        `auth-service unreachable: ${error instanceof PeerError ? error.message : String(error)}`,
      );
    }
    if (response.status === 401) throw new InvalidTokenError(response.body.reason ?? "token rejected");
    if (!response.ok || !response.body.sub || !response.body.group) {
      throw new UpstreamAuthError(`auth-service answered ${response.status}`);
    }
    return { sub: response.body.sub, group: response.body.group };
  };
}
