import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

export default defineRule({
  code: "dr/subset-no-labels",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA0209"],
  title: "DestinationRule subsets have labels",
  description:
    "A subset without `labels` selects every endpoint of the host, so routing to it is routing to the whole service: a version split through it splits nothing. A subset with its own `trafficPolicy` and no labels is a per-route policy (the egress gateway pattern of Istio's documentation) and is not reported.",
  hint: "give the subset the labels of its pods (e.g. `version: v2`)",
  check({ index }) {
    const out: Report[] = [];
    for (const dr of index.of("DestinationRule")) {
      asArray(asObj(dr.object.spec).subsets).forEach((s, i) => {
        // A label-less subset with its own trafficPolicy is a per-route policy (Istio's egress
        // gateway pattern: TLS origination or SNI for one route), not a version split.
        if (Object.keys(asObj(asObj(s).labels)).length || asObj(s).trafficPolicy !== undefined) return;
        out.push({
          resource: dr,
          path: ["spec", "subsets", i],
          message: `${describe(dr)} subset '${String(asObj(s).name)}' has no labels: it is the whole service`,
        });
      });
    }
    return out;
  },
});
