import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { DATAPLANE_MODE, isEnrolledForWaypoint, USE_WAYPOINT } from "./ambient-util.ts";
import {
  capturedByAmbient,
  isGatewayPod,
  podWorkloads,
  runsPods,
  sidecarSource,
} from "./ambient-workloads.ts";

export default defineRule({
  code: "ambient/waypoint-not-ambient",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1312"],
  title: "Workloads enrolled with a waypoint are in Ambient",
  description:
    "`istio.io/use-waypoint` (on the pod template, or on its namespace) sends a workload's traffic through a waypoint, which only happens in Ambient: for a workload ztunnel does not capture (no `istio.io/dataplane-mode: ambient` on it or its namespace, or a sidecar, which the CNI never captures) the label does nothing, and the L7 policies meant for the waypoint are not applied. This rule runs on sidecar meshes too: the label there is the mistake. A workload that opts out with `istio.io/dataplane-mode: none` while its namespace enrols it is not reported (as in Kiali); workloads scaled to zero replicas are not either, nor a workload whose namespace the files do not declare (it may be in Ambient) unless its own `istio.io/dataplane-mode` says otherwise. When the label is the namespace's, the finding is on the Namespace.",
  hint: "label the namespace (or the pod) `istio.io/dataplane-mode: ambient`, or remove `istio.io/use-waypoint`",
  check({ index }) {
    const out: Report[] = [];
    // Most renders enrol nothing: then there is nothing to look at, pod by pod.
    const enrols = (labels: Record<string, string> | undefined) => labels?.[USE_WAYPOINT] !== undefined;
    if (
      !index.workloads.some((w) => enrols(w.labels)) &&
      !index.allOf("Namespace").some((n) => enrols(index.namespaceLabels(n.name)))
    )
      return out;
    const byNamespace = new Map<string, string[]>();
    const localNamespaces = new Set(index.of("Namespace").map((n) => n.name));
    for (const p of podWorkloads(index)) {
      if (isGatewayPod(p) || !runsPods(p)) continue;
      const own = p.labels[USE_WAYPOINT] !== undefined;
      if (!own && p.labels[DATAPLANE_MODE] === "none") continue;
      const nsLabels = index.namespaceLabels(p.r.ns);
      // A namespace the files do not declare may well be in Ambient: only the pod's own label decides then.
      if (nsLabels === undefined && p.labels[DATAPLANE_MODE] === undefined) continue;
      if (!isEnrolledForWaypoint(p.labels, nsLabels)) continue;
      if (capturedByAmbient(index, p)) continue;
      const why = sidecarSource(index, p) ? "it runs a sidecar" : "it is not in Ambient";
      if (!own && localNamespaces.has(p.r.ns)) {
        const list = byNamespace.get(p.r.ns) ?? [];
        list.push(`${describe(p.r)} (${why})`);
        byNamespace.set(p.r.ns, list);
        continue;
      }
      out.push({
        resource: p.r,
        path: own ? [...p.metaPath, "labels", USE_WAYPOINT] : [...p.metaPath],
        message: `${describe(p.r)} is enrolled with waypoint ${own ? `"${p.labels[USE_WAYPOINT]}"` : `"${index.namespaceLabels(p.r.ns)?.[USE_WAYPOINT]}" by its namespace`}, but ${why}: the waypoint never sees its traffic`,
      });
    }
    for (const ns of index.of("Namespace")) {
      const list = byNamespace.get(ns.name);
      if (!list) continue;
      out.push({
        resource: ns,
        path: ["metadata", "labels", USE_WAYPOINT],
        message: `${describe(ns)} enrols its workloads with waypoint "${index.namespaceLabels(ns.name)?.[USE_WAYPOINT]}", but these are not in Ambient, so the waypoint never sees their traffic: ${list.join(", ")}`,
      });
    }
    return out;
  },
});
