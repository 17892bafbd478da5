import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asStringMap, describe } from "../resource.ts";
import { gatewayWorkloads } from "../istio.ts";
import { selects } from "../resource-index.ts";

export default defineRule({
  code: "gw/port-not-on-service",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0162"],
  title: "Gateway server ports are exposed by the gateway pods' Service",
  description:
    "The gateway pods listen on a Gateway's server port, but clients reach them only through a Service selecting them: the port must be one of its TCP target ports (or a Service port, which Istio maps to its target port). A server on a port no Service exposes is unreachable. Gateway pods the render does not contain (modelled from a Helm release) are checked only when some Service selects them; rendered gateway pods that no Service selects are reported, as istioctl does.",
  hint: "use a port of the gateway's Service (the istio/gateway chart exposes 80 -> 80 and 443 -> 443 by default), or add it to the Service",
  check({ index }) {
    const out: Report[] = [];
    const services = index.allOf("Service");
    for (const gw of index.of("Gateway")) {
      const workloads = gatewayWorkloads(index, gw);
      if (workloads.length === 0) continue;
      const targetPorts = new Set<number>();
      const servicePorts = new Set<number>();
      let anyService = false;
      for (const w of workloads) {
        for (const s of services) {
          if (s.ns !== w.ns) continue;
          const sel = asStringMap(asObj(s.object.spec).selector);
          if (Object.keys(sel).length === 0 || !selects(sel, w.labels)) continue;
          anyService = true;
          for (const p of asArray(asObj(s.object.spec).ports).map(asObj)) {
            if (typeof p.port !== "number" || (p.protocol !== undefined && p.protocol !== "TCP")) continue;
            servicePorts.add(p.port);
            targetPorts.add(typeof p.targetPort === "number" ? p.targetPort : p.port);
          }
        }
      }
      // Modelled gateways (no rendered pods) have a Service we may not see: say nothing then.
      if (!anyService && workloads.some((w) => !w.resource)) continue;
      asArray(asObj(gw.object.spec).servers).forEach((s, i) => {
        const port = asObj(asObj(s).port).number;
        if (typeof port !== "number" || targetPorts.has(port) || servicePorts.has(port)) return;
        out.push({
          resource: gw,
          path: ["spec", "servers", i, "port", "number"],
          message: `${describe(gw)} listens on port ${port}, which ${anyService ? "no Service of its gateway pods" : "nothing exposes: no Service selects its gateway pods"} (${workloads.map((w) => w.origin).join(", ")})${anyService ? " exposes" : ""}${targetPorts.size ? ` (their target ports: ${[...targetPorts].sort((a, b) => a - b).join(", ")})` : ""}`,
        });
      });
    }
    return out;
  },
});
