import { defineRule, type Report } from "../rule.ts";
import { asObj, asStringMap, describe } from "../resource.ts";
import { selects } from "../resource-index.ts";
import { anyAmbient, DATAPLANE_MODE } from "./ambient-util.ts";
import { capturedByAmbient, isGatewayPod, podWorkloads, sidecarSource } from "./ambient-workloads.ts";

export default defineRule({
  code: "ambient/ineffective-sidecar",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0167"],
  title: "Sidecar resources configure pods that run a sidecar",
  description:
    "A Sidecar resource configures sidecar proxies; Ambient pods have none, so it does nothing for them (istioctl's IneffectivePolicy, from its Sidecar selector analyzer). Reported, as istioctl does, for a Sidecar whose workloadSelector selects a workload in Ambient (its pods are captured by ztunnel: Ambient labels, or a Pod's `ambient.istio.io/redirection: enabled`), and for a Sidecar without selector in a namespace labelled `istio.io/dataplane-mode: ambient` and with no injection label (`istio-injection: enabled`, `istio.io/rev`). Unlike istioctl, a selector-less Sidecar is not reported when some workload in its namespace still runs a sidecar (injected by its own label), nor in the root namespace while any workload runs one: it configures those.",
  hint: "delete the Sidecar, or configure the Ambient workloads through their waypoint (Gateway API and Istio policies with targetRefs)",
  check({ index }) {
    const out: Report[] = [];
    if (!anyAmbient(index)) return out;
    const pods = podWorkloads(index).filter((p) => !isGatewayPod(p));
    for (const sc of index.of("Sidecar")) {
      const sel = asStringMap(asObj(asObj(sc.object.spec).workloadSelector).labels);
      if (Object.keys(sel).length) {
        const ambient = pods.filter(
          (p) => p.r.ns === sc.ns && selects(sel, p.labels) && capturedByAmbient(index, p),
        );
        if (!ambient.length) continue;
        out.push({
          resource: sc,
          path: ["spec", "workloadSelector"],
          message: `${describe(sc)} selects workloads in Ambient mode, which run no sidecar: it has no effect on ${ambient.map((p) => describe(p.r)).join(", ")}`,
        });
        continue;
      }
      const labels = index.namespaceLabels(sc.ns);
      if (labels?.[DATAPLANE_MODE] !== "ambient") continue;
      // istioctl: an injection label on the namespace means it is not (only) in Ambient.
      if (labels["istio-injection"] === "enabled" || (labels["istio.io/rev"] ?? "") !== "") continue;
      const root = sc.ns === index.platform.rootNamespace;
      if (pods.some((p) => (root || p.r.ns === sc.ns) && sidecarSource(index, p))) continue;
      out.push({
        resource: sc,
        path: ["metadata", "name"],
        message: `${describe(sc)} applies to its whole namespace, which is in Ambient mode (istio.io/dataplane-mode: ambient): no pod there runs a sidecar, so it has no effect`,
      });
    }
    return out;
  },
});
