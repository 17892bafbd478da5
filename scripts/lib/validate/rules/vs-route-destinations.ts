import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { vsRoutes } from "../istio.ts";

export default defineRule({
  code: "vs/single-weight",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1104"],
  title: "A route's only destination has no weight other than 100",
  description:
    "With a single destination in a route, its `weight` is ignored and taken as 100: a `weight: 10` there suggests a canary split that does not happen (all traffic goes to it).",
  hint: "remove the weight, or add the other destination of the split",
  check({ index }) {
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      for (const { section, index: i, destinations: route } of vsRoutes(vs)) {
        if (route.length !== 1) continue;
        const w = route[0]!.weight;
        if (typeof w !== "number" || w === 100 || w === 0) continue;
        out.push({
          resource: vs,
          path: ["spec", section, i, "route", 0, "weight"],
          message: `${describe(vs)} ${section}[${i}] has one destination with weight ${w}; it gets all the traffic`,
        });
      }
    }
    return out;
  },
});
