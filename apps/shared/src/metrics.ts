import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ServiceIdentity } from "./identity.ts";

export interface ServiceMetrics {
  readonly registry: Registry;
  readonly requestDuration: Histogram<"method" | "route" | "status_code">;
  readonly peerCalls: Counter<"peer" | "status">;
  /** Requests being served right now: what a graceful shutdown waits for. */
  readonly inFlight: Gauge;
}

/**
 * One registry per service instance (not prom-client's global one) so several services can run in
 * one process, as they do in the tests. Service and version are default labels: the same numbers
 * Istio's sidecar reports, seen from inside the app, to compare in the performance chapter.
 */
export function createServiceMetrics(identity: ServiceIdentity): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: identity.service, version: identity.version });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requestDuration: new Histogram({
      name: "http_server_request_duration_seconds",
      help: "Duration of inbound HTTP requests by route and status",
      labelNames: ["method", "route", "status_code"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    peerCalls: new Counter({
      name: "http_client_requests_total",
      help: "Outbound calls to peer services by peer and HTTP status (or 'error')",
      labelNames: ["peer", "status"],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: "http_server_requests_in_flight",
      help: "Inbound HTTP requests accepted and not yet answered",
      registers: [registry],
    }),
  };
}
