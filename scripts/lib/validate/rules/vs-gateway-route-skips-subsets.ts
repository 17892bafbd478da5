import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, asStringMap, describe, type Resource } from "../resource.ts";
import type { ResourceIndex } from "../resource-index.ts";
import { destinations, vsGateways } from "../istio.ts";
import type { YamlPath } from "../../yaml-source.ts";

/**
 * Hosts whose own VirtualService splits them into subsets: the fully qualified host, and for each
 * the VirtualServices (with their subsets) whose `hosts` list it and that route it to a subset.
 * Short names are expanded in the VirtualService's namespace (istioctl compares them as written,
 * so `reviews` and `reviews.demo.svc.cluster.local` never meet there, and two `reviews` of two
 * namespaces do).
 */
function subsetSplits(index: ResourceIndex): Map<string, Map<Resource, Set<string>>> {
  const out = new Map<string, Map<Resource, Set<string>>>();
  for (const vs of index.allOf("VirtualService")) {
    const own = new Set(
      asArray(asObj(vs.object.spec).hosts)
        .filter((h): h is string => typeof h === "string")
        .map((h) => index.fqdn(h, vs.ns)),
    );
    for (const d of destinations(vs)) {
      if (d.via !== "http" || !d.subset) continue;
      const host = index.fqdn(d.host, vs.ns);
      if (!own.has(host)) continue;
      const byVs = out.get(host) ?? new Map<Resource, Set<string>>();
      byVs.set(vs, (byVs.get(vs) ?? new Set()).add(d.subset));
      out.set(host, byVs);
    }
  }
  return out;
}

/** Whether Istio turns this Ingress into gateway routes: class `istio` (meshConfig.ingressClass). */
function istioIngress(ing: Resource): boolean {
  const cls = asString(asObj(ing.object.spec).ingressClassName);
  const ann = asStringMap(asObj(ing.object.metadata).annotations)["kubernetes.io/ingress.class"];
  return cls === "istio" || ann === "istio";
}

/** The Service backends of an Ingress (default backend and every path), with their paths. */
function ingressBackends(ing: Resource): Array<{ service: string; path: YamlPath }> {
  const spec = asObj(ing.object.spec);
  const out: Array<{ service: string; path: YamlPath }> = [];
  const add = (b: unknown, path: YamlPath) => {
    const name = asString(asObj(asObj(b).service).name);
    if (name) out.push({ service: name, path: [...path, "service", "name"] });
  };
  add(spec.defaultBackend, ["spec", "defaultBackend"]);
  asArray(spec.rules).forEach((r, i) =>
    asArray(asObj(asObj(r).http).paths).forEach((p, j) =>
      add(asObj(p).backend, ["spec", "rules", i, "http", "paths", j, "backend"]),
    ),
  );
  return out;
}

export default defineRule({
  code: "vs/gateway-route-skips-subsets",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0140"],
  title: "A gateway route to a host that another VirtualService splits into subsets",
  description:
    "VirtualServices do not chain: a request the ingress gateway routes to `reviews` goes where the gateway's own VirtualService says, and the mesh VirtualService of `reviews` that sends 90% to subset v1 and 10% to v2 (or routes on a header) is never consulted for it. A gateway route without a subset to such a host spreads gateway traffic over every version, whatever the split says (IST0140). Reported on routes of VirtualServices bound to a Gateway (a Gateway other than `mesh`) and on the backends of Kubernetes Ingresses of class `istio` (which Istio turns into gateway routes), when another VirtualService lists that host and routes it to subsets. Hosts are compared fully qualified (short names in their VirtualService's namespace).",
  hint: "route the gateway to the subsets itself (copy the split into the gateway's VirtualService), or bind the host's VirtualService to the gateway as well",
  check({ index }) {
    const splits = subsetSplits(index);
    if (splits.size === 0) return [];
    const out: Report[] = [];
    const report = (r: Resource, host: string, path: YamlPath, via: string) => {
      const others = [...(splits.get(host) ?? [])].filter(([vs]) => vs !== r);
      if (others.length === 0) return;
      const names = others.map(([vs, subsets]) => `${describe(vs)} (subsets ${[...subsets].join(", ")})`);
      out.push({
        resource: r,
        path,
        message: `${describe(r)} ${via} ${host} without a subset, so the subset routing of ${names.join(", ")} does not apply to those requests`,
      });
    };
    for (const vs of index.of("VirtualService")) {
      if (!vsGateways(vs).some((g) => g.ref !== "mesh")) continue;
      for (const d of destinations(vs))
        if (d.via === "http" && !d.subset)
          report(vs, index.fqdn(d.host, vs.ns), [...d.path, "host"], "routes gateway requests to");
    }
    for (const ing of index.of("Ingress")) {
      if (!istioIngress(ing)) continue;
      for (const b of ingressBackends(ing))
        report(ing, index.fqdn(b.service, ing.ns), b.path, "sends ingress gateway requests to");
    }
    return out;
  },
});
