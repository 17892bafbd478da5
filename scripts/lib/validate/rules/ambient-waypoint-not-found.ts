import { defineRule, type Report } from "../rule.ts";
import { asObj, asStringMap, describe, type Resource } from "../resource.ts";
import {
  anyAmbient,
  DATAPLANE_MODE,
  USE_WAYPOINT,
  USE_WAYPOINT_NAMESPACE,
  waypointReference,
} from "./ambient-util.ts";
import {
  isGatewayPod,
  knowsWaypoints,
  podWorkloads,
  resolveWaypoint,
  runsPods,
} from "./ambient-workloads.ts";

export default defineRule({
  code: "ambient/waypoint-not-found",
  layer: "semantic",
  severity: "error",
  anchors: ["KIA1313"],
  title: "The waypoint a workload, Service or namespace names exists and takes its traffic",
  description:
    "`istio.io/use-waypoint: <name>` (on a pod template, a Service or a Namespace) names a waypoint: a Gateway API Gateway of class `istio-waypoint` in the same namespace, or in the one `istio.io/use-waypoint-namespace` names. istiod binds it only if it exists, takes that traffic (`istio.io/waypoint-for` on the Gateway or its GatewayClass: `service` by default, so a pod's own label needs `workload` or `all`; `none` takes nothing) and, from another namespace, admits it (the `allowedRoutes.namespaces` of its HBONE listener on port 15008: `Same` unless `All` or a matching `Selector`). Otherwise the enrolled traffic gets no waypoint, and none of the L7 processing (authorization, routing, telemetry) it was enrolled for. Checked only when the render is complete (repo mode) or declares some waypoint, and only when something is in Ambient; waypoints in namespaces whose content is not rendered cannot be seen, nor waypoints created outside git (`istioctl waypoint apply`): the latter are reported in repo mode.",
  hint: "declare the waypoint (a Gateway with `gatewayClassName: istio-waypoint`), or fix the label's name or its `istio.io/use-waypoint-namespace`",
  check({ index }) {
    const out: Report[] = [];
    if (!anyAmbient(index) || !knowsWaypoints(index)) return out;
    const check = (
      r: Resource,
      labels: Record<string, string>,
      path: Array<string | number>,
      what: string,
      traffic: "service" | "workload" | "any",
    ) => {
      const from = r.ns || r.name;
      const ref = waypointReference(labels, from, undefined);
      if (!ref) return;
      const status = resolveWaypoint(index, ref, from, traffic);
      if (status.ok !== false) return;
      const inOther = labels[USE_WAYPOINT_NAMESPACE] !== undefined;
      out.push({
        resource: r,
        path: [...path, "labels", USE_WAYPOINT],
        message: `${describe(r)} ${what} waypoint ${ref.ns}/${ref.name}${inOther ? ` (istio.io/use-waypoint-namespace: ${ref.ns})` : ""}, ${status.why}`,
      });
    };
    for (const p of podWorkloads(index)) {
      if (isGatewayPod(p) || !runsPods(p) || p.labels[DATAPLANE_MODE] === "none") continue;
      if (p.labels[USE_WAYPOINT] !== undefined)
        check(p.r, p.labels, p.metaPath, "sends the traffic addressed to its pods to", "workload");
    }
    for (const s of index.of("Service")) {
      const labels = asStringMap(asObj(s.object.metadata).labels);
      if (labels[USE_WAYPOINT] !== undefined)
        check(s, labels, ["metadata"], "sends its traffic to", "service");
    }
    for (const n of index.of("Namespace")) {
      const labels = asStringMap(asObj(n.object.metadata).labels);
      if (labels[USE_WAYPOINT] !== undefined)
        check(n, labels, ["metadata"], "enrols its Services and workloads with", "any");
    }
    return out;
  },
});
