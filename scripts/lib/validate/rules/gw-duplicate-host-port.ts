import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, type Resource } from "../resource.ts";
import { gatewaySelector, serverHost } from "../istio.ts";

export default defineRule({
  code: "gw/duplicate-host-port",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA0301", "IST0145"],
  title: "No two Gateways on the same workload serve the same host and port",
  description:
    "Two Gateways with the same selector that both declare a server for the same host and port conflict; Envoy keeps one of them, and which one is not defined.",
  hint: "merge the servers into one Gateway, or use distinct hosts",
  check({ index }) {
    const seen = new Map<string, { gw: Resource; server: number }>();
    const out: Report[] = [];
    for (const gw of index.allOf("Gateway")) {
      const sel = JSON.stringify(Object.entries(gatewaySelector(gw)).sort());
      asArray(asObj(gw.object.spec).servers).forEach((s, i) => {
        const so = asObj(s);
        const port = asObj(so.port).number;
        const reported = new Set<string>();
        for (const h of asArray(so.hosts)) {
          if (typeof h !== "string") continue;
          const host = serverHost(h, gw.ns).host;
          const key = `${sel}|${String(port)}|${host}`;
          const first = seen.get(key);
          if (first && first.gw !== gw) {
            if (!gw.peer && !reported.has(first.gw.name)) {
              reported.add(first.gw.name);
              out.push({
                resource: gw,
                path: ["spec", "servers", i],
                message: `${describe(gw)} and ${describe(first.gw)} both serve host '${host}' on port ${String(port)} for the same gateway pods`,
              });
            }
          } else if (!first) seen.set(key, { gw, server: i });
        }
      });
    }
    return out;
  },
});
