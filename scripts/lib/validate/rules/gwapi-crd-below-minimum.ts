import { defineRule, type Report } from "../rule.ts";
import { asObj, asStringMap } from "../resource.ts";
import { GWAPI } from "./gwapi-util.ts";

export const BUNDLE_VERSION = `${GWAPI}/bundle-version`;

/**
 * The minimum bundle version of the Gateway API CRDs whose older schemas istiod 1.30 refuses to
 * watch (pkg/config/schema/gatewayapi/minimumversions.go at the pinned commit).
 */
export const MINIMUM_CRD_VERSIONS: Readonly<Record<string, readonly [number, number, number]>> = {
  [`grpcroutes.${GWAPI}`]: [1, 1, 0],
  [`backendtlspolicies.${GWAPI}`]: [1, 4, 0],
  [`tlsroutes.${GWAPI}`]: [1, 5, 0],
};

/**
 * A semantic version as Masterminds/semver (what Istio uses) reads one: an optional `v`, one to
 * three numbers, a pre-release and build metadata (both ignored here: Istio strips the pre-release,
 * so v1.5.0-rc.1 counts as 1.5.0). Undefined when it is not a version: Istio then says nothing.
 */
export function parseBundleVersion(v: string): [number, number, number] | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(v.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

const below = (a: readonly number[], b: readonly number[]) => {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
};

export default defineRule({
  code: "gwapi/crd-below-minimum",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0176"],
  title: "Gateway API CRDs are at least the bundle version Istio requires",
  description:
    "istiod 1.30 ignores a Gateway API CustomResourceDefinition whose `gateway.networking.k8s.io/bundle-version` annotation is below its minimum for that CRD: GRPCRoute 1.1.0, BackendTLSPolicy 1.4.0, TLSRoute 1.5.0 (the pre-release part of the version does not count). Its resources are then never processed: a TLSRoute from a v1.4 bundle leaves a TLS passthrough listener with no routes. A CRD without the annotation, or with one that is not a version, is not checked (istiod logs that case itself).",
  hint: "upgrade the Gateway API CRDs to a bundle that satisfies the minimum (the standard channel of v1.5.x for Istio 1.30)",
  check({ index }) {
    const out: Report[] = [];
    for (const crd of index.of("CustomResourceDefinition")) {
      const minimum = MINIMUM_CRD_VERSIONS[crd.name];
      if (!minimum || asObj(crd.object.spec).group !== GWAPI) continue;
      const raw = asStringMap(asObj(crd.object.metadata).annotations)[BUNDLE_VERSION];
      if (raw === undefined) continue;
      const installed = parseBundleVersion(raw);
      if (!installed || !below(installed, minimum)) continue;
      out.push({
        resource: crd,
        path: ["metadata", "annotations", BUNDLE_VERSION],
        message: `CustomResourceDefinition ${crd.name} is at bundle version ${raw}, below the ${minimum.join(".")} Istio 1.30 requires: istiod does not process its resources`,
      });
    }
    return out;
  },
});
