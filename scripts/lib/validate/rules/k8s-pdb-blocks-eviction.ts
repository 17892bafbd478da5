import { defineRule, type Report } from "../rule.ts";
import { asObj, describe, type Resource } from "../resource.ts";
import { podTemplate, type ResourceIndex } from "../resource-index.ts";
import { labelSelectorMatches } from "./k8s-image-auto-without-injection.ts";

const SCALED = ["Deployment", "StatefulSet", "ReplicaSet"];

/** Replicas, or undefined when an autoscaler owns them (a HorizontalPodAutoscaler targets the object). */
function replicasOf(index: ResourceIndex, r: Resource): number | undefined {
  const hpa = index
    .allOf("HorizontalPodAutoscaler")
    .find((h) => h.ns === r.ns && asObj(asObj(h.object.spec).scaleTargetRef).name === r.name);
  if (hpa) {
    const min = asObj(hpa.object.spec).minReplicas;
    return typeof min === "number" ? min : 1;
  }
  const n = asObj(r.object.spec).replicas;
  return typeof n === "number" ? n : 1;
}

function allowed(spec: Record<string, unknown>, replicas: number): number | undefined {
  const pct = (v: string, roundUp: boolean) => {
    const x = (Number(v.slice(0, -1)) * replicas) / 100;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  };
  if (spec.maxUnavailable !== undefined) {
    const v = spec.maxUnavailable;
    if (typeof v === "number") return v;
    if (typeof v === "string" && v.endsWith("%")) return pct(v, true);
    return undefined;
  }
  if (spec.minAvailable !== undefined) {
    const v = spec.minAvailable;
    const min =
      typeof v === "number" ? v : typeof v === "string" && v.endsWith("%") ? pct(v, true) : undefined;
    return min === undefined ? undefined : replicas - min;
  }
  return undefined;
}

export default defineRule({
  code: "k8s/pdb-blocks-eviction",
  layer: "semantic",
  severity: "warning",
  anchors: [],
  title: "PodDisruptionBudgets allow at least one eviction",
  description:
    "A PodDisruptionBudget whose `maxUnavailable` is 0, or whose `minAvailable` is at least the number of replicas of the workload it selects (the HorizontalPodAutoscaler's `minReplicas`, when one scales it), allows no voluntary disruption: `kubectl drain` and node upgrades hang on these pods forever.",
  hint: "lower minAvailable below the replica count (or raise the replicas), or set maxUnavailable: 1",
  check({ index }) {
    const out: Report[] = [];
    for (const pdb of index.of("PodDisruptionBudget")) {
      const spec = asObj(pdb.object.spec);
      for (const kind of SCALED) {
        for (const r of index.allOf(kind)) {
          if (r.ns !== pdb.ns) continue;
          const t = podTemplate(r);
          if (!t || !labelSelectorMatches(spec.selector, t.labels) || spec.selector === undefined) continue;
          const replicas = replicasOf(index, r);
          if (replicas === undefined || replicas === 0) continue;
          const n = allowed(spec, replicas);
          if (n === undefined || n > 0) continue;
          out.push({
            resource: pdb,
            path: ["spec", spec.maxUnavailable !== undefined ? "maxUnavailable" : "minAvailable"],
            message: `${describe(pdb)} allows ${Math.max(n, 0)} of the ${replicas} pod(s) of ${describe(r)} to be evicted: no node can be drained`,
          });
        }
      }
    }
    return out;
  },
});
