import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { anyAmbient } from "./ambient-util.ts";
import { l7HostConfigs, resolveHosts } from "./ambient-policy-util.ts";

export default defineRule({
  code: "ambient/route-other-namespace",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1114", "KIA0212"],
  title: "L7 routes and traffic policies for Ambient Services are in the Service's namespace",
  description:
    "A waypoint takes the L7 configuration of a Service (HTTP and TLS routes of a VirtualService for mesh traffic, the L7 settings of a DestinationRule) from the Service's own namespace: a VirtualService or DestinationRule in another namespace whose host is a Service in an Ambient namespace does not take effect for the Service's waypoint. Hosts resolve as Istio resolves them (a short name is a Service in the config's own namespace, full names in the cluster domain). Follows Kiali. Silent when nothing in the render is in Ambient.",
  hint: "move the VirtualService or DestinationRule into the namespace of the Service it is for",
  check({ index }) {
    if (!anyAmbient(index)) return [];
    const out: Report[] = [];
    for (const c of l7HostConfigs(index)) {
      for (const a of resolveHosts(index, c).ambient) {
        if (a.svc.ns === c.r.ns) continue;
        out.push({
          resource: c.r,
          path: a.path,
          message: `${describe(c.r)} has ${c.why} for '${a.host}', ${describe(a.svc)} in Ambient, from namespace ${c.r.ns}: the Service's waypoint takes them only from namespace ${a.svc.ns}`,
          anchors: [c.r.kind === "DestinationRule" ? "KIA0212" : "KIA1114"],
        });
      }
    }
    return out;
  },
});
