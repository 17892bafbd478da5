import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { anyAmbient, DATAPLANE_MODE } from "./ambient-util.ts";
import {
  hasAmbientLabel,
  inAmbientNamespace,
  isGatewayPod,
  podWorkloads,
  runsPods,
  sidecarSource,
  type PodWorkload,
} from "./ambient-workloads.ts";

const INJECT = "sidecar.istio.io/inject";

const SOURCE = {
  container: "an istio-proxy container in its manifest",
  pod: "its own injection label",
  namespace: "its namespace's injection label",
} as const;

/** Where the pod's own injection label is: `sidecar.istio.io/inject` (label or annotation), else `istio.io/rev`. */
function injectionLabelPath(p: PodWorkload): string[] {
  if (p.labels[INJECT] !== undefined) return ["labels", INJECT];
  if (p.annotations[INJECT] !== undefined) return ["annotations", INJECT];
  return ["labels", "istio.io/rev"];
}

export default defineRule({
  code: "ambient/sidecar-and-ambient",
  layer: "semantic",
  severity: "error",
  anchors: ["KIA1311", "KIA1316"],
  title: "A workload runs a sidecar or is in Ambient, not both",
  description:
    "Sidecar injection (the namespace's `istio-injection: enabled` or `istio.io/rev`, the pod's `sidecar.istio.io/inject: \"true\"` or `istio.io/rev`) and Ambient (`istio.io/dataplane-mode: ambient` on the pod, or on its namespace without the pod's `none`) both select the workload. Istio's CNI does not capture a pod with a sidecar, so the Ambient label is silently ignored and the workload is not in Ambient (KIA1311, an error). A sidecar in an Ambient namespace that the pod does not opt out of is reported as a warning (KIA1316); a pod that opts out with `istio.io/dataplane-mode: none` to keep its sidecar is deliberate and not reported (Kiali warns there too). Gateway pods are not sidecars and are not reported; a workload scaled to zero replicas is reported for KIA1311 only (Kiali checks KIA1316 on running pods).",
  hint: 'pick one data plane: drop the injection label (or set `sidecar.istio.io/inject: "false"` on the pod) for Ambient, or set `istio.io/dataplane-mode: none` on the pod to keep the sidecar',
  check({ index }) {
    const out: Report[] = [];
    if (!anyAmbient(index)) return out;
    for (const p of podWorkloads(index)) {
      if (isGatewayPod(p)) continue;
      const source = sidecarSource(index, p);
      if (!source) continue;
      const ownAmbient = p.labels[DATAPLANE_MODE] === "ambient";
      // KIA1311 is about labels: injection labels, or a manual sidecar with the pod's own Ambient label.
      const labelConflict = hasAmbientLabel(index, p) && (source !== "container" || ownAmbient);
      const inNs = inAmbientNamespace(index, p) && runsPods(p);
      if (!labelConflict && !inNs) continue;
      const anchors = [...(labelConflict ? ["KIA1311"] : []), ...(inNs ? ["KIA1316"] : [])];
      const ambientWhy = ownAmbient
        ? "its own istio.io/dataplane-mode: ambient"
        : "its namespace's istio.io/dataplane-mode: ambient";
      out.push({
        resource: p.r,
        path: ownAmbient
          ? [...p.metaPath, "labels", DATAPLANE_MODE]
          : source === "pod"
            ? [...p.metaPath, ...injectionLabelPath(p)]
            : [...p.metaPath],
        anchors,
        ...(labelConflict ? {} : { severity: "warning" as const }),
        message: `${describe(p.r)} gets a sidecar (${SOURCE[source]}) and is in Ambient (${ambientWhy}): the CNI skips pods with a sidecar, so it is not in Ambient as labelled`,
      });
    }
    return out;
  },
});
