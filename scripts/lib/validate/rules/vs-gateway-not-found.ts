import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { isInternalGatewayRef, vsGateways } from "../istio.ts";
import { GWAPI } from "./gwapi-util.ts";

export default defineRule({
  code: "vs/gateway-not-found",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0101", "KIA1102"],
  title: "VirtualService gateways exist",
  description:
    "Each entry of `spec.gateways` (other than `mesh`) names a Gateway: `name` in the VirtualService's namespace, or `namespace/name`. A missing Gateway means the routes are never applied to any gateway. A Gateway API Gateway of that name does not count (routes attach to it through an HTTPRoute). Like `istioctl analyze` on files, this holds in path mode too: give the Gateways along with the VirtualServices.",
  hint: "use `namespace/name` of an existing Gateway, or create it",
  check({ index }) {
    // Only Istio Gateways: a VirtualService cannot bind to a Gateway API Gateway of the same name.
    const all = index.allOf("Gateway");
    const gateways = new Set(all.filter((g) => g.group !== GWAPI).map((g) => `${g.ns}/${g.name}`));
    const gatewayApi = new Set(all.filter((g) => g.group === GWAPI).map((g) => `${g.ns}/${g.name}`));
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      for (const g of vsGateways(vs)) {
        // istiod's internal Gateways are `vs/internal-gateway`'s (IST0165), as istioctl reports them.
        if (g.ref === "mesh" || gateways.has(g.ref) || isInternalGatewayRef(g.raw)) continue;
        out.push({
          resource: vs,
          path: ["spec", "gateways", g.index],
          message: gatewayApi.has(g.ref)
            ? `${describe(vs)} binds to gateway '${g.raw}' (${g.ref}), which is a Gateway API Gateway, not an Istio Gateway: VirtualServices cannot bind to it`
            : `${describe(vs)} binds to gateway '${g.raw}' (${g.ref}), which does not exist`,
        });
      }
    }
    return out;
  },
});
