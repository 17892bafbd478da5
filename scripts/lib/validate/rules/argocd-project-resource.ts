import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { argoModel, destinationPermitted, groupKindPermitted } from "./argocd-model.ts";

/**
 * Separate from argocd/project-permits on purpose: that rule checks the Application's own spec
 * (sources, destination), which Argo CD checks before generating manifests (the whole Application
 * is refused). This one checks every object the Application renders, which the controller checks
 * per resource at sync (`validateSyncPermissions` in controller/sync.go): a chart that puts one
 * Service into kube-system fails the sync of an Application whose destination is permitted.
 */
export default defineRule({
  code: "argocd/project-resource",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "The AppProject permits every object the Application renders: its namespace and its kind",
  description:
    "At sync, Argo CD 3 checks each object of an Application against its AppProject (`validateSyncPermissions`, controller/sync.go): a namespaced object's namespace (its own `metadata.namespace`, else the destination's) must match a `destinations` entry for the Application's destination cluster (`isDestinationMatched`: name or server glob, namespace glob, `!` denies), else `namespace X is not permitted in project`; its kind must pass `namespaceResourceWhitelist` (absent: all kinds; empty: none) and `namespaceResourceBlacklist`; a cluster-scoped object must be in `clusterResourceWhitelist` (absent or empty: none) and not in `clusterResourceBlacklist` (group/kind/name matched with Go's filepath.Match), else `resource G:K is not permitted in project`. Charts put objects outside the release namespace (kube-prometheus-stack's exporter Services and cert-manager's leader-election Roles go to kube-system). An object belongs to the Application named by its `argocd.argoproj.io/tracking-id` or, for directory sources, whose path contains its file. The `default` project permits everything; a destination cluster whose server URL (or name) is unknown offline is only reported when the project's answer does not depend on it.",
  hint: "add the namespace (or the kind) to the AppProject, or change the chart's values so it renders into a permitted namespace",
  check({ index }) {
    const model = argoModel(index);
    const out: Report[] = [];
    for (const a of model.apps) {
      if (!a.project) continue;
      for (const r of a.objects) {
        const ns = model.namespaceOf(r, a);
        const namespaced = !model.clusterScoped(r);
        if (!groupKindPermitted(a.project, r.group, r.kind, r.name, namespaced)) {
          out.push({
            resource: r,
            path: ["kind"],
            message: `${describe(r)} (Application ${a.name}) is a ${namespaced ? "namespaced" : "cluster-scoped"} ${r.group || "core"}/${r.kind}, which project '${a.projectName}' does not permit (${namespaced ? "namespaceResourceWhitelist/Blacklist" : "clusterResourceWhitelist/Blacklist"}): resource ${r.group}:${r.kind} is not permitted in project ${a.projectName}`,
          });
          continue;
        }
        if (!namespaced || destinationPermitted(a.project, a.cluster, ns) !== false) continue;
        out.push({
          resource: r,
          path: r.namespace ? ["metadata", "namespace"] : ["metadata"],
          message: `${describe(r)} (Application ${a.name}) is applied to namespace ${ns} of cluster ${a.cluster.name ?? a.cluster.server ?? "?"}, which project '${a.projectName}' does not permit: the sync fails with "namespace ${ns} is not permitted in project '${a.projectName}'"`,
        });
      }
    }
    return out;
  },
});
