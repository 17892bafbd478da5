// JWT issuing and checking: the auth service's own verification (the pre-mesh flow) and a backend
// verifying against the published JWKS, each refusing expired, foreign-key, wrong-audience,
// unsigned (alg: none) and HMAC-confused tokens.
import { generateKeyPairSync } from "node:crypto";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuthService } from "../../apps/auth-service/src/app.ts";
import { authServiceConfigFromEnv, parseDemoUsers } from "../../apps/auth-service/src/config.ts";
import { loadOrGenerateKeys, signingKeysFrom, type SigningKeys } from "../../apps/auth-service/src/keys.ts";
import { issueToken } from "../../apps/auth-service/src/tokens.ts";
import { createMailingService } from "../../apps/mailing-service/src/app.ts";
import { mailingConfigFromEnv } from "../../apps/mailing-service/src/config.ts";
import { DEFAULT_AUDIENCE, DEFAULT_ISSUER } from "../../apps/shared/src/authenticate.ts";
import { identityFromEnv } from "../../apps/shared/src/identity.ts";
import { connectRedis, type RedisClient } from "../../apps/shared/src/queue.ts";
import type { Service } from "../../apps/shared/src/service.ts";
import { startRedis, type RedisInstance } from "../../scripts/lib/app/stores.ts";
import { json, listen, post, QUIET } from "./support/stack.ts";

let keys: SigningKeys;
let auth: Service;
let authUrl: string;
let redisServer: RedisInstance;
let redis: RedisClient;
let mailing: Service;
let mailingUrl: string;

const settings = { issuer: DEFAULT_ISSUER, audience: DEFAULT_AUDIENCE, ttlSeconds: 300 };
const alice = { username: "alice", group: "admins" };

beforeAll(async () => {
  keys = await loadOrGenerateKeys("");
  auth = createAuthService(authServiceConfigFromEnv(QUIET), identityFromEnv(QUIET, "auth-service"), keys);
  authUrl = await listen(auth);
  redisServer = await startRedis();
  redis = await connectRedis(redisServer.url, () => undefined);
  const env = { ...QUIET, AUTH_MODE: "jwks", ISTIO_SVC_AUTH_SERVICE: authUrl, REDIS_URL: redisServer.url };
  mailing = createMailingService(mailingConfigFromEnv(env), identityFromEnv(env, "mailing-service"), redis);
  mailingUrl = await listen(mailing);
});

afterAll(async () => {
  await mailing?.app.close();
  await auth?.app.close();
  await redis?.close();
  await redisServer?.stop();
});

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Every token that must be refused, with the reason the auth service gives. */
async function badTokens(): Promise<Record<string, { token: string; reason: RegExp }>> {
  const now = Math.floor(Date.now() / 1000);
  const otherKeys = await signingKeysFrom(
    generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey,
    "test",
  );
  const claims = {
    iss: DEFAULT_ISSUER,
    aud: DEFAULT_AUDIENCE,
    sub: "mallory",
    group: "admins",
    iat: now,
    exp: now + 300,
  };
  return {
    expired: { token: await issueToken(keys, alice, settings, now - 3600), reason: /expired/ },
    "wrong key": { token: await issueToken(otherKeys, alice, settings), reason: /signature/ },
    "wrong audience": {
      token: await issueToken(keys, alice, { ...settings, audience: "someone-else" }),
      reason: /aud/,
    },
    "wrong issuer": {
      token: await issueToken(keys, alice, { ...settings, issuer: "https://evil.example" }),
      reason: /iss/,
    },
    "alg none": {
      token: `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claims)}.`,
      reason: /algorithm|malformed/,
    },
    // The classic confusion attack: HMAC-signed with the public key as the shared secret.
    "HS256 with the public key": {
      token: await new SignJWT({ group: "admins" })
        .setProtectedHeader({ alg: "HS256", kid: keys.kid })
        .setIssuer(DEFAULT_ISSUER)
        .setAudience(DEFAULT_AUDIENCE)
        .setSubject("mallory")
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode(JSON.stringify(keys.publicJwk))),
      reason: /algorithm/,
    },
    // Signed with the right key, but with claims no issuer's clock or TTL could have produced.
    "iat an hour in the future": {
      token: await signed(keys, { iat: now + 3600, exp: now + 3900 }),
      reason: /iat/,
    },
    "nbf an hour in the future": {
      token: await signed(keys, { iat: now, nbf: now + 3600, exp: now + 3900 }),
      reason: /nbf/,
    },
    "a lifetime of ten days": {
      token: await signed(keys, { iat: now - 10, exp: now + 10 * 86_400 }),
      reason: /lifetime/,
    },
    "typ of an ID token": {
      token: await signed(keys, { iat: now, exp: now + 300 }, "id_token+jwt"),
      reason: /typ/,
    },
  };
}

/** A token signed with the issuer's own key, with the given time claims and header `typ`. */
function signed(
  keys: SigningKeys,
  times: { iat: number; exp: number; nbf?: number },
  typ = "JWT",
): Promise<string> {
  return new SignJWT({ group: "admins", ...times })
    .setProtectedHeader({ alg: keys.alg, kid: keys.kid, typ })
    .setIssuer(DEFAULT_ISSUER)
    .setAudience(DEFAULT_AUDIENCE)
    .setSubject("alice")
    .sign(keys.privateKey);
}

describe("auth-service", () => {
  it("issues an ES256 token with iss, aud, sub, group and a short expiry for a demo user", async () => {
    const { status, body } = await post(`${authUrl}/authorize`, {
      username: "alice",
      password: "wonderland",
    });
    expect(status).toBe(200);
    const token = (body as { token: string }).token;
    const [header, payload] = token
      .split(".")
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, "base64url").toString()));
    expect(header).toMatchObject({ alg: "ES256", kid: keys.kid });
    expect(payload).toMatchObject({
      iss: DEFAULT_ISSUER,
      aud: DEFAULT_AUDIENCE,
      sub: "alice",
      group: "admins",
    });
    expect(payload.exp - payload.iat).toBe(900);
  });

  it("refuses a wrong password with 401 and a missing field with 400 naming it", async () => {
    const wrong = await post(`${authUrl}/authorize`, { username: "alice", password: "nope" });
    expect(wrong.status).toBe(401);
    const missing = await post(`${authUrl}/authorize`, { username: "alice" });
    expect(missing.status).toBe(400);
    expect((missing.body as { message: string }).message).toBe("body must have required property 'password'");
  });

  it("publishes the public key, and only the public key, as a JWKS", async () => {
    const { status, body, headers } = await json<{ keys: Record<string, string>[] }>(
      `${authUrl}/.well-known/jwks.json`,
    );
    expect(status).toBe(200);
    expect(headers.get("cache-control")).toContain("max-age");
    expect(body.keys).toHaveLength(1);
    expect(body.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", kid: keys.kid, alg: "ES256", use: "sig" });
    expect(body.keys[0]).not.toHaveProperty("d");
  });

  it("accepts a valid token on /verify-session-token", async () => {
    const token = await issueToken(keys, alice, settings);
    const { status, body } = await json(`${authUrl}/verify-session-token`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ valid: true, sub: "alice", group: "admins" });
  });

  it("rejects expired, wrong-key, wrong-audience, wrong-issuer, alg none, HS256, future-dated, overlong and wrongly typed tokens", async () => {
    for (const [name, { token, reason }] of Object.entries(await badTokens())) {
      const { status, body } = await json<{ valid: boolean; reason: string }>(
        `${authUrl}/verify-session-token`,
        {
          headers: { authorization: `Bearer ${token}` },
        },
      );
      expect({ name, status, valid: body.valid }).toEqual({ name, status: 401, valid: false });
      expect(body.reason, name).toMatch(reason);
    }
  });

  it("parses demo users and refuses a malformed list", () => {
    expect(parseDemoUsers("a:b:c, d:e:f")).toEqual([
      { username: "a", password: "b", group: "c" },
      { username: "d", password: "e", group: "f" },
    ]);
    expect(() => parseDemoUsers("a:b")).toThrow(/user:password:group/);
  });

  it("accepts a token whose iat is a little ahead (clock skew within a minute) and one without typ", async () => {
    const now = Math.floor(Date.now() / 1000);
    const ahead = await signed(keys, { iat: now + 30, exp: now + 330 });
    const noTyp = await new SignJWT({ group: "users" })
      .setProtectedHeader({ alg: keys.alg, kid: keys.kid })
      .setIssuer(DEFAULT_ISSUER)
      .setAudience(DEFAULT_AUDIENCE)
      .setSubject("bob")
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(keys.privateKey);
    for (const token of [ahead, noTyp]) {
      const { status } = await json(`${authUrl}/verify-session-token`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(status).toBe(200);
    }
  });
});

describe("a backend verifying against the JWKS (AUTH_MODE=jwks)", () => {
  const message = { to: "dave@example.com", subject: "jwt", body: "checked locally" };

  it("accepts a valid token", async () => {
    const token = await issueToken(keys, alice, settings);
    const { status } = await post(`${mailingUrl}/send-message`, message, {
      authorization: `Bearer ${token}`,
    });
    expect(status).toBe(202);
  });

  it("rejects every bad token with 401", async () => {
    for (const [name, { token }] of Object.entries(await badTokens())) {
      const { status } = await post(`${mailingUrl}/send-message`, message, {
        authorization: `Bearer ${token}`,
      });
      expect({ name, status }).toEqual({ name, status: 401 });
    }
  });
});
