import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

/** Istio kinds whose CRDs were removed (istioctl's deprecation analyzer). */
const REMOVED = new Set([
  "rbac.istio.io/ClusterRbacConfig",
  "rbac.istio.io/RbacConfig",
  "rbac.istio.io/ServiceRole",
  "rbac.istio.io/ServiceRoleBinding",
]);

export default defineRule({
  code: "istio/deprecated",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0002"],
  title: "No deprecated or removed Istio kinds and fields",
  description:
    "What istioctl's deprecation analyzer knows: the rbac.istio.io kinds and their CRDs (removed; Istio ignores them, so the policy they describe is not enforced), a Sidecar's `outboundTrafficPolicy.egressProxy` (ignored) and a VirtualService fault's `delay.percent` (replaced by `delay.percentage`).",
  hint: "use AuthorizationPolicy instead of rbac.istio.io; drop egressProxy; write `percentage: {value: N}`",
  check({ index }) {
    const out: Report[] = [];
    for (const r of index.local) {
      const spec = asObj(r.object.spec);
      if (REMOVED.has(`${r.group}/${r.kind}`)) {
        out.push({
          resource: r,
          path: ["kind"],
          message: `${describe(r)}: rbac.istio.io was removed from Istio; this is ignored`,
        });
      }
      if (
        r.kind === "CustomResourceDefinition" &&
        REMOVED.has(`${String(spec.group)}/${String(asObj(spec.names).kind)}`)
      ) {
        out.push({
          resource: r,
          path: ["spec", "names", "kind"],
          message: `${describe(r)} defines a removed Istio kind`,
        });
      }
      if (r.kind === "Sidecar" && asObj(spec.outboundTrafficPolicy).egressProxy !== undefined) {
        out.push({
          resource: r,
          path: ["spec", "outboundTrafficPolicy", "egressProxy"],
          message: `${describe(r)}: outboundTrafficPolicy.egressProxy is deprecated and ignored`,
        });
      }
      if (r.kind === "VirtualService") {
        asArray(spec.http).forEach((h, i) => {
          const delay = asObj(asObj(asObj(h).fault).delay);
          if (typeof delay.percent !== "number" || delay.percent <= 0) return;
          out.push({
            resource: r,
            path: ["spec", "http", i, "fault", "delay", "percent"],
            message: `${describe(r)}: fault.delay.percent is deprecated; use fault.delay.percentage`,
          });
        });
      }
    }
    return out;
  },
});
