import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, type Resource } from "../resource.ts";
import { destinations } from "../istio.ts";

/** Subsets defined per fully qualified host, from every DestinationRule. */
export function subsetsByHost(
  all: readonly Resource[],
  fqdn: (h: string, ns: string) => string,
): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const dr of all) {
    const spec = asObj(dr.object.spec);
    if (typeof spec.host !== "string") continue;
    const host = fqdn(spec.host, dr.ns);
    const set = map.get(host) ?? new Set<string>();
    for (const s of asArray(spec.subsets))
      if (typeof asObj(s).name === "string") set.add(asObj(s).name as string);
    map.set(host, set);
  }
  return map;
}

export default defineRule({
  code: "vs/subset-not-found",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0101", "KIA1107"],
  title: "VirtualService subsets exist in a DestinationRule for that host",
  description:
    "A route destination with `subset: v2` needs a DestinationRule for the same host that defines a subset named `v2`; otherwise Envoy has no such cluster and requests fail with 503 (NR). Like `istioctl analyze` on files, this holds in path mode too: give the DestinationRules along with the VirtualServices.",
  hint: "add the subset to the host's DestinationRule (with labels that select the pods), or fix the subset name",
  check({ index }) {
    const subsets = subsetsByHost(index.allOf("DestinationRule"), (h, ns) => index.fqdn(h, ns));
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      for (const d of destinations(vs)) {
        if (!d.subset) continue;
        const fqdn = index.fqdn(d.host, vs.ns);
        const defined = subsets.get(fqdn);
        if (defined?.has(d.subset)) continue;
        out.push({
          resource: vs,
          path: [...d.path, "subset"],
          message: defined
            ? `${describe(vs)} routes to subset '${d.subset}' of '${d.host}', but its DestinationRule defines only: ${[...defined].join(", ") || "(none)"}`
            : `${describe(vs)} routes to subset '${d.subset}' of '${d.host}', but no DestinationRule exists for that host`,
        });
      }
    }
    return out;
  },
});
