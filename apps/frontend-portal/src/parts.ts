import type { FastifyRequest } from "fastify";
import { PeerError } from "../../shared/src/http-client.ts";
import type { Principal } from "../../shared/src/jwt.ts";
import type { Served, Service } from "../../shared/src/service.ts";

/**
 * One backend call's outcome as the page shows it: what came back, or what went wrong, and who
 * answered. A failed part never fails the page: seeing a 503 card is the fault-injection lesson.
 */
export interface Part<T = Record<string, unknown>> {
  readonly peer: string;
  readonly ok: boolean;
  readonly status: number;
  readonly latencyMs: number;
  readonly body?: T;
  readonly error?: string;
  readonly served?: Served;
}

export interface CallOptions {
  readonly method?: string;
  readonly json?: unknown;
  readonly token?: string;
  /** A user whose token the portal verified; only then are the routing headers set. */
  readonly verifiedUser?: Principal;
  readonly timeoutMs: number;
}

/** Calls a peer for the page; network failures become a part with status 0. */
export async function fetchPart<T extends Record<string, unknown>>(
  service: Service,
  request: FastifyRequest,
  peer: string,
  path: string,
  options: CallOptions,
): Promise<Part<T>> {
  const headers: Record<string, string> = {};
  if (options.token) headers["authorization"] = `Bearer ${options.token}`;
  // The portal is where the user becomes known: it starts the routing headers the mesh can match on,
  // from a verified token only (inbound x-workshop-* headers never get this far).
  if (options.verifiedUser) {
    headers["x-workshop-user"] = options.verifiedUser.sub;
    headers["x-workshop-group"] = options.verifiedUser.group;
  }
  const started = performance.now();
  try {
    const response = await service.callPeer<T | string>(request, peer, path, {
      method: options.method ?? "GET",
      json: options.json,
      headers,
      timeoutMs: options.timeoutMs,
    });
    const body = typeof response.body === "object" && response.body !== null ? response.body : undefined;
    const served = (body as { served?: Served } | undefined)?.served ?? servedFromHeaders(response.headers);
    const message = (body as { message?: unknown } | undefined)?.message;
    return {
      peer,
      ok: response.ok,
      status: response.status,
      latencyMs: response.latencyMs,
      body: body as T | undefined,
      served,
      ...(response.ok
        ? {}
        : {
            error:
              typeof message === "string"
                ? message
                : `HTTP ${response.status}${typeof response.body === "string" && response.body !== "" ? `: ${response.body.slice(0, 200)}` : ""}`,
          }),
    };
  } catch (error) {
    return {
      peer,
      ok: false,
      status: 0,
      latencyMs: Math.round(performance.now() - started),
      error: error instanceof PeerError ? error.message : String(error),
    };
  }
}

/** Envoy's own error replies (e.g. "no healthy upstream") have no body stamp; headers may still say. */
function servedFromHeaders(headers: Headers): Served | undefined {
  const service = headers.get("x-service");
  if (!service) return undefined;
  return {
    service,
    version: headers.get("x-version") ?? "?",
    pod: headers.get("x-pod") ?? "?",
    traceId: headers.get("x-trace-id") ?? "?",
  };
}
