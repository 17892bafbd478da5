import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { policySelector } from "../istio.ts";
import { anyAmbient, DATAPLANE_MODE, namespaceLabels } from "./ambient-util.ts";
import { capturedByZtunnel } from "./ambient-policy-util.ts";

/**
 * istioctl's test for an Ambient namespace (analyzers/util NamespaceInAmbientMode): the
 * dataplane-mode label, unless an injection label (`istio-injection: enabled`, a revision) says
 * sidecars.
 */
function ambientForIstioctl(labels: Record<string, string> | undefined): boolean {
  if (!labels || labels["istio-injection"] === "enabled") return false;
  if (labels["istio.io/rev"]) return false;
  return labels[DATAPLANE_MODE] === "ambient";
}

export default defineRule({
  code: "ambient/sidecar-resource",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0167"],
  title: "Sidecar resources apply to pods that have a sidecar",
  description:
    "A Sidecar resource configures the sidecar proxies of its namespace (or of the pods its `workloadSelector` picks); pods in Ambient mode have none, so it has no impact. As istioctl analyze does, a Sidecar without `workloadSelector` in a namespace labelled `istio.io/dataplane-mode: ambient` (and no `istio-injection: enabled` or `istio.io/rev`) is reported; istioctl knows Ambient pods by the annotation the CNI agent sets on running pods, so for a Sidecar with a selector the pods' manifests decide instead: reported when every pod template it selects is captured by ztunnel (in Ambient, without a sidecar or a proxy of its own). Silent when nothing in the render is in Ambient.",
  hint: 'delete the Sidecar (Ambient pods have no sidecar to configure), or label the pods that need it `sidecar.istio.io/inject: "true"`',
  check({ index }) {
    if (!anyAmbient(index)) return [];
    const out: Report[] = [];
    for (const sc of index.of("Sidecar")) {
      const sel = policySelector(sc);
      if (!sel) {
        if (!ambientForIstioctl(namespaceLabels(index, sc.ns))) continue;
        out.push({
          resource: sc,
          path: ["spec"],
          message: `${describe(sc)} configures the sidecars of namespace ${sc.ns}, which is in Ambient mode: its pods have no sidecar, the Sidecar has no impact`,
        });
        continue;
      }
      const selected = index.workloadsSelected(sel.labels, sc.ns);
      if (!selected.length || !selected.every((w) => capturedByZtunnel(index, w))) continue;
      out.push({
        resource: sc,
        path: sel.path,
        message: `${describe(sc)} selects ${selected.map((w) => w.origin).join(", ")}, in Ambient mode without a sidecar: the Sidecar has no impact`,
      });
    }
    return out;
  },
});
