import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/**
 * Headers Envoy and the tracing back ends use to stitch spans together. Istio's sidecar starts and
 * ends spans, but only the application can carry these from an inbound request to its outbound
 * calls, so every service copies them unchanged (see Istio's "distributed tracing" FAQ).
 */
export const TRACE_HEADERS = [
  "x-request-id",
  "traceparent",
  "tracestate",
  "x-b3-traceid",
  "x-b3-spanid",
  "x-b3-parentspanid",
  "x-b3-sampled",
  "x-b3-flags",
  "b3",
  "x-ot-span-context",
  "x-cloud-trace-context",
  "grpc-trace-bin",
  "baggage",
] as const;

/**
 * Headers carried for routing lessons (match on the user's group to send admins to v3, say). They are
 * not trace headers, so they are forwarded even when trace propagation is switched off.
 */
export const ROUTING_HEADERS = ["x-workshop-user", "x-workshop-group"] as const;

export interface TraceContext {
  /** The id a learner can look up in the tracing UI. */
  readonly traceId: string;
  readonly requestId: string;
  /** Trace headers to send on outbound calls, as received (plus any this service had to create). */
  readonly traceHeaders: Readonly<Record<string, string>>;
  readonly routingHeaders: Readonly<Record<string, string>>;
  /** Trace headers exactly as they arrived, before this service added any. */
  readonly received: Readonly<Record<string, string>>;
  /** True when no trace arrived and this service started one. */
  readonly startedHere: boolean;
}

export type RandomHex = (bytes: number) => string;

// Ids come from a pool refilled 4 KiB at a time: one getrandom call per ~100 requests instead of up to
// three per request, which showed up at the top of a CPU profile under load.
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;
const randomHex: RandomHex = (bytes) => {
  if (offset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const hex = pool.toString("hex", offset, offset + bytes);
  offset += bytes;
  return hex;
};

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function pick(headers: IncomingHttpHeaders, names: readonly string[]): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of names) {
    const value = firstValue(headers[name]);
    if (value !== undefined && value !== "") picked[name] = value;
  }
  return picked;
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

export function traceIdFromHeaders(headers: Readonly<Record<string, string>>): string | undefined {
  const parent = headers["traceparent"] && TRACEPARENT.exec(headers["traceparent"]);
  if (parent) return parent[1];
  if (headers["x-b3-traceid"]) return headers["x-b3-traceid"];
  const single = headers["b3"]?.split("-")[0];
  if (single && single.length >= 16) return single;
  return undefined;
}

/**
 * Builds the trace context of an inbound request; starts a trace when none arrived. With
 * `acceptRoutingHeaders` false (the portal, the edge of the app) inbound x-workshop-* headers are
 * ignored: anyone could send them, and backends route and (AUTH_MODE=none) identify on them.
 */
export function traceContextFrom(
  headers: IncomingHttpHeaders,
  random: RandomHex = randomHex,
  acceptRoutingHeaders = true,
): TraceContext {
  const received = pick(headers, TRACE_HEADERS);
  const traceHeaders = { ...received };
  let traceId = traceIdFromHeaders(traceHeaders);
  const startedHere = traceId === undefined;
  if (traceId === undefined) {
    traceId = random(16);
    traceHeaders["traceparent"] = `00-${traceId}-${random(8)}-01`;
  }
  if (traceHeaders["x-request-id"] === undefined) {
    const id = random(16);
    traceHeaders["x-request-id"] =
      `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`;
  }
  return {
    traceId,
    requestId: traceHeaders["x-request-id"],
    traceHeaders,
    routingHeaders: acceptRoutingHeaders ? pick(headers, ROUTING_HEADERS) : {},
    received,
    startedHere,
  };
}

/**
 * Headers for an outbound call made while serving `context`. With propagation off (the broken-traces
 * lesson) the trace headers are dropped and the next hop starts a trace of its own.
 */
export function outboundHeaders(context: TraceContext, propagate: boolean): Record<string, string> {
  return propagate ? { ...context.traceHeaders, ...context.routingHeaders } : { ...context.routingHeaders };
}
