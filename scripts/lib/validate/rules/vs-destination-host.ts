import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { destinations } from "../istio.ts";

export default defineRule({
  code: "vs/destination-host",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0101", "KIA1101"],
  title: "VirtualService destinations and mirrors resolve to a Service or ServiceEntry",
  description:
    "Every `destination.host` of an http, tcp or tls route, and every mirror, must name a host in the service registry: a Kubernetes Service (only names without a dot are resolved, in the VirtualService's namespace) or a ServiceEntry host, exported (`exportTo`, or the Service annotation `networking.istio.io/exportTo`) to the VirtualService's namespace. Traffic to an unknown host gets a 503 (no healthy upstream). In path mode the check runs only when the files contain at least one Service or ServiceEntry.",
  hint: "fix the host name, use the fully qualified `name.namespace.svc.cluster.local` form for another namespace, or add a ServiceEntry for an external host",
  check({ index }) {
    if (!index.knows("Service", "ServiceEntry")) return [];
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      for (const d of destinations(vs)) {
        const fqdn = index.fqdn(d.host, vs.ns);
        if (index.hostExists(fqdn, vs.ns)) continue;
        const hidden = index.hostExists(fqdn);
        out.push({
          resource: vs,
          path: [...d.path, "host"],
          message: `${describe(vs)} routes${d.via === "mirror" ? " (mirror)" : ""} to host '${d.host}'${fqdn !== d.host ? ` (${fqdn})` : ""}, which ${hidden ? `is not exported to namespace ${vs.ns} (exportTo)` : "no Service or ServiceEntry defines"}`,
        });
      }
    }
    return out;
  },
});
