import { defineRule, type Report } from "../rule.ts";
import { asObj, asStringMap, describe, type Resource } from "../resource.ts";
import { selects, type ResourceIndex } from "../resource-index.ts";
import {
  anyAmbient,
  isServiceRef,
  l7AuthorizationReason,
  targetRefsOf,
  USE_WAYPOINT,
} from "./ambient-util.ts";
import { capturedByAmbient, podWorkloads, waypointsOf, type PodWorkload } from "./ambient-workloads.ts";
import { servicesOf } from "./mesh.ts";

/**
 * Whether an AuthorizationPolicy of the workload's namespace applies to it, as Kiali decides it:
 * targetRefs to a Service that selects it (a Gateway target is the waypoint itself), else its
 * selector, else the whole namespace.
 */
function appliesTo(index: ResourceIndex, ap: Resource, p: PodWorkload): boolean {
  const refs = targetRefsOf(ap);
  if (refs.length) {
    const names = new Set(servicesOf(index.allOf("Service"), p.r.ns, p.labels).map((s) => s.name));
    return refs.some((ref) => isServiceRef(ref) && names.has(ref.name));
  }
  const sel = asStringMap(asObj(asObj(ap.object.spec).selector).matchLabels);
  return selects(sel, p.labels);
}

export default defineRule({
  code: "ambient/authz-without-waypoint",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1317"],
  title: "Ambient workloads with L7 authorization have a waypoint",
  description:
    "In Ambient, ztunnel enforces only L4 authorization (principals, namespaces, IP blocks, ports). An AuthorizationPolicy with L7 attributes (HTTP methods, paths or hosts, request principals, `when` on request headers or JWT claims) needs a waypoint; without one, ztunnel cannot evaluate those rules (an ALLOW policy then allows less than written, a DENY policy denies more). Reported for every workload ztunnel captures that such a policy of its namespace applies to (by a Service targetRef, its selector, or namespace-wide) when no existing waypoint serves it: none enrols it (`istio.io/use-waypoint` on the pod, its Services or its namespace), it or its Service opts out with `none`, or the waypoint named cannot serve it (see `ambient/waypoint-not-found`). Gateway pods and sidecar workloads are not reported, nor workloads whose namespace the files do not declare (it may enrol them) unless their own label names a waypoint.",
  hint: "enrol the workload with a waypoint (`istio.io/use-waypoint` on its namespace or Service, and a Gateway of class istio-waypoint), or keep the policy to L4 attributes",
  check({ index }) {
    const out: Report[] = [];
    if (!anyAmbient(index)) return out;
    const l7 = index
      .allOf("AuthorizationPolicy")
      .map((ap) => [ap, l7AuthorizationReason(ap)] as const)
      .filter((x): x is readonly [Resource, string] => x[1] !== undefined);
    if (!l7.length) return out;
    for (const p of podWorkloads(index)) {
      if (!capturedByAmbient(index, p)) continue;
      // A namespace the files do not declare may enrol it with a waypoint: unknown, not missing.
      if (index.namespaceLabels(p.r.ns) === undefined && p.labels[USE_WAYPOINT] === undefined) continue;
      // A waypoint this render cannot see (exists undefined) is given the benefit of the doubt.
      if (waypointsOf(index, p).some((u) => u.status.ok !== false)) continue;
      const applying = l7.filter(([ap]) => ap.ns === p.r.ns && appliesTo(index, ap, p));
      if (!applying.length) continue;
      out.push({
        resource: p.r,
        path: ["metadata", "name"],
        message: `${describe(p.r)} is in Ambient with no waypoint, but L7 AuthorizationPolicies apply to it, which ztunnel cannot enforce: ${applying.map(([ap, why]) => `${describe(ap)} (${why})`).join(", ")}`,
      });
    }
    return out;
  },
});
