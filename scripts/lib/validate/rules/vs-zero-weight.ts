import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { vsRoutes } from "../istio.ts";

export default defineRule({
  code: "vs/zero-weight",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0106"],
  title: "A route's destination weights do not add up to zero",
  description:
    "When every destination of a route has `weight: 0` (and weights are given), the route sends traffic nowhere; Istio rejects a total weight of zero for multi-destination routes.",
  hint: "give at least one destination a positive weight (weights are percentages that should add up to 100)",
  check({ index }) {
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      for (const { section, index: i, destinations: route } of vsRoutes(vs)) {
        // A single destination gets all traffic whatever its weight.
        if (route.length < 2) continue;
        const weights = route.map((d) => d.weight);
        if (!weights.some((w) => typeof w === "number")) continue;
        const total = weights.reduce<number>((s, w) => s + (typeof w === "number" ? w : 0), 0);
        if (total === 0) {
          out.push({
            resource: vs,
            path: ["spec", section, i, "route"],
            message: `${describe(vs)} ${section}[${i}] has destination weights adding up to 0`,
          });
        }
      }
    }
    return out;
  },
});
