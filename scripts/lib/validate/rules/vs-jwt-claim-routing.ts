import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, type Resource } from "../resource.ts";
import { gatewayWorkloads, vsGateways } from "../istio.ts";

export default defineRule({
  code: "vs/jwt-claim-without-requestauthn",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0149", "IST0106"],
  title: "Routing on JWT claims needs a RequestAuthentication",
  description:
    "Matching on `@request.auth.claims.*` headers only works on gateways (Istio rejects it in a VirtualService bound to the mesh, IST0106), and only when a RequestAuthentication validates the token there. Without one, the claim is never set and the route never matches.",
  hint: "route on claims at a gateway (spec.gateways without `mesh`), and add a RequestAuthentication for it (or mesh-wide in the root namespace)",
  check({ index }) {
    const ras = index.allOf("RequestAuthentication");
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      const claims = claimMatches(vs);
      if (claims.length === 0) continue;
      const gateways = vsGateways(vs);
      if (gateways.length === 0 || gateways.some((g) => g.ref === "mesh")) {
        for (const c of claims)
          out.push({
            resource: vs,
            path: c.path,
            message: `${describe(vs)} routes on ${c.header}, but claim-based routing works only on gateways and this VirtualService applies to the mesh (${gateways.length ? "gateways include mesh" : "no gateways"})`,
            anchors: ["IST0106"],
          });
        continue;
      }
      const byRef = new Map<string, Resource>(index.allOf("Gateway").map((g) => [`${g.ns}/${g.name}`, g]));
      // The token is validated where the routing happens: in the gateway pods. A RequestAuthentication
      // reaches them from their own namespace or the root namespace; the VirtualService's
      // namespace does not matter. Gateway pods not in view (path mode): the Gateway's namespace.
      const namespaces = new Set([index.platform.rootNamespace]);
      for (const g of gateways) {
        const gw = byRef.get(g.ref);
        if (!gw) continue;
        const pods = gatewayWorkloads(index, gw);
        if (pods.length) for (const w of pods) namespaces.add(w.ns);
        else namespaces.add(gw.ns);
      }
      const covered = ras.some((ra) => namespaces.has(ra.ns));
      if (covered) continue;
      for (const c of claims)
        out.push({
          resource: vs,
          path: c.path,
          message: `${describe(vs)} routes on ${c.header}, but no RequestAuthentication validates tokens there`,
          anchors: ["IST0149"],
        });
    }
    return out;
  },
});

/** Every `@request.auth.claims.*` header in the http matches (headers and withoutHeaders). */
function claimMatches(vs: Resource): Array<{ header: string; path: Array<string | number> }> {
  const out: Array<{ header: string; path: Array<string | number> }> = [];
  asArray(asObj(vs.object.spec).http).forEach((r, i) => {
    asArray(asObj(r).match).forEach((m, j) => {
      for (const field of ["headers", "withoutHeaders"])
        for (const h of Object.keys(asObj(asObj(m)[field])))
          // Istio compares the prefix case-insensitively.
          if (h.toLowerCase().startsWith("@request.auth.claims."))
            out.push({ header: h, path: ["spec", "http", i, "match", j, field, h] });
    });
  });
  return out;
}
