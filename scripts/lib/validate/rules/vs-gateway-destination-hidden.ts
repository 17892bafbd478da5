import { defineRule, type Report } from "../rule.ts";
import { describe, visibleIn, type Resource } from "../resource.ts";
import { destinations, gatewayWorkloads, vsGateways } from "../istio.ts";

export default defineRule({
  code: "vs/destination-hidden-from-gateway",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "A gateway's route destinations are exported to the gateway pods' namespace",
  description:
    'The proxy that routes a gateway-bound VirtualService is the gateway pod, in its own namespace (istio-ingress, say), not the VirtualService\'s. Its destination host must be visible there: a Service annotated `networking.istio.io/exportTo: "."` or a ServiceEntry with `exportTo: ["."]` in the application\'s namespace is invisible to the gateway, which answers 503 (no healthy upstream). The VirtualService itself must also be exported to the gateway\'s namespace.',
  hint: 'export the Service or ServiceEntry (and the VirtualService) to the gateway\'s namespace too, e.g. `exportTo: [".", "istio-ingress"]`',
  check({ index }) {
    const byRef = new Map<string, Resource>(index.allOf("Gateway").map((g) => [`${g.ns}/${g.name}`, g]));
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      const podNamespaces = new Set<string>();
      for (const g of vsGateways(vs)) {
        const gw = g.ref === "mesh" ? undefined : byRef.get(g.ref);
        if (gw) for (const w of gatewayWorkloads(index, gw)) podNamespaces.add(w.ns);
      }
      podNamespaces.delete(vs.ns);
      if (podNamespaces.size === 0) continue;
      const unseen = [...podNamespaces].filter((ns) => !visibleIn(vs, ns));
      if (unseen.length) {
        out.push({
          resource: vs,
          path: ["spec", "exportTo"],
          message: `${describe(vs)} is bound to a gateway whose pods run in ${unseen.join(", ")}, but is not exported there: the gateway never sees it`,
        });
        continue;
      }
      for (const d of destinations(vs)) {
        const fqdn = index.fqdn(d.host, vs.ns);
        // Missing altogether, or hidden from the VirtualService's own namespace: vs/destination-host.
        if (!index.hostExists(fqdn, vs.ns)) continue;
        const hidden = [...podNamespaces].filter((ns) => !index.hostExists(fqdn, ns));
        if (hidden.length === 0) continue;
        out.push({
          resource: vs,
          path: [...d.path, "host"],
          message: `${describe(vs)} routes gateway traffic to '${d.host}', which is not exported to the gateway pods' namespace ${hidden.join(", ")}`,
        });
      }
    }
    return out;
  },
});
