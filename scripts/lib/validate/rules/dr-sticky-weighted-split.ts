import type { YamlPath } from "../../yaml-source.ts";
import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, type Obj, type Resource } from "../resource.ts";

interface Split {
  vs: Resource;
  route: number;
  subsets: Set<string>;
}

/** Whether an earlier route sends requests that carry the hash key to a single destination. */
function divertedBefore(vs: Resource, route: number, hash: Obj): boolean {
  const http = asArray(asObj(vs.object.spec).http).map(asObj);
  const header = typeof hash.httpHeaderName === "string" ? hash.httpHeaderName.toLowerCase() : undefined;
  const cookie =
    typeof asObj(hash.httpCookie).name === "string" ? String(asObj(hash.httpCookie).name) : undefined;
  const query = typeof hash.httpQueryParameterName === "string" ? hash.httpQueryParameterName : undefined;
  return http.slice(0, route).some((r) => {
    if (asArray(r.route).length !== 1) return false;
    return asArray(r.match).some((m) => {
      const mo = asObj(m);
      const headers = Object.fromEntries(
        Object.entries(asObj(mo.headers)).map(([k, v]) => [k.toLowerCase(), v]),
      );
      if (header && headers[header] !== undefined) return true;
      if (cookie && JSON.stringify(headers.cookie ?? "").includes(cookie)) return true;
      return query !== undefined && asObj(mo.queryParams)[query] !== undefined;
    });
  });
}

export default defineRule({
  code: "dr/sticky-weighted-split",
  layer: "semantic",
  severity: "warning",
  anchors: [],
  title: "Consistent-hash stickiness is not undone by a weighted split across subsets",
  description:
    "`loadBalancer.consistentHash` picks an endpoint within one subset (one Envoy cluster). When a VirtualService route splits the same host by weight across subsets, each request first picks a subset at random by weight, so the session does not stick: users bounce between versions. Not reported when an earlier route sends the requests that carry the hash key (header, cookie or query parameter) to a single destination, which is the way to combine both.",
  hint: "give sticky traffic its own route (match on the hash header or cookie) with a single destination before the weighted split, or drop consistentHash",
  check({ index }) {
    const splits = new Map<string, Split[]>();
    for (const vs of index.allOf("VirtualService")) {
      asArray(asObj(vs.object.spec).http).forEach((r, i) => {
        const byHost = new Map<string, Set<string>>();
        for (const d of asArray(asObj(r).route).map(asObj)) {
          const dest = asObj(d.destination);
          if (typeof dest.host !== "string" || typeof dest.subset !== "string" || !d.weight) continue;
          const h = index.fqdn(dest.host, vs.ns);
          byHost.set(h, (byHost.get(h) ?? new Set()).add(dest.subset));
        }
        for (const [h, subsets] of byHost)
          if (subsets.size > 1) splits.set(h, [...(splits.get(h) ?? []), { vs, route: i, subsets }]);
      });
    }
    const out: Report[] = [];
    for (const dr of index.of("DestinationRule")) {
      const spec = asObj(dr.object.spec);
      if (typeof spec.host !== "string") continue;
      const list = splits.get(index.fqdn(spec.host, dr.ns));
      if (!list) continue;
      const places: Array<{ hash: Obj; path: YamlPath; subset?: string }> = [];
      const top = asObj(asObj(asObj(spec.trafficPolicy).loadBalancer).consistentHash);
      if (Object.keys(top).length)
        places.push({ hash: top, path: ["spec", "trafficPolicy", "loadBalancer", "consistentHash"] });
      asArray(spec.subsets).forEach((s, i) => {
        const h = asObj(asObj(asObj(asObj(s).trafficPolicy).loadBalancer).consistentHash);
        if (Object.keys(h).length)
          places.push({
            hash: h,
            path: ["spec", "subsets", i, "trafficPolicy", "loadBalancer", "consistentHash"],
            subset: String(asObj(s).name),
          });
      });
      for (const { hash, path, subset } of places) {
        const hit = list.find(
          (s) => (subset === undefined || s.subsets.has(subset)) && !divertedBefore(s.vs, s.route, hash),
        );
        if (!hit) continue;
        out.push({
          resource: dr,
          path,
          message: `${describe(dr)} asks for consistent-hash stickiness${subset ? ` in subset '${subset}'` : ""}, but ${describe(hit.vs)} http[${hit.route}] splits host '${spec.host}' by weight across subsets ${[...hit.subsets].join(", ")}, so sessions do not stick`,
        });
      }
    }
    return out;
  },
});
