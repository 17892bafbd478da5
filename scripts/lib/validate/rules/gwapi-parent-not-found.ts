import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { gatewayApiGateways, GWAPI, parentRefs, routes } from "./gwapi-util.ts";

export default defineRule({
  code: "gwapi/parent-not-found",
  layer: "semantic",
  severity: "error",
  anchors: ["KIA1401"],
  title: "Gateway API routes attach to Gateways (or Services) that exist",
  description:
    "A route's `parentRefs` name the Gateway it attaches to (in the route's namespace unless `namespace` says otherwise), or, for mesh traffic (GAMMA), a Service. A parent that does not exist leaves the route unattached: no listener ever serves it. In path mode checked only when the files contain a Gateway API Gateway (for Gateways) or a Service (for Services).",
  hint: "fix the parent's name or namespace",
  check({ index }) {
    const out: Report[] = [];
    const gateways = new Set(gatewayApiGateways(index).map((g) => `${g.ns}/${g.name}`));
    const knowsGateways = index.complete || gateways.size > 0;
    for (const route of routes(index)) {
      for (const p of parentRefs(route)) {
        if (p.group === GWAPI && p.kind === "Gateway") {
          if (!knowsGateways || gateways.has(`${p.ns}/${p.name}`)) continue;
        } else if (p.group === "" && p.kind === "Service") {
          if (
            !index.knows("Service") ||
            index.service(`${p.name}.${p.ns}.svc.${index.platform.clusterDomain}`) ||
            index.isOpaque(p.ns)
          )
            continue;
        } else continue;
        out.push({
          resource: route,
          path: [...p.path, "name"],
          message: `${describe(route)} attaches to ${p.kind} ${p.ns}/${p.name}, which does not exist`,
        });
      }
    }
    return out;
  },
});
