import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString } from "../resource.ts";
import { GWAPI } from "./gwapi-util.ts";

/**
 * `istioctl x precheck`'s Gateway API check (istioctl/pkg/precheck, checkGatewayAPIs): the kinds
 * whose CRD must serve v1beta1 (IST0156) and the kinds whose CRD must serve v1 (IST0172).
 */
const NEEDS_V1BETA1 = new Set(["Gateway", "GatewayClass", "HTTPRoute", "ReferenceGrant"]);
const NEEDS_V1 = new Set(["Gateway", "GatewayClass", "HTTPRoute", "GRPCRoute"]);

/** The version istiod 1.30 watches each kind at (pkg/config/schema/gvk at the pinned commit). */
const ISTIOD_READS: Record<string, string> = {
  Gateway: "v1",
  GatewayClass: "v1",
  HTTPRoute: "v1",
  GRPCRoute: "v1",
  ReferenceGrant: "v1beta1",
};

export default defineRule({
  code: "gwapi/crd-served-versions",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0156", "IST0172"],
  title: "Gateway API CRDs serve the API versions Istio reads",
  description:
    "A CustomResourceDefinition of the Gateway API group in the render (installed by a chart or by the files themselves) must serve the versions `istioctl x precheck` asks for: `v1beta1` for Gateway, GatewayClass, HTTPRoute and ReferenceGrant (IST0156) and `v1` for Gateway, GatewayClass, HTTPRoute and GRPCRoute (IST0172). Versions with `served: false` do not count. A missing version istiod 1.30 watches the kind at (v1, v1beta1 for ReferenceGrant) is an error: istiod does not see those resources at all. A missing v1beta1 of a kind istiod reads at v1, which it still serves, is only a warning (istioctl rates it an error, from the days istiod read v1beta1). Renders without Gateway API CRDs are not concerned.",
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
      // Missing the version istiod watches the kind at: it does not see these resources at all.
      const blind = (v: string) => ISTIOD_READS[kind] === v;
      const unseen = `: istiod 1.30 reads ${kind} at that version and sees none of these resources`;
      if (NEEDS_V1BETA1.has(kind) && !served.includes("v1beta1"))
        out.push({
          resource: crd,
          path: ["spec", "versions"],
          anchors: ["IST0156"],
          ...(blind("v1beta1") ? {} : { severity: "warning" as const }),
          message: `CustomResourceDefinition ${crd.name} serves ${has}, not v1beta1${blind("v1beta1") ? unseen : ` (istioctl x precheck requires it; istiod 1.30 reads ${kind} at ${ISTIOD_READS[kind] ?? "v1"})`}`,
        });
      if (NEEDS_V1.has(kind) && !served.includes("v1"))
        out.push({
          resource: crd,
          path: ["spec", "versions"],
          anchors: ["IST0172"],
          ...(blind("v1") ? {} : { severity: "warning" as const }),
          message: `CustomResourceDefinition ${crd.name} serves ${has}, not v1${blind("v1") ? unseen : ""}`,
        });
    }
    return out;
  },
});
