import { load } from "js-yaml";
import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, asStringMap, describe, isObj } from "../resource.ts";
import { podTemplate, type ResourceIndex } from "../resource-index.ts";

/** The registries every istiod has, whatever its clusters (provider IDs). */
const BUILT_IN = ["Kubernetes", "External", "Mock"];

/**
 * The registries istiod of this render knows: the built-in ones, its own cluster (istiod's
 * CLUSTER_ID, from the chart's `global.multiCluster.clusterName`), the clusters of its remote
 * secrets (data keys of Secrets labelled `istio/multiCluster: "true"`), and in repo mode the
 * clusters of the same mesh (clusters/<c>/cluster.yaml `istio.clusterName` with the same meshID),
 * whose remote secrets are created at install time and never rendered.
 */
function knownRegistries(index: ResourceIndex, mesh: ReadonlySet<string> | undefined): Set<string> {
  const known = new Set([...BUILT_IN, ...(mesh ?? [])]);
  for (const d of index.allOf("Deployment")) {
    if (asStringMap(asObj(d.object.metadata).labels).app !== "istiod") continue;
    for (const c of asArray(podTemplate(d)?.spec.containers))
      for (const e of asArray(asObj(c).env))
        if (asObj(e).name === "CLUSTER_ID") {
          const v = asString(asObj(e).value);
          if (v) known.add(v);
        }
  }
  for (const s of index.allOf("Secret")) {
    if (asStringMap(asObj(s.object.metadata).labels)["istio/multiCluster"] !== "true") continue;
    for (const k of [...Object.keys(asObj(s.object.data)), ...Object.keys(asObj(s.object.stringData))])
      known.add(k);
  }
  return known;
}

export default defineRule({
  code: "istio/mesh-networks-registry",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0126"],
  title: "meshNetworks endpoints name registries istiod has",
  description:
    "meshNetworks (istiod's `global.meshNetworks` value, rendered into the `meshNetworks` key of the `istio` ConfigMap) assigns endpoints to networks; `fromRegistry` names a service registry by its cluster ID. A name istiod has no registry for (a typo, the cluster's Argo CD name instead of its `clusterName`) puts no endpoint in that network: cross-network traffic to it is never sent through its gateway (IST0126). Known are `Kubernetes`, `External`, `Mock` (as istioctl), istiod's own CLUSTER_ID, the clusters of remote secrets in the render, and in repo mode the `istio.clusterName` of every cluster of the same mesh (clusters/*/cluster.yaml).",
  hint: "use the cluster ID (cluster.yaml istio.clusterName, istiod's global.multiCluster.clusterName) of a cluster of this mesh",
  check({ index, repo }) {
    const out: Report[] = [];
    let known: Set<string> | undefined;
    for (const cm of index.of("ConfigMap")) {
      if (!/^istio(-.+)?$/.test(cm.name)) continue;
      const raw = asObj(cm.object.data).meshNetworks;
      if (typeof raw !== "string") continue;
      let doc: unknown;
      try {
        doc = load(raw);
      } catch {
        continue; // malformed embedded YAML: istiod refuses it at start
      }
      for (const [network, n] of Object.entries(asObj(asObj(doc).networks))) {
        for (const e of asArray(asObj(n).endpoints)) {
          if (!isObj(e) || typeof e.fromRegistry !== "string") continue;
          known ??= knownRegistries(index, repo?.meshClusterIDs);
          if (known.has(e.fromRegistry)) continue;
          out.push({
            resource: cm,
            path: ["data", "meshNetworks"],
            message: `${describe(cm)} puts the endpoints of registry '${e.fromRegistry}' in network ${network}, but istiod has no such registry (known: ${[...known].sort().join(", ")})`,
          });
        }
      }
    }
    return out;
  },
});
