import { defineRule, type Report } from "../rule.ts";
import { asObj, describe } from "../resource.ts";

export default defineRule({
  code: "sidecar/outbound-mode-unset",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1007"],
  title: "A Sidecar's outboundTrafficPolicy says its mode",
  description:
    "`outboundTrafficPolicy` without `mode` is ambiguous: through an Istio limitation it does not inherit the mesh's mode but means ALLOW_ANY, so a REGISTRY_ONLY mesh silently lets these pods reach any host.",
  hint: "write `mode: REGISTRY_ONLY` or `mode: ALLOW_ANY`",
  check({ index }) {
    const out: Report[] = [];
    for (const sc of index.of("Sidecar")) {
      const spec = asObj(sc.object.spec);
      if (spec.outboundTrafficPolicy === undefined || asObj(spec.outboundTrafficPolicy).mode !== undefined)
        continue;
      out.push({
        resource: sc,
        path: ["spec", "outboundTrafficPolicy"],
        message: `${describe(sc)} sets outboundTrafficPolicy without a mode`,
      });
    }
    return out;
  },
});
