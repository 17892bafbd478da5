import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { meshedDeployments } from "./mesh.ts";

export default defineRule({
  code: "svc/multiple-protocols",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0116"],
  title: "Services of one meshed Deployment do not use one port with two protocols",
  description:
    "When the Services selecting the pods of a Deployment in the mesh expose the same port number with different protocols (TCP and UDP), the sidecar cannot associate the pods with both; one of them loses its traffic. Checked for Deployments whose pods get a sidecar (an `istio-proxy` container, the `sidecar.istio.io/inject` label or annotation, or the namespace's injection label), as istioctl does.",
  hint: "use a different port number for the other protocol, or keep the workload out of the mesh",
  check({ index }) {
    const out: Report[] = [];
    for (const { r: d, services } of meshedDeployments(index)) {
      const byPort = new Map<number, Map<string, string[]>>();
      for (const s of services) {
        for (const p of asArray(asObj(s.object.spec).ports).map(asObj)) {
          if (typeof p.port !== "number") continue;
          const proto = typeof p.protocol === "string" ? p.protocol : "TCP";
          const m = byPort.get(p.port) ?? new Map<string, string[]>();
          m.set(proto, [...(m.get(proto) ?? []), `${s.ns}/${s.name}`]);
          byPort.set(p.port, m);
        }
      }
      for (const [port, protos] of byPort) {
        if (protos.size < 2) continue;
        const names = [...new Set([...protos.values()].flat())].sort();
        out.push({
          resource: d,
          path: ["metadata", "name"],
          message: `${describe(d)} is selected by Services using port ${port} with protocols ${[...protos.keys()].sort().join(" and ")} (${names.join(", ")})`,
        });
      }
    }
    return out;
  },
});
