import { createService, type Service } from "../../shared/src/service.ts";
import type { ServiceIdentity } from "../../shared/src/identity.ts";
import { bearerToken, describeTokenError, verifyAccessToken } from "../../shared/src/jwt.ts";
import type { AuthServiceConfig } from "./config.ts";
import type { SigningKeys } from "./keys.ts";
import { findUser, issueToken } from "./tokens.ts";

interface Credentials {
  username: string;
  password: string;
}

export function createAuthService(
  config: AuthServiceConfig,
  identity: ServiceIdentity,
  keys: SigningKeys,
): Service {
  const service = createService({
    identity,
    peers: {},
    propagateTraceHeaders: config.propagateTraceHeaders,
    logLevel: config.logLevel,
  });
  const { app } = service;
  const expected = { issuer: config.issuer, audience: config.audience };

  app.post<{ Body: Credentials }>(
    "/authorize",
    {
      schema: {
        body: {
          type: "object",
          required: ["username", "password"],
          properties: {
            username: { type: "string", minLength: 1, maxLength: 100 },
            password: { type: "string", minLength: 1, maxLength: 200 },
          },
        },
      },
    },
    async (request, reply) => {
      const user = findUser(config.users, request.body.username, request.body.password);
      if (!user) {
        return reply.code(401).send({
          error: "unauthorized",
          message: "unknown user or wrong password",
          served: service.served(request),
        });
      }
      const token = await issueToken(keys, user, { ...expected, ttlSeconds: config.tokenTtlSeconds });
      request.log.info({ sub: user.username, group: user.group }, "token issued");
      return {
        token,
        tokenType: "Bearer",
        expiresIn: config.tokenTtlSeconds,
        user: { sub: user.username, group: user.group },
        served: service.served(request),
      };
    },
  );

  // Public keys only; clients and Istio's RequestAuthentication (jwksUri) cache them.
  app.get("/.well-known/jwks.json", async (_request, reply) => {
    reply.header("cache-control", "public, max-age=300");
    return { keys: [keys.publicJwk] };
  });

  // The pre-mesh flow: each backend forwards the caller's bearer token here and trusts the answer.
  app.get("/verify-session-token", async (request, reply) => {
    const token = bearerToken(request.headers.authorization);
    if (!token) {
      return reply.code(401).send({
        valid: false,
        reason: "missing Authorization: Bearer token",
        served: service.served(request),
      });
    }
    try {
      // The auth service knows its own TTL: nothing longer-lived can be one of its tokens.
      const principal = await verifyAccessToken(token, keys.publicKey, {
        ...expected,
        maxLifetimeSeconds: config.tokenTtlSeconds,
      });
      return { valid: true, ...principal, served: service.served(request) };
    } catch (error) {
      return reply
        .code(401)
        .send({ valid: false, reason: describeTokenError(error), served: service.served(request) });
    }
  });

  return service;
}
