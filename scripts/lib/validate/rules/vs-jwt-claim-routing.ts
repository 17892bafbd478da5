import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, type Resource } from "../resource.ts";
import { gatewayWorkloads, vsGateways } from "../istio.ts";

export default defineRule({
  code: "vs/jwt-claim-without-requestauthn",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0149"],
  title: "Routing on JWT claims needs a RequestAuthentication",
  description:
    "Matching on `@request.auth.claims.*` headers only works when a RequestAuthentication validates the token for the workloads (or gateway) that route. Without one, the claim is never set and the route never matches.",
  hint: "add a RequestAuthentication for the gateway or workload (or mesh-wide in the root namespace)",
  check({ index }) {
    const ras = index.allOf("RequestAuthentication");
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      const byRef = new Map<string, Resource>(index.allOf("Gateway").map((g) => [`${g.ns}/${g.name}`, g]));
      const namespaces = new Set([vs.ns, index.platform.rootNamespace]);
      for (const g of vsGateways(vs)) {
        const gw = byRef.get(g.ref);
        if (gw) for (const w of gatewayWorkloads(index, gw)) namespaces.add(w.ns);
      }
      const covered = ras.some((ra) => namespaces.has(ra.ns));
      if (covered) continue;
      asArray(asObj(vs.object.spec).http).forEach((r, i) => {
        asArray(asObj(r).match).forEach((m, j) => {
          for (const h of Object.keys(asObj(asObj(m).headers))) {
            if (!h.startsWith("@request.auth.claims")) continue;
            out.push({
              resource: vs,
              path: ["spec", "http", i, "match", j, "headers", h],
              message: `${describe(vs)} routes on ${h}, but no RequestAuthentication validates tokens there`,
            });
          }
        });
      });
    }
    return out;
  },
});
