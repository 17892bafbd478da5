/**
 * `${cluster.*}` placeholders in values and mesh files, so one chapter serves every cluster:
 * `${cluster.istio.network}` becomes `network1` on the primary and `network2` on the remote.
 */
import { defaultImageRegistry } from "../model/images.ts";
import type { Cluster } from "../model/types.ts";

const PLACEHOLDER = /\$\{(cluster(?:\.[A-Za-z][A-Za-z0-9]*)+)\}/g;

export interface SubstitutionResult<T> {
  value: T;
  /** Placeholders that name no field of the cluster. */
  unknown: string[];
}

export function clusterVariables(cluster: Cluster): Record<string, string> {
  const vars: Record<string, string> = {
    "cluster.name": cluster.name,
    "cluster.role": cluster.role,
    "cluster.kubernetesVersion": cluster.kubernetesVersion,
    "cluster.istio.meshID": cluster.istio.meshID,
    "cluster.istio.clusterName": cluster.istio.clusterName,
    "cluster.istio.network": cluster.istio.network,
    "cluster.argocd.repoURL": cluster.argocd.repoURL,
    "cluster.argocd.targetRevision": cluster.argocd.targetRevision,
  };
  if (cluster.istio.primaryCluster) vars["cluster.istio.primaryCluster"] = cluster.istio.primaryCluster;
  // Unknown (an unknown placeholder where a chapter uses it) when neither cluster.yaml nor a GitHub
  // repoURL says where the images are.
  const registry = cluster.images?.registry ?? defaultImageRegistry(cluster.argocd.repoURL);
  if (registry) vars["cluster.images.registry"] = registry;
  // Empty: the app chart's appVersion.
  vars["cluster.images.tag"] = cluster.images?.tag ?? "";
  return vars;
}

export function substitute<T>(value: T, vars: Record<string, string>): SubstitutionResult<T> {
  const unknown = new Set<string>();
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") {
      return v.replace(PLACEHOLDER, (whole, name: string) => {
        const replacement = vars[name];
        if (replacement === undefined) {
          unknown.add(whole);
          return whole;
        }
        return replacement;
      });
    }
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === "object" && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return { value: walk(value) as T, unknown: [...unknown] };
}
