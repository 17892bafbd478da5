import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, type Resource } from "../resource.ts";
import { vsGateways } from "../istio.ts";

/** Index of the first http route without a match (it takes every request that reaches it), or -1. */
function catchAll(vs: Resource): number {
  return asArray(asObj(vs.object.spec).http).findIndex((r) => asArray(asObj(r).match).length === 0);
}

export default defineRule({
  code: "vs/gateway-shared-host",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1106"],
  title: "VirtualServices sharing a host at one gateway do not both end in a catch-all",
  description:
    "Several VirtualServices for the same host bound to the same Gateway are merged, in an order you do not control (creation time). When one of them has a route without `match` (a catch-all), every route of the others that comes after it in the merge is unreachable; which one wins can change when a resource is re-created. Reported when at least one of them has a catch-all route.",
  hint: "merge the routes into one VirtualService for the host, or give the catch-all to exactly one VirtualService and match the others' prefixes first",
  check({ index }) {
    const groups = new Map<string, Resource[]>();
    for (const vs of index.allOf("VirtualService")) {
      for (const g of vsGateways(vs)) {
        if (g.ref === "mesh") continue;
        for (const h of asArray(asObj(vs.object.spec).hosts)) {
          if (typeof h !== "string") continue;
          const key = `${g.ref}|${h}`;
          const list = groups.get(key) ?? [];
          if (!list.includes(vs)) list.push(vs);
          groups.set(key, list);
        }
      }
    }
    const out: Report[] = [];
    const reported = new Set<Resource>();
    for (const [key, list] of groups) {
      if (list.length < 2 || !list.some((vs) => catchAll(vs) >= 0)) continue;
      const [gateway, host] = key.split("|") as [string, string];
      for (const vs of list) {
        if (vs.peer || reported.has(vs)) continue;
        reported.add(vs);
        const i = catchAll(vs);
        const others = list.filter((o) => o !== vs).map(describe);
        out.push({
          resource: vs,
          path: i >= 0 ? ["spec", "http", i] : ["spec", "hosts"],
          message: `${describe(vs)} and ${others.join(", ")} share host '${host}' at gateway ${gateway}, and ${i >= 0 ? `this one's http[${i}] catches every request` : "one of them has a catch-all route"}: the merge order decides which routes are reachable`,
        });
      }
    }
    return out;
  },
});
