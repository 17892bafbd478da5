/**
 * Shared by the Ambient policy rules (`ambient/selector-policy`, `ambient/policy-without-waypoint`,
 * `ambient/route-not-captured`, `ambient/route-other-namespace`): which policies need L7 in an
 * Ambient namespace, which pods a selector really hands to ztunnel, whether what a policy attaches
 * to goes through a waypoint, and which Ambient Services a VirtualService or DestinationRule is for.
 * It builds on ambient-util.ts (the Ambient model) and follows Kiali's ambient policy checker, with
 * the refinements the rule descriptions state (pods with their own proxy, ingress Gateways).
 */
import type { YamlPath } from "../../yaml-source.ts";
import { asArray, asObj, asString, labelsOf, type Resource } from "../resource.ts";
import type { ResourceIndex, Workload } from "../resource-index.ts";
import { policySelector } from "../istio.ts";
import {
  isAmbientNamespace,
  isEnrolledForWaypoint,
  isServiceRef,
  l7AuthorizationReason,
  l7DestinationRuleReason,
  l7TelemetryReason,
  targetRefsOf,
  vsNeedsWaypoint,
  waypointReference,
  WAYPOINT_CLASS,
} from "./ambient-util.ts";
import { GWAPI } from "./gwapi-util.ts";
import { capturedByAmbient, podWorkloadOf } from "./ambient-workloads.ts";
import { servicesOf } from "./mesh.ts";

/** An L7 policy in an Ambient namespace, with why it needs a waypoint. */
export interface L7Policy {
  r: Resource;
  /** What in it is L7: "HTTP methods", "JWT validation"... */
  why: string;
}

/**
 * The local AuthorizationPolicies with L7 rules, RequestAuthentications and WasmPlugins (L7 by
 * nature) and Telemetries with L7 settings whose namespace is in Ambient, as Kiali selects them:
 * by the policy's namespace, so a mesh-wide policy in a root namespace that is not itself in
 * Ambient is left alone.
 */
export function ambientL7Policies(index: ResourceIndex): L7Policy[] {
  const out: L7Policy[] = [];
  const add = (kind: string, why: (r: Resource) => string | undefined) => {
    for (const r of index.of(kind)) {
      if (!isAmbientNamespace(index, r.ns)) continue;
      const w = why(r);
      if (w) out.push({ r, why: w });
    }
  };
  // Istio's docs (ambient policy migration) add CUSTOM and AUDIT: only a waypoint runs them.
  add("AuthorizationPolicy", (r) => {
    const action = asString(asObj(r.object.spec).action);
    if (action === "CUSTOM" || action === "AUDIT") return `action ${action}`;
    return l7AuthorizationReason(r);
  });
  add("RequestAuthentication", () => "JWT validation");
  add("WasmPlugin", () => "a Wasm extension");
  add("Telemetry", l7TelemetryReason);
  return out;
}

/** What runs the policy instead, for messages: ztunnel cannot do the L7 part. */
export function whatZtunnelLacks(kind: string): string {
  switch (kind) {
    case "RequestAuthentication":
      return "ztunnel validates no JWTs";
    case "WasmPlugin":
      return "ztunnel runs no Wasm";
    case "Telemetry":
      return "ztunnel has no HTTP telemetry";
    default:
      // Istio's docs: ztunnel fails safe, enforcing such a policy as a DENY.
      return "ztunnel, which cannot evaluate L7 rules, enforces it as a DENY policy";
  }
}

/**
 * Whether ztunnel, not a proxy of the pod's own, carries a workload's traffic: the workload rules'
 * model (ambient-workloads.ts, `capturedByAmbient`), so that the policy rules and the workload rules
 * never disagree about a pod. Pods with a sidecar (Istio does not capture them in Ambient), gateway
 * and waypoint pods, gateways declared by configuration (no manifest here), WorkloadEntries (VMs run
 * a sidecar) and the mesh's other clusters' pods run Envoy or are not this cluster's: selector
 * policies are theirs to apply.
 */
export function capturedByZtunnel(index: ResourceIndex, w: Workload): boolean {
  const p = podWorkloadOf(index, w);
  return p !== undefined && capturedByAmbient(index, p);
}

/** The workloads a policy's selector matches in its namespace; undefined without a selector. */
export function selectedWorkloads(
  index: ResourceIndex,
  r: Resource,
): { workloads: Workload[]; path: YamlPath } | undefined {
  const sel = policySelector(r);
  if (!sel) return undefined;
  return { workloads: index.workloadsSelected(sel.labels, r.ns), path: sel.path };
}

/**
 * Whether traffic to a workload goes through a waypoint: its own `istio.io/use-waypoint` label
 * (else its namespace's), or that of a Service that selects it (traffic addressed to a Service
 * uses the Service's waypoint).
 */
export function workloadEnrolled(index: ResourceIndex, w: Workload): boolean {
  const nsLabels = index.namespaceLabels(w.ns);
  if (isEnrolledForWaypoint(w.labels, nsLabels)) return true;
  return servicesOf(index.allOf("Service"), w.ns, w.labels).some((s) =>
    isEnrolledForWaypoint(labelsOf(s), nsLabels),
  );
}

/**
 * Whether a waypoint serves anything in a namespace: the namespace, or a Service, ServiceEntry or
 * pod in it, is enrolled (a waypoint applies the namespace-wide Telemetry of the Services it serves).
 */
export function namespaceServed(index: ResourceIndex, ns: string): boolean {
  const nsLabels = index.namespaceLabels(ns);
  if (isEnrolledForWaypoint(undefined, nsLabels)) return true;
  for (const kind of ["Service", "ServiceEntry"])
    if (index.allOf(kind).some((r) => r.ns === ns && isEnrolledForWaypoint(labelsOf(r), nsLabels)))
      return true;
  return index.workloads.some((w) => w.ns === ns && isEnrolledForWaypoint(w.labels, nsLabels));
}

/** Whether a Service or ServiceEntry is enrolled with a waypoint (its label, else its namespace's). */
export const resourceEnrolled = (index: ResourceIndex, r: Resource): boolean =>
  isEnrolledForWaypoint(labelsOf(r), index.namespaceLabels(r.ns));

/** Whether anything in the render (a Namespace, Service, ServiceEntry or pod) names this waypoint. */
export function waypointInUse(index: ResourceIndex, gw: Resource): boolean {
  const names = (own: Record<string, string> | undefined, ns: string) => {
    const ref = waypointReference(own, ns, index.namespaceLabels(ns));
    return ref !== undefined && ref.name === gw.name && ref.ns === gw.ns;
  };
  if (index.allOf("Namespace").some((n) => names(undefined, n.name))) return true;
  for (const kind of ["Service", "ServiceEntry"])
    if (index.allOf(kind).some((r) => names(labelsOf(r), r.ns))) return true;
  return index.workloads.some((w) => names(w.labels, w.ns));
}

/** How a policy's `targetRefs` reach a waypoint. */
export interface TargetRefCheck {
  /** At least one ref names something in the render (the Kiali fallback to selector logic is off). */
  resolved: boolean;
  /** The refs whose target does not go through a waypoint, with why. */
  missing: Array<{ path: YamlPath; what: string }>;
}

/**
 * Checks a policy's `targetRefs`: a Service or ServiceEntry must be enrolled with a waypoint; a
 * waypoint Gateway must be in use (something names it, or the policy's namespace is enrolled); an
 * ingress or egress Gateway runs its own Envoy and needs no waypoint. Refs to things the render
 * does not contain are left out.
 */
export function checkTargetRefs(index: ResourceIndex, r: Resource): TargetRefCheck {
  const out: TargetRefCheck = { resolved: false, missing: [] };
  for (const ref of targetRefsOf(r)) {
    if (isServiceRef(ref) || (ref.kind === "ServiceEntry" && ref.group === "networking.istio.io")) {
      const target = index.allOf(ref.kind).find((s) => s.ns === r.ns && s.name === ref.name);
      if (!target) continue;
      out.resolved = true;
      if (!resourceEnrolled(index, target))
        out.missing.push({
          path: ref.path,
          what: `${ref.kind} ${r.ns}/${ref.name}, which is not enrolled with a waypoint (no \`istio.io/use-waypoint\` on it or its namespace, or \`none\`)`,
        });
    } else if (ref.kind === "Gateway" && ref.group === GWAPI) {
      const gw = index
        .allOf("Gateway")
        .find((g) => g.group === GWAPI && g.ns === r.ns && g.name === ref.name);
      if (!gw) continue;
      out.resolved = true;
      if (asString(asObj(gw.object.spec).gatewayClassName) !== WAYPOINT_CLASS) continue;
      if (waypointInUse(index, gw) || isEnrolledForWaypoint(undefined, index.namespaceLabels(r.ns))) continue;
      out.missing.push({
        path: ref.path,
        what: `waypoint Gateway ${gw.ns}/${gw.name}, which no namespace, Service or pod uses (\`istio.io/use-waypoint: ${gw.name}\`), so no traffic goes through it`,
      });
    } else if (ref.kind === "GatewayClass") {
      out.resolved = true;
    }
  }
  return out;
}

/** An L7 route or traffic policy for mesh traffic: a VirtualService or a DestinationRule. */
export interface L7HostConfig {
  r: Resource;
  why: string;
  hosts: Array<{ host: string; path: YamlPath }>;
}

/** The local VirtualServices with HTTP/TLS routes for mesh traffic and DestinationRules with L7 settings. */
export function l7HostConfigs(index: ResourceIndex): L7HostConfig[] {
  const out: L7HostConfig[] = [];
  for (const vs of index.of("VirtualService")) {
    if (!vsNeedsWaypoint(vs)) continue;
    const hosts = asArray(asObj(vs.object.spec).hosts).flatMap((h, i) =>
      typeof h === "string" ? [{ host: h, path: ["spec", "hosts", i] as YamlPath }] : [],
    );
    out.push({ r: vs, why: "HTTP/TLS routes for mesh traffic", hosts });
  }
  for (const dr of index.of("DestinationRule")) {
    const why = l7DestinationRuleReason(dr);
    const host = asObj(dr.object.spec).host;
    if (why && typeof host === "string") out.push({ r: dr, why, hosts: [{ host, path: ["spec", "host"] }] });
  }
  return out;
}

/** What the hosts of an L7 VirtualService or DestinationRule resolve to, for the Ambient rules. */
export interface HostResolution {
  /** Distinct Services in Ambient namespaces, at the first host that names each. */
  ambient: Array<{ svc: Resource; host: string; path: YamlPath; enrolled: boolean }>;
  /**
   * Some host names a Service outside Ambient or a ServiceEntry enrolled with a waypoint: the
   * destination is accounted for, so the fallback on the config's own namespace does not apply.
   */
  accounted: boolean;
}

/**
 * Resolves the hosts as Istio does (a name without a dot is a Service in the config's namespace,
 * full names in the cluster domain of the platform); wildcards and `*` resolve to no one Service.
 */
export function resolveHosts(index: ResourceIndex, c: L7HostConfig): HostResolution {
  const out: HostResolution = { ambient: [], accounted: false };
  const seen = new Set<Resource>();
  for (const { host, path } of c.hosts) {
    if (host === "" || host.startsWith("*")) continue;
    const fqdn = index.fqdn(host, c.r.ns);
    const svc = index.service(fqdn);
    if (svc) {
      if (!isAmbientNamespace(index, svc.ns)) {
        out.accounted = true;
        continue;
      }
      if (seen.has(svc)) continue;
      seen.add(svc);
      out.ambient.push({ svc, host, path, enrolled: resourceEnrolled(index, svc) });
      continue;
    }
    if (index.serviceEntriesFor(fqdn).some((se) => resourceEnrolled(index, se))) out.accounted = true;
  }
  return out;
}
