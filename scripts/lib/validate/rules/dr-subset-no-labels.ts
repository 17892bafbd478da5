import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

export default defineRule({
  code: "dr/subset-no-labels",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA0209"],
  title: "DestinationRule subsets have labels",
  description:
    "A subset without `labels` selects every endpoint of the host, so routing to it is routing to the whole service: a version split through it splits nothing.",
  hint: "give the subset the labels of its pods (e.g. `version: v2`)",
  check({ index }) {
    const out: Report[] = [];
    for (const dr of index.of("DestinationRule")) {
      asArray(asObj(dr.object.spec).subsets).forEach((s, i) => {
        if (Object.keys(asObj(asObj(s).labels)).length) return;
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
