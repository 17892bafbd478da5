import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { gatewayRef } from "../istio.ts";

/** Every gateway reference of a VirtualService: `spec.gateways` and each HTTP match's `gateways`. */
function gatewayEntries(spec: Record<string, unknown>): Array<{ raw: string; path: Array<string | number> }> {
  const out: Array<{ raw: string; path: Array<string | number> }> = [];
  asArray(spec.gateways).forEach((g, i) => {
    if (typeof g === "string") out.push({ raw: g, path: ["spec", "gateways", i] });
  });
  asArray(spec.http).forEach((h, i) =>
    asArray(asObj(h).match).forEach((m, j) =>
      asArray(asObj(m).gateways).forEach((g, k) => {
        if (typeof g === "string") out.push({ raw: g, path: ["spec", "http", i, "match", j, "gateways", k] });
      }),
    ),
  );
  return out;
}

export default defineRule({
  code: "vs/gateway-dotted-name",
  layer: "semantic",
  severity: "info",
  anchors: ["KIA1108", "IST0133"],
  title: "VirtualServices name gateways as namespace/name",
  description:
    "Istio still reads a gateway written as a host name (`ingress.istio-system.svc.cluster.local`, or `ingress.istio-system`) as `istio-system/ingress`: the first label is the name, the second the namespace, the rest is ignored. The form is legacy and misleads: `ingress.istio-system.svc.corp.internal` works on a cluster of another domain, a dotted Gateway name is read as a namespace, and `istioctl analyze` 1.30 does not resolve it as istiod does (it reports the gateway as missing, IST0101, and the hosts as not in it, IST0132). istioctl's validation warns (IST0133) and Kiali marks it (KIA1108).",
  hint: "write the gateway as `<namespace>/<name>`",
  check({ index }) {
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      for (const g of gatewayEntries(asObj(vs.object.spec))) {
        if (g.raw === "mesh" || g.raw.includes("/") || !g.raw.includes(".")) continue;
        out.push({
          resource: vs,
          path: g.path,
          message: `${describe(vs)} names gateway '${g.raw}' as a host name; Istio reads it as ${gatewayRef(g.raw, vs.ns)}`,
        });
      }
    }
    return out;
  },
});
