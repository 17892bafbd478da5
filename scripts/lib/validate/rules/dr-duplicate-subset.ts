import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, type Resource } from "../resource.ts";

export default defineRule({
  code: "dr/duplicate-subset",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA0201"],
  title: "One DestinationRule per host and subset",
  description:
    "Two DestinationRules for the same host (in the same scope) that both define a subset, or both without subsets, conflict: Istio merges them only in narrow cases and otherwise uses the oldest.",
  hint: "keep one DestinationRule per host",
  check({ index }) {
    const seen = new Map<string, Resource>();
    const out: Report[] = [];
    for (const dr of index.allOf("DestinationRule")) {
      const spec = asObj(dr.object.spec);
      if (typeof spec.host !== "string") continue;
      const host = index.fqdn(spec.host, dr.ns);
      const selector = JSON.stringify(asObj(spec.workloadSelector));
      const subsets = asArray(spec.subsets).map((s) => String(asObj(s).name));
      const keys = subsets.length ? subsets.map((s, i) => [s, i] as const) : [["(no subset)", -1] as const];
      for (const [name, i] of keys) {
        const key = `${dr.ns}|${host}|${selector}|${name}`;
        const first = seen.get(key);
        if (first && first !== dr && !dr.peer) {
          out.push({
            resource: dr,
            path: i >= 0 ? ["spec", "subsets", i] : ["spec", "host"],
            message: `${describe(dr)} and ${describe(first)} both define ${i >= 0 ? `subset '${name}' of` : "rules for"} host '${host}'`,
          });
        } else if (!first) seen.set(key, dr);
      }
    }
    return out;
  },
});
