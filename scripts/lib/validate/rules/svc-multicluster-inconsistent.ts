import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, type Resource } from "../resource.ts";

/** What Istio merges across clusters: the port list by name (number, protocol, appProtocol). */
function portsKey(svc: Resource): string {
  return asArray(asObj(svc.object.spec).ports)
    .map(asObj)
    .map(
      (p) =>
        `${String(p.name ?? "")}:${String(p.port)}/${String(p.protocol ?? "TCP")}/${String(p.appProtocol ?? "")}`,
    )
    .sort()
    .join(",");
}

const typeOf = (svc: Resource) => String(asObj(svc.object.spec).type ?? "ClusterIP");
const headless = (svc: Resource) => asObj(svc.object.spec).clusterIP === "None";

export default defineRule({
  code: "svc/multicluster-inconsistent",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0170"],
  title: "A Service has the same shape in every cluster of the mesh",
  description:
    "Istio merges a Service of the same name and namespace across the clusters of one mesh (same meshID) into one host. When the clusters disagree on its ports (names, numbers, protocols), its type, or headless against ClusterIP, the merged host takes one cluster's view and the other cluster's endpoints are reached on the wrong port or protocol. Compared between clusters of one mesh at the same chapter (repo mode); Services without a selector (hand-made endpoints, such as a remote cluster's `istiod` pointing at the primary) are not compared.",
  hint: "give the Service the same ports and type in every cluster (render it from one source)",
  check({ index }) {
    const peers = new Map<string, Resource[]>();
    for (const s of index.allOf("Service"))
      if (s.peer) peers.set(`${s.ns}/${s.name}`, [...(peers.get(`${s.ns}/${s.name}`) ?? []), s]);
    if (peers.size === 0) return [];
    const out: Report[] = [];
    const selectorless = (s: Resource) => Object.keys(asObj(asObj(s.object.spec).selector)).length === 0;
    for (const svc of index.of("Service")) {
      // Selector-less Services are plumbing with hand-made endpoints (a remote cluster's `istiod`
      // pointing at the primary's east-west gateway): their shape is meant to differ.
      const others = selectorless(svc)
        ? undefined
        : peers.get(`${svc.ns}/${svc.name}`)?.filter((o) => !selectorless(o));
      if (!others?.length) continue;
      const reasons = new Set<string>();
      for (const o of others) {
        if (typeOf(o) !== typeOf(svc))
          reasons.add(`type ${typeOf(svc)} here, ${typeOf(o)} in ${o.context ?? o.file}`);
        if (headless(o) !== headless(svc)) reasons.add("headless in one cluster, not in the other");
        if (portsKey(o) !== portsKey(svc))
          reasons.add(
            `ports ${portsKey(svc) || "none"} here, ${portsKey(o) || "none"} in ${o.context ?? o.file}`,
          );
      }
      if (reasons.size === 0) continue;
      out.push({
        resource: svc,
        path: ["spec"],
        message: `${describe(svc)} differs from the same Service in another cluster of the mesh: ${[...reasons].join("; ")}`,
      });
    }
    return out;
  },
});
