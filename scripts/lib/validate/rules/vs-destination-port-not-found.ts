import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { destinations } from "../istio.ts";

export default defineRule({
  code: "vs/destination-port-not-found",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Route destination ports are ports of the destination Service or ServiceEntry",
  description:
    "`destination.port.number` is a port of the destination Service (its `port`, not the `targetPort`) or of the ServiceEntry defining the host. A port it does not expose has no cluster behind it: requests fail with 503 (no healthy upstream). Services in namespaces whose content is not rendered are not checked.",
  hint: "use the Service's `port` (not the container's targetPort)",
  check({ index }) {
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      for (const d of destinations(vs)) {
        if (d.port === undefined) continue;
        const fqdn = index.fqdn(d.host, vs.ns);
        const svc = index.service(fqdn);
        const ses = index.serviceEntriesFor(fqdn);
        if (!svc && ses.length === 0) continue;
        const ports = [
          ...(svc ? asArray(asObj(svc.object.spec).ports).map((p) => asObj(p).port) : []),
          ...ses.flatMap((se) => asArray(asObj(se.object.spec).ports).map((p) => asObj(p).number)),
        ].filter((p): p is number => typeof p === "number");
        if (ports.includes(d.port)) continue;
        out.push({
          resource: vs,
          path: [...d.path, "port", "number"],
          message: `${describe(vs)} routes to '${d.host}' port ${d.port}, which it does not expose (its ports: ${[...new Set(ports)].join(", ") || "none"})`,
        });
      }
    }
    return out;
  },
});
