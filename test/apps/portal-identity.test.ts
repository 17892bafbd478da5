// The portal is the edge of the app: the routing headers the mesh matches on (and AUTH_MODE=none
// backends trust) come only from a token it verified, never from the caller; and a mangled cookie
// does not break the page.
import { generateKeyPairSync } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuthService } from "../../apps/auth-service/src/app.ts";
import { authServiceConfigFromEnv } from "../../apps/auth-service/src/config.ts";
import { loadOrGenerateKeys } from "../../apps/auth-service/src/keys.ts";
import { createPortal } from "../../apps/frontend-portal/src/app.ts";
import { portalConfigFromEnv } from "../../apps/frontend-portal/src/config.ts";
import { DEFAULT_AUDIENCE, DEFAULT_ISSUER } from "../../apps/shared/src/authenticate.ts";
import { identityFromEnv } from "../../apps/shared/src/identity.ts";
import type { Service } from "../../apps/shared/src/service.ts";
import { json, listen, post, QUIET } from "./support/stack.ts";

let auth: Service;
let portal: Service;
let portalUrl: string;
let backend: Server;
/** What reached the backends: the headers of every request, by path. */
const seen: { path: string; headers: IncomingHttpHeaders }[] = [];

beforeAll(async () => {
  auth = createAuthService(
    authServiceConfigFromEnv(QUIET),
    identityFromEnv(QUIET, "auth-service"),
    await loadOrGenerateKeys(""),
  );
  const authUrl = await listen(auth);
  // Stands in for content-generator, image-processor and mailing-service, recording what arrives.
  backend = createServer((request, response) => {
    seen.push({ path: request.url ?? "", headers: request.headers });
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ text: "ok", images: [], messages: [] }));
  });
  await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
  const address = backend.address();
  const backendUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const env = {
    ...QUIET,
    ISTIO_SVC_AUTH_SERVICE: authUrl,
    ISTIO_SVC_CONTENT_GENERATOR: backendUrl,
    ISTIO_SVC_IMAGE_PROCESSOR: backendUrl,
    ISTIO_SVC_MAILING_SERVICE: backendUrl,
  };
  portal = createPortal(portalConfigFromEnv(env), identityFromEnv(env, "frontend-portal"));
  portalUrl = await listen(portal);
});

afterAll(async () => {
  await portal?.app.close();
  await auth?.app.close();
  backend?.close();
});

const spoofed = { "x-workshop-user": "mallory", "x-workshop-group": "admins" };

/** The requests the backends received while `action` ran. */
async function reaching(action: () => Promise<unknown>) {
  const before = seen.length;
  await action();
  const arrived = seen.slice(before);
  expect(arrived.length).toBeGreaterThan(0);
  return arrived;
}

describe("routing headers at the portal", () => {
  it("drops x-workshop-* sent by an anonymous caller", async () => {
    const arrived = await reaching(async () => {
      expect((await json(`${portalUrl}/api/content?bs-type=1`, { headers: spoofed })).status).toBe(200);
      expect((await fetch(`${portalUrl}/`, { headers: spoofed })).status).toBe(200);
    });
    for (const request of arrived) {
      expect(request.headers["x-workshop-group"], request.path).toBeUndefined();
      expect(request.headers["x-workshop-user"], request.path).toBeUndefined();
    }
  });

  it("sets them from a verified token, whatever the caller sent", async () => {
    const login = await post(`${portalUrl}/api/login`, { username: "alice", password: "wonderland" });
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] as string;
    const arrived = await reaching(() =>
      json(`${portalUrl}/api/content?bs-type=1`, {
        headers: { cookie, "x-workshop-user": "mallory", "x-workshop-group": "users" },
      }),
    );
    expect(arrived[0]?.headers).toMatchObject({ "x-workshop-user": "alice", "x-workshop-group": "admins" });
  });

  it("does not set them from a token signed with a key the auth service never used", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const forged = await new SignJWT({ group: "admins" })
      .setProtectedHeader({ alg: "ES256", kid: "forged" })
      .setSubject("mallory")
      .setIssuer(DEFAULT_ISSUER)
      .setAudience(DEFAULT_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
    const arrived = await reaching(() =>
      json(`${portalUrl}/api/content?bs-type=1`, { headers: { authorization: `Bearer ${forged}` } }),
    );
    expect(arrived[0]?.headers["x-workshop-group"]).toBeUndefined();
    expect(arrived[0]?.headers["x-workshop-user"]).toBeUndefined();
  });
});

describe("cookies the portal cannot decode", () => {
  it("treats a malformed % escape as no cookie instead of failing every page", async () => {
    for (const cookie of ["workshop_session=%E0%A4%A", "workshop_flash=%zz"]) {
      const response = await fetch(`${portalUrl}/`, { headers: { cookie } });
      expect(response.status, cookie).toBe(200);
      expect((await json(`${portalUrl}/api/overview`, { headers: { cookie } })).status, cookie).toBe(200);
    }
  });
});
