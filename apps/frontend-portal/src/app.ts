import type { FastifyReply, FastifyRequest } from "fastify";
import type { ServiceIdentity } from "../../shared/src/identity.ts";
import { createRemoteJWKSet } from "jose";
import { bearerToken, verifyAccessToken, type Principal } from "../../shared/src/jwt.ts";
import { createService, type Service } from "../../shared/src/service.ts";
import type { PortalConfig } from "./config.ts";
import { imageForm, loginForm, messageForm } from "./forms.ts";
import { renderPage, type ContentBody, type Flash, type ImagesBody, type MessagesBody } from "./page.ts";
import { fetchPart, type Part } from "./parts.ts";
import { clearFlashCookie, flashCookie, readFlash } from "./flash.ts";
import { readCookie, sessionCookie, sessionUser, type SessionUser } from "./session.ts";

interface LoginBody extends Record<string, unknown> {
  token?: string;
  expiresIn?: number;
}

export function createPortal(config: PortalConfig, identity: ServiceIdentity): Service {
  const service = createService({
    identity,
    peers: config.peers,
    propagateTraceHeaders: config.propagateTraceHeaders,
    logLevel: config.logLevel,
    // The edge of the app: routing headers are the portal's to set, never the browser's.
    acceptRoutingHeaders: false,
  });
  const { app } = service;
  const authUrl = config.peers["auth-service"]?.url ?? "http://auth-service";
  const jwks = createRemoteJWKSet(new URL(`${authUrl}/.well-known/jwks.json`), { timeoutDuration: 2000 });
  const timeoutMs = config.peerTimeoutMs;

  /** The caller's token: the session cookie (browser) or an Authorization header (API, load tests). */
  function tokenOf(request: FastifyRequest): string | undefined {
    return (
      bearerToken(request.headers.authorization) ?? readCookie(request.headers.cookie, config.sessionCookie)
    );
  }

  /** Who the cookie says is logged in: for display and the forms' login check only. */
  function userOf(request: FastifyRequest): SessionUser | undefined {
    return sessionUser(tokenOf(request));
  }

  /**
   * The caller, from a token verified against the auth-service's JWKS (as the backends' AUTH_MODE=jwks
   * does); undefined without a valid token or when the keys cannot be fetched. Only this user becomes
   * routing headers, which the mesh routes on and AUTH_MODE=none backends trust.
   */
  async function verifiedUserOf(request: FastifyRequest): Promise<Principal | undefined> {
    const token = tokenOf(request);
    if (!token) return undefined;
    try {
      return await verifyAccessToken(token, jwks, config.jwt);
    } catch (error) {
      request.log.debug({ err: error }, "token not verified, no routing headers");
      return undefined;
    }
  }

  const content = (request: FastifyRequest, bsType: number, verifiedUser?: Principal) =>
    fetchPart<ContentBody>(service, request, "content-generator", `/generate-bs?bs-type=${bsType}`, {
      timeoutMs,
      verifiedUser,
    });

  /** Every part of the page, fetched in parallel. */
  async function overview(request: FastifyRequest) {
    const user = userOf(request);
    const verifiedUser = await verifiedUserOf(request);
    const [images, messages, ...contentParts] = await Promise.all([
      fetchPart<ImagesBody>(service, request, "image-processor", "/images?limit=5", {
        timeoutMs,
        verifiedUser,
      }),
      fetchPart<MessagesBody>(service, request, "mailing-service", "/messages?limit=5", {
        timeoutMs,
        verifiedUser,
      }),
      ...Array.from({ length: config.contentParts }, (_, index) =>
        content(request, (index % 3) + 1, verifiedUser),
      ),
    ]);
    return { user, images, messages, content: contentParts };
  }

  async function sendPage(request: FastifyRequest, reply: FastifyReply, flash?: Flash) {
    const parts = await overview(request);
    const html = renderPage({ title: config.title, portal: service.served(request), ...parts, flash });
    return reply.type("text/html; charset=utf-8").send(html);
  }

  /**
   * Post/redirect/get: a form's outcome travels to the next page view in a short-lived cookie, so a
   * reload shows the page again instead of posting the form a second time.
   */
  function redirectWithFlash(reply: FastifyReply, flash: Flash) {
    reply.header("set-cookie", flashCookie(flash));
    return reply.code(303).header("location", "/").send();
  }

  /** The part's outcome, with the trace of the form request that called it (compared on the next page). */
  const partFlash = (request: FastifyRequest, part: Part, success: string, failure: string): Flash => {
    const traceId = service.served(request).traceId;
    return part.ok
      ? { kind: "success", title: success, details: [], part, traceId }
      : {
          kind: "error",
          title: failure,
          details: [`${part.peer}: ${part.status || "no answer"} ${part.error ?? ""}`],
          part,
          traceId,
        };
  };

  const loginRequired: Flash = {
    kind: "error",
    title: "Log in first",
    details: ["this form needs a logged-in user"],
  };

  // ---- Browser pages ----

  app.get("/", async (request, reply) => {
    const flash = readFlash(request.headers.cookie);
    if (flash) reply.header("set-cookie", clearFlashCookie());
    return sendPage(request, reply, flash);
  });

  app.post<{ Body: Record<string, unknown> }>("/login", async (request, reply) => {
    const form = loginForm(request.body ?? {});
    if (!form.ok)
      return redirectWithFlash(reply, { kind: "error", title: "Cannot log in", details: form.errors });
    const part = await fetchPart<LoginBody>(service, request, "auth-service", "/authorize", {
      method: "POST",
      json: form.value,
      timeoutMs,
    });
    if (!part.ok || !part.body?.token)
      return redirectWithFlash(reply, partFlash(request, part, "", "Login failed"));
    reply.header(
      "set-cookie",
      sessionCookie(config.sessionCookie, part.body.token, part.body.expiresIn ?? 900, config.secureCookie),
    );
    return reply.code(303).header("location", "/").send();
  });

  app.post("/logout", async (_request, reply) => {
    reply.header("set-cookie", sessionCookie(config.sessionCookie, "", 0, config.secureCookie));
    return reply.code(303).header("location", "/").send();
  });

  app.post<{ Body: Record<string, unknown> }>("/upload-image", async (request, reply) => {
    const token = tokenOf(request);
    if (!userOf(request)) return redirectWithFlash(reply, loginRequired);
    const form = imageForm(request.body ?? {});
    if (!form.ok)
      return redirectWithFlash(reply, { kind: "error", title: "Image not saved", details: form.errors });
    const part = await fetchPart(service, request, "image-processor", "/save-image", {
      method: "POST",
      json: form.value,
      token,
      verifiedUser: await verifiedUserOf(request),
      timeoutMs,
    });
    const flash = partFlash(
      request,
      part,
      `Image saved as "${String((part.body?.["image"] as { name?: string })?.name ?? "")}"`,
      "Image not saved",
    );
    return redirectWithFlash(reply, flash);
  });

  app.post<{ Body: Record<string, unknown> }>("/send-message", async (request, reply) => {
    const token = tokenOf(request);
    if (!userOf(request)) return redirectWithFlash(reply, loginRequired);
    const form = messageForm(request.body ?? {});
    if (!form.ok)
      return redirectWithFlash(reply, { kind: "error", title: "Message not sent", details: form.errors });
    const part = await fetchPart(service, request, "mailing-service", "/send-message", {
      method: "POST",
      json: form.value,
      token,
      verifiedUser: await verifiedUserOf(request),
      timeoutMs,
    });
    return redirectWithFlash(reply, partFlash(request, part, "Message queued", "Message not sent"));
  });

  // ---- JSON API (backend-for-frontend), used by scripts, tests and load tests ----

  /** Relays a part: the backend's status (502 when it did not answer) and who served what. */
  const relay = (request: FastifyRequest, reply: FastifyReply, part: Part) =>
    reply.code(part.status === 0 ? 502 : part.status).send({
      ok: part.ok,
      ...(part.error ? { error: part.error } : {}),
      result: part.body,
      parts: [{ peer: part.peer, status: part.status, latencyMs: part.latencyMs, served: part.served }],
      served: service.served(request),
    });

  app.get<{ Querystring: { "bs-type": number } }>(
    "/api/content",
    {
      schema: {
        querystring: {
          type: "object",
          properties: { "bs-type": { type: "integer", enum: [1, 2, 3], default: 1 } },
        },
      },
    },
    async (request, reply) =>
      relay(request, reply, await content(request, request.query["bs-type"], await verifiedUserOf(request))),
  );

  app.get("/api/overview", async (request) => {
    const parts = await overview(request);
    return { ...parts, served: service.served(request) };
  });

  app.post<{ Body: { username: string; password: string } }>(
    "/api/login",
    {
      schema: {
        body: {
          type: "object",
          required: ["username", "password"],
          properties: { username: { type: "string" }, password: { type: "string" } },
        },
      },
    },
    async (request, reply) => {
      const part = await fetchPart<LoginBody>(service, request, "auth-service", "/authorize", {
        method: "POST",
        json: request.body,
        timeoutMs,
      });
      if (part.ok && part.body?.token) {
        reply.header(
          "set-cookie",
          sessionCookie(
            config.sessionCookie,
            part.body.token,
            part.body.expiresIn ?? 900,
            config.secureCookie,
          ),
        );
      }
      return relay(request, reply, part);
    },
  );

  for (const [route, peer, path] of [
    ["/api/images", "image-processor", "/save-image"],
    ["/api/messages", "mailing-service", "/send-message"],
  ] as const) {
    app.post<{ Body: unknown }>(route, async (request, reply) => {
      const part = await fetchPart(service, request, peer, path, {
        method: "POST",
        json: request.body ?? {},
        token: tokenOf(request),
        verifiedUser: await verifiedUserOf(request),
        timeoutMs,
      });
      return relay(request, reply, part);
    });
  }

  return service;
}
