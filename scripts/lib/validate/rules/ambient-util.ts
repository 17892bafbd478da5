/**
 * Shared by the Ambient-mode rules: which namespaces and pods are in Ambient, which services are
 * enrolled to use a waypoint, which waypoints the render declares, and which Istio settings need a
 * waypoint (L7) to take effect. The semantics follow Kiali's ambient checkers (the KIA codes these
 * rules anchor) and Istio's Ambient labels:
 * - `istio.io/dataplane-mode: ambient` on a Namespace puts its pods in Ambient; on a pod it does so
 *   alone, and `none` on a pod opts it out;
 * - `istio.io/use-waypoint: <name>` on a Namespace, Service or pod enrols it with a waypoint
 *   (`none` opts out), in its own namespace unless `istio.io/use-waypoint-namespace` says another;
 * - a waypoint is a Gateway API Gateway of class `istio-waypoint` (istiod deploys its pods).
 */
import { asArray, asObj, asString, labelsOf, type Obj, type Resource } from "../resource.ts";
import type { ResourceIndex, Workload } from "../resource-index.ts";
import { GWAPI } from "./gwapi-util.ts";

export const DATAPLANE_MODE = "istio.io/dataplane-mode";
export const USE_WAYPOINT = "istio.io/use-waypoint";
export const USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace";
export const WAYPOINT_CLASS = "istio-waypoint";

/** Whether a namespace is in Ambient mode (its `istio.io/dataplane-mode` label). */
export function isAmbientNamespace(index: ResourceIndex, ns: string): boolean {
  return index.namespaceLabels(ns)?.[DATAPLANE_MODE] === "ambient";
}

/** Whether the render has anything in Ambient mode at all: the rules are silent on sidecar meshes. */
export function anyAmbient(index: ResourceIndex): boolean {
  if (index.allOf("Namespace").some((n) => labelsOf(n)[DATAPLANE_MODE] === "ambient")) return true;
  return index.workloads.some((w) => w.labels[DATAPLANE_MODE] === "ambient");
}

/** Whether a workload's pods are captured by Ambient: their own label, else their namespace's. */
export function isAmbientWorkload(index: ResourceIndex, w: Workload): boolean {
  const own = w.labels[DATAPLANE_MODE];
  if (own === "ambient") return true;
  if (own === "none") return false;
  return isAmbientNamespace(index, w.ns);
}

/**
 * Whether something is enrolled with a waypoint: its own `istio.io/use-waypoint` label decides,
 * else its namespace's; an empty value or `none` is not an enrolment.
 */
export function isEnrolledForWaypoint(
  own: Record<string, string> | undefined,
  nsLabels: Record<string, string> | undefined,
): boolean {
  const v = own?.[USE_WAYPOINT] ?? nsLabels?.[USE_WAYPOINT];
  return v !== undefined && v !== "" && v !== "none";
}

/** The waypoint a resource (Service, pod) or its namespace names: `ns/name`, or undefined. */
export function waypointReference(
  own: Record<string, string> | undefined,
  ns: string,
  nsLabels: Record<string, string> | undefined,
): { name: string; ns: string } | undefined {
  const fromOwn = own?.[USE_WAYPOINT];
  const source = fromOwn !== undefined ? own : nsLabels;
  const name = source?.[USE_WAYPOINT];
  if (name === undefined || name === "" || name === "none") return undefined;
  return { name, ns: source?.[USE_WAYPOINT_NAMESPACE] ?? ns };
}

/** The waypoints the render declares: Gateway API Gateways of class `istio-waypoint`. */
export function waypoints(index: ResourceIndex): Resource[] {
  return index
    .allOf("Gateway")
    .filter((g) => g.group === GWAPI && asString(asObj(g.object.spec).gatewayClassName) === WAYPOINT_CLASS);
}

export function findWaypoint(index: ResourceIndex, ref: { name: string; ns: string }): Resource | undefined {
  return waypoints(index).find((g) => g.name === ref.name && g.ns === ref.ns);
}

/** Whether a namespace has a waypoint of its own. */
export function namespaceHasWaypoint(index: ResourceIndex, ns: string): boolean {
  return waypoints(index).some((g) => g.ns === ns);
}

/** `targetRef` and `targetRefs` of a policy, with their paths. */
export function targetRefsOf(
  r: Resource,
): Array<{ kind: string; group: string; name: string; path: Array<string | number> }> {
  const spec = asObj(r.object.spec);
  const out: Array<{ kind: string; group: string; name: string; path: Array<string | number> }> = [];
  const push = (v: unknown, path: Array<string | number>) => {
    const o = asObj(v);
    if (!Object.keys(o).length) return;
    out.push({
      kind: asString(o.kind) ?? "",
      group: asString(o.group) ?? "",
      name: asString(o.name) ?? "",
      path,
    });
  };
  push(spec.targetRef, ["spec", "targetRef"]);
  asArray(spec.targetRefs).forEach((v, i) => push(v, ["spec", "targetRefs", i]));
  return out;
}

export const isServiceRef = (ref: { kind: string; group: string }) =>
  ref.kind === "Service" && (ref.group === "" || ref.group === "core");

const L7_CONDITION_PREFIXES = [
  "request.headers",
  "request.auth.claims",
  "request.auth.principal",
  "request.auth.audiences",
  "request.auth.presenter",
];

/** Why an AuthorizationPolicy needs L7 (a waypoint) in Ambient, or undefined when it is L4 only. */
export function l7AuthorizationReason(ap: Resource): string | undefined {
  for (const rule of asArray(asObj(ap.object.spec).rules).map(asObj)) {
    for (const w of asArray(rule.when).map(asObj)) {
      const key = asString(w.key) ?? "";
      if (L7_CONDITION_PREFIXES.some((p) => key.startsWith(p))) return `the condition on ${key}`;
    }
    for (const to of asArray(rule.to).map(asObj)) {
      const op = asObj(to.operation);
      for (const f of ["methods", "notMethods", "paths", "notPaths", "hosts", "notHosts"])
        if (asArray(op[f]).length) return `HTTP ${f}`;
    }
    for (const from of asArray(rule.from).map(asObj)) {
      const src = asObj(from.source);
      if (asArray(src.requestPrincipals).length || asArray(src.notRequestPrincipals).length)
        return "request principals (JWT)";
    }
  }
  return undefined;
}

function trafficPolicyL7(tp: Obj): string | undefined {
  const hash = asObj(asObj(tp.loadBalancer).consistentHash);
  if (asString(hash.httpHeaderName) || Object.keys(asObj(hash.httpCookie)).length)
    return "HTTP-based consistent hashing";
  if (Object.keys(asObj(asObj(tp.connectionPool).http)).length) return "HTTP connection pool settings";
  if (Object.keys(asObj(tp.outlierDetection)).length) return "outlier detection";
  return undefined;
}

/** Why a DestinationRule needs L7 (a waypoint) in Ambient, or undefined. */
export function l7DestinationRuleReason(dr: Resource): string | undefined {
  const spec = asObj(dr.object.spec);
  const own = trafficPolicyL7(asObj(spec.trafficPolicy));
  if (own) return own;
  for (const s of asArray(spec.subsets).map(asObj)) {
    const r = trafficPolicyL7(asObj(s.trafficPolicy));
    if (r) return `${r} in subset ${asString(s.name) ?? "?"}`;
  }
  return undefined;
}

/** Whether a VirtualService routes HTTP or TLS for mesh traffic (no `gateways`, or `mesh` among them). */
export function vsNeedsWaypoint(vs: Resource): boolean {
  const spec = asObj(vs.object.spec);
  if (!asArray(spec.http).length && !asArray(spec.tls).length) return false;
  const gws = asArray(spec.gateways);
  return gws.length === 0 || gws.includes("mesh");
}

/** Why a Telemetry needs L7 (a waypoint) in Ambient, or undefined. */
export function l7TelemetryReason(t: Resource): string | undefined {
  const spec = asObj(t.object.spec);
  if (asArray(spec.tracing).length) return "tracing";
  if (asArray(spec.accessLogging).length) return "access logging";
  if (asArray(spec.metrics).some((m) => asArray(asObj(m).overrides).length)) return "metric overrides";
  return undefined;
}
