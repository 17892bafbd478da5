import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString } from "../resource.ts";
import { GWAPI } from "./gwapi-util.ts";

/**
 * `istioctl x precheck`'s Gateway API check (istioctl/pkg/precheck, checkGatewayAPIs): the kinds
 * whose CRD must serve v1beta1 (what istiod still reads) and the kinds whose CRD should serve v1.
 */
const NEEDS_V1BETA1 = new Set(["Gateway", "GatewayClass", "HTTPRoute", "ReferenceGrant"]);
const NEEDS_V1 = new Set(["Gateway", "GatewayClass", "HTTPRoute", "GRPCRoute"]);

export default defineRule({
  code: "gwapi/crd-served-versions",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0156", "IST0172"],
  title: "Gateway API CRDs serve the API versions Istio reads",
  description:
    "A CustomResourceDefinition of the Gateway API group in the render (installed by a chart or by the files themselves) must serve the versions Istio 1.30 uses, as `istioctl x precheck` checks: `v1beta1` for Gateway, GatewayClass, HTTPRoute and ReferenceGrant (an error, IST0156: istiod cannot watch them) and `v1` for Gateway, GatewayClass, HTTPRoute and GRPCRoute (a warning, IST0172: the next Istio versions read only v1). Versions with `served: false` do not count. Renders without Gateway API CRDs are not concerned.",
  hint: "install the Gateway API CRDs of a release Istio 1.30 supports (the standard channel of v1.5.x), instead of an older bundle",
  check({ index }) {
    const out: Report[] = [];
    for (const crd of index.of("CustomResourceDefinition")) {
      const spec = asObj(crd.object.spec);
      if (spec.group !== GWAPI) continue;
      const kind = asString(asObj(spec.names).kind) ?? "";
      const served = asArray(spec.versions)
        .map(asObj)
        .filter((v) => v.served === true)
        .map((v) => asString(v.name) ?? "")
        .sort();
      const has = served.length ? served.join(",") : "none";
      if (NEEDS_V1BETA1.has(kind) && !served.includes("v1beta1"))
        out.push({
          resource: crd,
          path: ["spec", "versions"],
          anchors: ["IST0156"],
          message: `CustomResourceDefinition ${crd.name} serves ${has}, not v1beta1, which Istio reads ${kind} at`,
        });
      if (NEEDS_V1.has(kind) && !served.includes("v1"))
        out.push({
          resource: crd,
          path: ["spec", "versions"],
          anchors: ["IST0172"],
          severity: "warning",
          message: `CustomResourceDefinition ${crd.name} serves ${has}, not v1, the version of ${kind} later Istio releases require`,
        });
    }
    return out;
  },
});
