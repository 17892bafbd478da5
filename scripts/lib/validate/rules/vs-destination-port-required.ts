import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { destinations } from "../istio.ts";

export default defineRule({
  code: "vs/destination-port-required",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0112"],
  title: "Routes to a multi-port service name the port",
  description:
    "When the destination Service exposes more than one port, `destination.port.number` must say which one; otherwise Istio cannot build the route.",
  hint: "add `port: { number: <port> }` to the destination",
  check({ index }) {
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      for (const d of destinations(vs)) {
        if (d.port !== undefined || d.via === "mirror") continue;
        const svc = index.service(index.fqdn(d.host, vs.ns));
        if (!svc) continue;
        const ports = asArray(asObj(svc.object.spec).ports);
        if (ports.length <= 1) continue;
        out.push({
          resource: vs,
          path: d.path,
          message: `${describe(vs)} routes to '${d.host}', which exposes ${ports.length} ports (${ports.map((p) => asObj(p).port).join(", ")}), without naming one`,
        });
      }
    }
    return out;
  },
});
