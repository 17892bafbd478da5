import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from "fastify";
import type { IncomingMessage } from "node:http";
import type { Writable } from "node:stream";
import { callPeer, PeerError, type PeerRequest, type PeerResponse } from "./http-client.ts";
import type { ServiceIdentity } from "./identity.ts";
import { createServiceMetrics, type ServiceMetrics } from "./metrics.ts";
import type { Peer } from "./peers.ts";
import { outboundHeaders, traceContextFrom, type TraceContext } from "./trace.ts";

declare module "fastify" {
  interface FastifyRequest {
    trace: TraceContext;
  }
}

/** The "served by" stamp every response body carries, so the browser can show who answered. */
export interface Served {
  readonly service: string;
  readonly version: string;
  readonly pod: string;
  readonly traceId: string;
}

export type ReadinessCheck = () => Promise<unknown>;

export interface ServiceOptions {
  readonly identity: ServiceIdentity;
  readonly peers: Record<string, Peer>;
  readonly propagateTraceHeaders: boolean;
  readonly readinessChecks?: Record<string, ReadinessCheck>;
  readonly logLevel?: string;
  /** Where JSON logs go; stdout unless a test wants to read them. */
  readonly logStream?: Writable;
  /** Deadline of the /test-services-conns probe per peer. */
  readonly peerProbeTimeoutMs?: number;
  /** False drops inbound x-workshop-user/-group (the portal sets them itself). Default true. */
  readonly acceptRoutingHeaders?: boolean;
}

export interface Service {
  readonly app: FastifyInstance;
  readonly identity: ServiceIdentity;
  readonly peers: Record<string, Peer>;
  readonly metrics: ServiceMetrics;
  /** Flipped on SIGTERM: /readyz fails so the endpoint is removed while requests still finish. */
  readonly lifecycle: { shuttingDown: boolean };
  served(request: FastifyRequest): Served;
  /** Calls a peer on behalf of `request`, carrying its trace (unless propagation is off). */
  callPeer<T = unknown>(
    request: FastifyRequest,
    peer: string,
    path: string,
    init?: Partial<PeerRequest>,
  ): Promise<PeerResponse<T>>;
}

const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics"]);

export function createService(options: ServiceOptions): Service {
  const { identity, peers } = options;
  const metrics = createServiceMetrics(identity);
  const lifecycle = { shuttingDown: false };
  const acceptRouting = options.acceptRoutingHeaders ?? true;
  // The trace context is built once per request, where the request logger is created, so every log
  // line of the request carries the trace id; the onRequest hook then hangs it on the request.
  const contexts = new WeakMap<IncomingMessage, TraceContext>();

  const app = Fastify({
    logger: {
      level: options.logLevel ?? "info",
      base: { service: identity.service, version: identity.version, pod: identity.pod },
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
      formatters: { level: (label: string) => ({ level: label }) },
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    // One access line per request (below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory(logger, bindings, childOptions, rawRequest) {
      const context = traceContextFrom(rawRequest.headers, undefined, acceptRouting);
      contexts.set(rawRequest as IncomingMessage, context);
      return logger.child(
        { ...bindings, traceId: context.traceId, requestId: context.requestId },
        childOptions,
      );
    },
  });

  app.decorateRequest("trace", null as unknown as TraceContext);

  app.addHook("onRequest", async (request, reply) => {
    request.trace = contexts.get(request.raw) ?? traceContextFrom(request.headers, undefined, acceptRouting);
    metrics.inFlight.inc();
    // "close" fires once the response is sent or the client went away, so the gauge cannot leak.
    reply.raw.once("close", () => metrics.inFlight.dec());
  });

  app.addHook("onSend", async (request, reply) => {
    reply.header("x-service", identity.service);
    reply.header("x-version", identity.version);
    reply.header("x-pod", identity.pod);
    reply.header("x-trace-id", request.trace.traceId);
    reply.header("x-request-id", request.trace.requestId);
    // While draining, tell keep-alive clients to reconnect (to a pod that stays); otherwise their
    // idle connections would hold the listener open until the keep-alive timeout.
    if (lifecycle.shuttingDown) reply.header("connection", "close");
  });

  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    const seconds = reply.elapsedTime / 1000;
    metrics.requestDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      seconds,
    );
    if (!QUIET_ROUTES.has(route)) {
      request.log.info(
        { method: request.method, url: request.url, status: reply.statusCode, durationMs: reply.elapsedTime },
        "request completed",
      );
    }
  });

  const served = (request: FastifyRequest): Served => ({ ...identity, traceId: request.trace.traceId });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: "not_found",
      message: `no route ${request.method} ${request.url.split("?")[0]}`,
      served: served(request),
    });
  });

  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    const status = error.validation ? 400 : (error.statusCode ?? 500);
    // Errors we raised on purpose carry a status and a message meant for the caller; anything else
    // is a bug whose details belong in the log, found there by the trace id.
    const deliberate = error.statusCode !== undefined || error.validation !== undefined;
    if (status >= 500) request.log.error({ err: error }, "request failed");
    reply.code(status).send({
      error: errorCode(status),
      message: deliberate ? error.message : "internal error, see the service log for this trace id",
      served: served(request),
    });
  });

  // Forms posted by the portal's browser page; parsed here so no extra plugin is needed.
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string" },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  const service: Service = {
    app,
    identity,
    peers,
    metrics,
    lifecycle,
    served,
    async callPeer(request, peer, path, init = {}) {
      const target = peers[peer];
      if (!target) throw new Error(`unknown peer ${peer}`);
      return callPeer(
        peer,
        target.url + path,
        {
          timeoutMs: 3000,
          ...init,
          headers: { ...outboundHeaders(request.trace, options.propagateTraceHeaders), ...init.headers },
        },
        { counter: metrics.peerCalls },
      );
    },
  };

  registerStandardRoutes(service, options);
  return service;
}

function registerStandardRoutes(service: Service, options: ServiceOptions): void {
  const { app, metrics, lifecycle } = service;
  const startedAt = new Date();
  const checks = options.readinessChecks ?? {};
  const probeTimeoutMs = options.peerProbeTimeoutMs ?? 1000;

  app.get("/status", async (request) => ({
    status: "ok",
    startedAt: startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    served: service.served(request),
  }));

  // Liveness: the process can answer. Never checks dependencies, or a database outage would make
  // Kubernetes restart every pod that talks to it.
  app.get("/healthz", async () => ({ ok: true }));

  // Readiness: this pod's own data stores answer. HTTP peers are not checked here (a slow peer
  // would take every caller out of its Service); /test-services-conns reports on them instead.
  app.get("/readyz", async (_request, reply) => {
    if (lifecycle.shuttingDown) return reply.code(503).send({ ready: false, reason: "shutting down" });
    const results: Record<string, string> = {};
    let ready = true;
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), 1000, `${name} readiness check`);
          results[name] = "ok";
        } catch (error) {
          ready = false;
          results[name] = error instanceof Error ? error.message : String(error);
        }
      }),
    );
    return reply.code(ready ? 200 : 503).send({ ready, checks: results });
  });

  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.get("/test-services-conns", async (request, reply) => {
    const results = await Promise.all(
      Object.values(service.peers).map(async (peer) => {
        try {
          const response = await service.callPeer(request, peer.name, "/status", {
            timeoutMs: probeTimeoutMs,
          });
          return {
            name: peer.name,
            url: peer.url,
            ok: response.ok,
            httpStatus: response.status,
            latencyMs: response.latencyMs,
          };
        } catch (error) {
          const message = error instanceof PeerError ? error.message : String(error);
          return { name: peer.name, url: peer.url, ok: false, error: message };
        }
      }),
    );
    const failing = results.filter((result) => !result.ok).map((result) => result.name);
    return reply
      .code(failing.length === 0 ? 200 : 500)
      .send({ ok: failing.length === 0, failing, peers: results, served: service.served(request) });
  });
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function errorCode(status: number): string {
  const codes: Record<number, string> = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    502: "bad_gateway",
    503: "unavailable",
    504: "gateway_timeout",
  };
  return codes[status] ?? (status >= 500 ? "internal_error" : "client_error");
}
