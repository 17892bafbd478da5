/**
 * The Argo CD objects of one cluster: an AppProject that fences it in, one Application per
 * platform release (upstream chart + values from this repo, multi-source), one per local chart
 * (rendered manifests), one for the mesh policies, and the root Application that syncs them all.
 */
import type { Cluster, NamespaceMetadata } from "../model/types.ts";
import type { HelmRelease } from "../model/helmfile.ts";
import { chartSyncPolicy } from "./argocd-policy.ts";
import { renderedRoot } from "./layout.ts";

export const ARGOCD_API = "argoproj.io/v1alpha1";
export const IN_CLUSTER = "https://kubernetes.default.svc";
export const CLUSTER_LABEL = "workshop.istio-gitops.dev/cluster";
const PART_OF = { "app.kubernetes.io/part-of": "istio-gitops-workshop" };
const FINALIZER = "resources-finalizer.argocd.argoproj.io";

type Obj = Record<string, unknown>;

export function projectName(cluster: Cluster): string {
  return `workshop-${cluster.name}`;
}

export function applicationName(cluster: Cluster, component: string): string {
  return `${cluster.name}-${component}`;
}

function destination(cluster: Cluster, namespace: string): Obj {
  const d = cluster.argocd.destination;
  return d.server ? { server: d.server, namespace } : { name: d.name, namespace };
}

function metadata(cluster: Cluster, name: string, wave?: number): Obj {
  return {
    name,
    namespace: cluster.argocd.namespace,
    labels: { ...PART_OF, [CLUSTER_LABEL]: cluster.name },
    ...(wave !== undefined ? { annotations: { "argocd.argoproj.io/sync-wave": String(wave) } } : {}),
  };
}

/**
 * Argo CD does not retry a failed automated sync of the same revision (it waits for a new commit
 * or a manual sync). A child that syncs before a CRD or namespace another Application adds in the
 * same promotion would stay failed; retries with back-off let it converge once they exist.
 */
const RETRY = { limit: 10, backoff: { duration: "10s", factor: 2, maxDuration: "5m" } };
const AUTOMATED = { automated: { prune: true, selfHeal: true }, retry: RETRY };

export function platformApplication(
  cluster: Cluster,
  release: HelmRelease,
  wave: number,
  namespaceMetadata?: NamespaceMetadata,
): Obj {
  const policy = chartSyncPolicy(release.chart);
  return {
    apiVersion: ARGOCD_API,
    kind: "Application",
    metadata: { ...metadata(cluster, applicationName(cluster, release.name), wave), finalizers: [FINALIZER] },
    spec: {
      project: projectName(cluster),
      destination: destination(cluster, release.namespace),
      sources: [
        {
          repoURL: release.repoURL,
          chart: release.chartName,
          targetRevision: release.version,
          helm: {
            releaseName: release.name,
            valueFiles: [`$values/${renderedRoot(cluster.name)}/values/${release.name}.yaml`],
          },
        },
        { repoURL: cluster.argocd.repoURL, targetRevision: cluster.argocd.targetRevision, ref: "values" },
      ],
      syncPolicy: {
        ...AUTOMATED,
        syncOptions: ["CreateNamespace=true", ...policy.syncOptions],
        ...(namespaceMetadata ? { managedNamespaceMetadata: namespaceMetadata } : {}),
      },
      ...(policy.ignoreDifferences.length ? { ignoreDifferences: policy.ignoreDifferences } : {}),
    },
  };
}

/** A folder of rendered manifests (the demo app chart's output, or the mesh policies). */
export function directoryApplication(
  cluster: Cluster,
  component: string,
  dir: string,
  namespace: string,
  wave: number,
  extraSyncOptions: string[] = [],
): Obj {
  return {
    apiVersion: ARGOCD_API,
    kind: "Application",
    metadata: { ...metadata(cluster, applicationName(cluster, component), wave), finalizers: [FINALIZER] },
    spec: {
      project: projectName(cluster),
      destination: destination(cluster, namespace),
      source: {
        repoURL: cluster.argocd.repoURL,
        targetRevision: cluster.argocd.targetRevision,
        path: `${renderedRoot(cluster.name)}/${dir}`,
        directory: { recurse: true },
      },
      syncPolicy: { ...AUTOMATED, syncOptions: ["CreateNamespace=true", ...extraSyncOptions] },
    },
  };
}

export function appProject(cluster: Cluster, sourceRepos: string[], namespaces: string[]): Obj {
  const dests = [...new Set(namespaces)].sort().map((ns) => destination(cluster, ns));
  // The root Application and its children live in Argo CD's own namespace on Argo CD's cluster.
  dests.push({ server: IN_CLUSTER, namespace: cluster.argocd.namespace });
  return {
    apiVersion: ARGOCD_API,
    kind: "AppProject",
    metadata: metadata(cluster, projectName(cluster)),
    spec: {
      description: `Istio GitOps workshop: everything Argo CD syncs for cluster '${cluster.name}'. Only this repository, the pinned chart repositories and the declared namespaces are allowed.`,
      sourceRepos: [...new Set(sourceRepos)].sort(),
      destinations: dests,
      // Istio, cert-manager and the Prometheus stack install CRDs, webhooks and cluster roles.
      clusterResourceWhitelist: [{ group: "*", kind: "*" }],
    },
  };
}

export function rootApplication(cluster: Cluster): Obj {
  return {
    apiVersion: ARGOCD_API,
    kind: "Application",
    metadata: { ...metadata(cluster, applicationName(cluster, "root")), finalizers: [FINALIZER] },
    spec: {
      project: projectName(cluster),
      destination: { server: IN_CLUSTER, namespace: cluster.argocd.namespace },
      source: {
        repoURL: cluster.argocd.repoURL,
        targetRevision: cluster.argocd.targetRevision,
        path: `${renderedRoot(cluster.name)}/argocd`,
      },
      syncPolicy: AUTOMATED,
    },
  };
}
