import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, fromUpstreamChart } from "../resource.ts";

export default defineRule({
  code: "svc/target-port-not-found",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA0701"],
  title: "Service target ports exist on the selected workloads",
  description:
    "A named `targetPort` must be the name of a container port of every selected workload; a numeric one must be a declared container port when the workload declares ports at all. Otherwise the endpoints point at nothing. Pods whose containers Istio's injection template fills in (`image: auto`, the gateway chart) and pods an operator creates are not checked: their ports are not in the manifest. On Services an upstream platform chart renders the finding is an info: the chart's, not the repository's to fix.",
  hint: "use the container port's name or number",
  check({ index }) {
    const out: Report[] = [];
    for (const svc of index.of("Service")) {
      // Injected pods (Istio gateways) and operator-made pods get their ports elsewhere.
      const workloads = index.workloadsOfService(svc).filter((w) => w.resource && !w.portsUnknown);
      // An upstream chart's Service is not the user's to change: said, not warned (as info).
      const severity = fromUpstreamChart(svc) ? ("info" as const) : undefined;
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
            ...(severity ? { severity } : {}),
          });
          break;
        }
      });
    }
    return out;
  },
});
