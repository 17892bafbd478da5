import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

export default defineRule({
  code: "svc/target-port-not-found",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA0701"],
  title: "Service target ports exist on the selected workloads",
  description:
    "A named `targetPort` must be the name of a container port of every selected workload; a numeric one must be a declared container port when the workload declares ports at all. Otherwise the endpoints point at nothing.",
  hint: "use the container port's name or number",
  check({ index }) {
    const out: Report[] = [];
    for (const svc of index.of("Service")) {
      const workloads = index.workloadsOfService(svc).filter((w) => w.resource);
      if (workloads.length === 0) continue;
      asArray(asObj(svc.object.spec).ports).forEach((p, i) => {
        const po = asObj(p);
        const target = po.targetPort ?? po.port;
        for (const w of workloads) {
          if (typeof target === "string" && !/^\d+$/.test(target)) {
            if (w.ports.some((cp) => cp.name === target)) continue;
          } else {
            if (w.ports.length === 0 || w.ports.some((cp) => cp.port === Number(target))) continue;
          }
          out.push({
            resource: svc,
            path: ["spec", "ports", i, po.targetPort !== undefined ? "targetPort" : "port"],
            message: `${describe(svc)} port ${String(po.port)} targets ${JSON.stringify(target)}, which ${w.origin} does not expose (its ports: ${w.ports.map((c) => c.name ?? c.port).join(", ") || "none"})`,
          });
          break;
        }
      });
    }
    return out;
  },
});
