import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { vsGateways } from "../istio.ts";

export default defineRule({
  code: "vs/gateway-not-found",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0101", "KIA1102"],
  title: "VirtualService gateways exist",
  description:
    "Each entry of `spec.gateways` (other than `mesh`) names a Gateway: `name` in the VirtualService's namespace, or `namespace/name`. A missing Gateway means the routes are never applied to any gateway. Like `istioctl analyze` on files, this holds in path mode too: give the Gateways along with the VirtualServices.",
  hint: "use `namespace/name` of an existing Gateway, or create it",
  check({ index }) {
    const gateways = new Set(index.allOf("Gateway").map((g) => `${g.ns}/${g.name}`));
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      for (const g of vsGateways(vs)) {
        if (g.ref === "mesh" || gateways.has(g.ref)) continue;
        out.push({
          resource: vs,
          path: ["spec", "gateways", g.index],
          message: `${describe(vs)} binds to gateway '${g.raw}' (${g.ref}), which does not exist`,
        });
      }
    }
    return out;
  },
});
