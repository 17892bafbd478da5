import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { policySelector } from "../istio.ts";

export default defineRule({
  code: "sidecar/root-selector",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1006"],
  title: "The mesh-wide Sidecar in the root namespace has no workload selector",
  description:
    "A Sidecar in Istio's root namespace is the mesh-wide default only without a `workloadSelector`; with one, it applies to the root namespace's own matching pods and to nothing else, so the default you meant to set does not exist.",
  hint: "remove workloadSelector from the root namespace's Sidecar, or move it to the workloads' namespace",
  check({ index }) {
    const out: Report[] = [];
    for (const sc of index.of("Sidecar")) {
      if (sc.ns !== index.platform.rootNamespace) continue;
      const sel = policySelector(sc);
      if (!sel) continue;
      out.push({
        resource: sc,
        path: sel.path,
        message: `${describe(sc)} is in the root namespace ${sc.ns} but has a workload selector: it is not the mesh-wide default`,
      });
    }
    return out;
  },
});
