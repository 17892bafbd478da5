import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { meshedDeployments } from "./mesh.ts";

export default defineRule({
  code: "svc/conflicting-target-port",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0137"],
  title: "Services of one meshed Deployment map a target port from one port only",
  description:
    "Two Services selecting the same pods of a Deployment in the mesh that send different ports to the same `targetPort` (say 80 and 8080 to 8080) make the sidecar's inbound configuration ambiguous: Istio builds one inbound listener per target port and keeps one of the service ports. Checked for Deployments whose pods get a sidecar, as istioctl does.",
  hint: "let the Services use the same port number for that targetPort",
  check({ index }) {
    const out: Report[] = [];
    for (const { r: d, services } of meshedDeployments(index)) {
      const byTarget = new Map<string, Map<number, string>>();
      for (const s of services) {
        for (const p of asArray(asObj(s.object.spec).ports).map(asObj)) {
          if (typeof p.port !== "number") continue;
          const tp =
            p.targetPort === undefined || p.targetPort === 0 || p.targetPort === ""
              ? String(p.port)
              : String(p.targetPort as string | number);
          const m = byTarget.get(tp) ?? new Map<number, string>();
          m.set(p.port, `${s.ns}/${s.name}`);
          byTarget.set(tp, m);
        }
      }
      for (const [tp, ports] of byTarget) {
        if (ports.size < 2) continue;
        out.push({
          resource: d,
          path: ["metadata", "name"],
          message: `${describe(d)}: Services ${[...new Set(ports.values())].sort().join(", ")} send ports ${[...ports.keys()].sort((a, b) => a - b).join(" and ")} to the same target port ${tp}`,
        });
      }
    }
    return out;
  },
});
