import { defineRule, type Report } from "../rule.ts";
import { asObj, asStringMap, describe, type Resource } from "../resource.ts";
import {
  anyAmbient,
  DATAPLANE_MODE,
  USE_WAYPOINT,
  USE_WAYPOINT_NAMESPACE,
  waypointReference,
} from "./ambient-util.ts";
import { isGatewayPod, knowsWaypoints, podWorkloads, runsPods, waypointExists } from "./ambient-workloads.ts";

export default defineRule({
  code: "ambient/waypoint-not-found",
  layer: "semantic",
  severity: "error",
  anchors: ["KIA1313"],
  title: "The waypoint a workload, Service or namespace names exists",
  description:
    "`istio.io/use-waypoint: <name>` (on a pod template, a Service or a Namespace) names a waypoint: a Gateway API Gateway of class `istio-waypoint` in the same namespace, or in the one `istio.io/use-waypoint-namespace` names. A waypoint that does not exist leaves the enrolled traffic without the L7 processing (authorization, routing, telemetry) it was enrolled for. Checked only when the render is complete (repo mode) or declares some waypoint, and only when something is in Ambient; waypoints in namespaces whose content is not rendered, and waypoints created outside git (`istioctl waypoint apply`), cannot be seen: the latter are reported in repo mode.",
  hint: "declare the waypoint (a Gateway with `gatewayClassName: istio-waypoint`), or fix the label's name or its `istio.io/use-waypoint-namespace`",
  check({ index }) {
    const out: Report[] = [];
    if (!anyAmbient(index) || !knowsWaypoints(index)) return out;
    const check = (
      r: Resource,
      labels: Record<string, string>,
      path: Array<string | number>,
      what: string,
    ) => {
      const ref = waypointReference(labels, r.ns || r.name, undefined);
      if (!ref || waypointExists(index, ref) !== false) return;
      const inOther = labels[USE_WAYPOINT_NAMESPACE] !== undefined;
      out.push({
        resource: r,
        path: [...path, "labels", USE_WAYPOINT],
        message: `${describe(r)} ${what} waypoint ${ref.ns}/${ref.name}${inOther ? ` (istio.io/use-waypoint-namespace: ${ref.ns})` : ""}, which the render does not declare (no Gateway of class istio-waypoint by that name)`,
      });
    };
    for (const p of podWorkloads(index)) {
      if (isGatewayPod(p) || !runsPods(p) || p.labels[DATAPLANE_MODE] === "none") continue;
      if (p.labels[USE_WAYPOINT] !== undefined) check(p.r, p.labels, p.metaPath, "sends its traffic to");
    }
    for (const s of index.of("Service")) {
      const labels = asStringMap(asObj(s.object.metadata).labels);
      if (labels[USE_WAYPOINT] !== undefined) check(s, labels, ["metadata"], "sends its traffic to");
    }
    for (const n of index.of("Namespace")) {
      const labels = asStringMap(asObj(n.object.metadata).labels);
      if (labels[USE_WAYPOINT] !== undefined) check(n, labels, ["metadata"], "enrols its workloads with");
    }
    return out;
  },
});
