import { defineRule, type Report } from "../rule.ts";
import { asObj, asString, describe } from "../resource.ts";
import { vsRoutes } from "../istio.ts";

export default defineRule({
  code: "vs/repeated-destination",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1105"],
  title: "A route names each host and subset once",
  description:
    "Two destinations of one route with the same host, subset and port split the traffic between identical targets: a copy-paste slip, usually where a canary's subset (v2) was meant.",
  hint: "change the subset (or host) of one destination, or merge their weights",
  check({ index }) {
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      for (const { section, index: i, destinations: route } of vsRoutes(vs)) {
        if (route.length < 2) continue;
        const seen = new Set<string>();
        route.forEach((d, j) => {
          const dest = asObj(d.destination);
          const host = asString(dest.host);
          if (!host) return;
          const key = `${index.fqdn(host, vs.ns)}|${asString(dest.subset) ?? ""}|${String(asObj(dest.port).number ?? "")}`;
          if (!seen.has(key)) return void seen.add(key);
          out.push({
            resource: vs,
            path: ["spec", section, i, "route", j, "destination"],
            message: `${describe(vs)} ${section}[${i}] routes to ${host}${dest.subset ? ` subset ${String(dest.subset)}` : ""} twice`,
          });
        });
      }
    }
    return out;
  },
});
