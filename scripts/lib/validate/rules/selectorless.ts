/** Shared by the Sidecar and Telemetry rules: several selector-less or overlapping resources per namespace. */
import type { Report } from "../rule.ts";
import { describe, type Resource } from "../resource.ts";
import { hasTargetRef, policySelector } from "../istio.ts";
import { selects, type ResourceIndex } from "../resource-index.ts";

export function multipleSelectorless(index: ResourceIndex, kind: string): Report[] {
  const byNs = new Map<string, Resource[]>();
  for (const r of index.allOf(kind)) {
    if (policySelector(r) || hasTargetRef(r)) continue;
    byNs.set(r.ns, [...(byNs.get(r.ns) ?? []), r]);
  }
  const out: Report[] = [];
  for (const list of byNs.values()) {
    if (list.length < 2) continue;
    // Each of them is reported (as istioctl does): any one may be the one that is ignored.
    for (const r of list) {
      if (r.peer) continue;
      const others = list.filter((o) => o !== r).map((o) => describe(o));
      out.push({
        resource: r,
        path: ["metadata", "name"],
        message: `${describe(r)} and ${others.join(", ")} have no workload selector in namespace ${r.ns}; only one takes effect`,
      });
    }
  }
  return out;
}

export function conflictingSelectors(index: ResourceIndex, kind: string): Report[] {
  const out: Report[] = [];
  const withSel = index.allOf(kind).filter((r) => policySelector(r));
  const byNs = new Map<string, Resource[]>();
  for (const r of withSel) byNs.set(r.ns, [...(byNs.get(r.ns) ?? []), r]);
  for (const list of byNs.values()) {
    if (list.length < 2) continue;
    const reported = new Set<Resource>();
    for (const w of index.workloads) {
      const hits = list.filter((r) => r.ns === w.ns && selects(policySelector(r)!.labels, w.labels));
      if (hits.length < 2) continue;
      for (const r of hits.slice(1)) {
        if (r.peer || reported.has(r)) continue;
        reported.add(r);
        out.push({
          resource: r,
          path: policySelector(r)!.path,
          message: `${describe(r)} and ${describe(hits[0]!)} both select ${w.origin}; only one takes effect`,
        });
      }
    }
  }
  return out;
}
