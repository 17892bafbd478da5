import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { anyAmbient, isAmbientNamespace, isEnrolledForWaypoint } from "./ambient-util.ts";
import { l7HostConfigs, resolveHosts } from "./ambient-policy-util.ts";

/** Kiali's codes per kind: the Service is not captured; no host resolves and the namespace is not enrolled. */
const CODES: Record<string, { service: string; namespace: string }> = {
  VirtualService: { service: "KIA1113", namespace: "KIA1109" },
  DestinationRule: { service: "KIA0211", namespace: "KIA0210" },
};

export default defineRule({
  code: "ambient/route-not-captured",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1109", "KIA1113", "KIA0210", "KIA0211"],
  title: "L7 routes and traffic policies for Ambient Services go through a waypoint",
  description:
    "In Ambient mode, HTTP and TLS routes of a VirtualService for mesh traffic (no `gateways`, or `mesh` among them) and the L7 settings of a DestinationRule (HTTP connection pool, outlier detection, consistent hashing on a header or cookie) are applied by the waypoint of the destination Service: for a Service in an Ambient namespace that is not enrolled with a waypoint (`istio.io/use-waypoint` on the Service, else its namespace; `none` opts out) ztunnel carries the traffic and they do nothing. As Kiali does, hosts resolve as Istio resolves them (a short name in the config's namespace, full names in the cluster domain); when no host is a Service in an Ambient namespace, the config is reported if its own namespace is in Ambient and not enrolled, unless a host is a Service outside Ambient or a ServiceEntry enrolled with a waypoint. VirtualServices bound only to ingress or egress gateways are not concerned. Silent when nothing in the render is in Ambient.",
  hint: "enrol the destination Service (or its namespace) with a waypoint: `istio.io/use-waypoint: <waypoint>`, and a waypoint Gateway of class `istio-waypoint`",
  check({ index }) {
    if (!anyAmbient(index)) return [];
    const out: Report[] = [];
    for (const c of l7HostConfigs(index)) {
      const codes = CODES[c.r.kind] ?? { service: "KIA1113", namespace: "KIA1109" };
      const res = resolveHosts(index, c);
      for (const a of res.ambient) {
        if (a.enrolled) continue;
        out.push({
          resource: c.r,
          path: a.path,
          message: `${describe(c.r)} has ${c.why} for '${a.host}', ${describe(a.svc)}, which is in Ambient but not enrolled with a waypoint: ztunnel carries its traffic and they do not take effect`,
          anchors: [codes.service],
        });
      }
      if (res.ambient.length || res.accounted || !isAmbientNamespace(index, c.r.ns)) continue;
      if (isEnrolledForWaypoint(undefined, index.namespaceLabels(c.r.ns))) continue;
      out.push({
        resource: c.r,
        path: c.hosts[0]?.path ?? ["spec"],
        message: `${describe(c.r)} has ${c.why} in Ambient namespace ${c.r.ns}, which is not enrolled with a waypoint, and none of its hosts is a Service or ServiceEntry that uses one: they do not take effect`,
        anchors: [codes.namespace],
      });
    }
    return out;
  },
});
