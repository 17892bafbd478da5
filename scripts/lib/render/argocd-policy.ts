/**
 * What Argo CD needs to know about particular charts to sync them cleanly. Kept as data beside
 * the renderer because it is knowledge about upstream charts, not about this repository.
 */
export interface IgnoreDifference {
  group: string;
  kind: string;
  name?: string;
  jqPathExpressions?: string[];
  jsonPointers?: string[];
}

export interface ChartSyncPolicy {
  syncOptions: string[];
  ignoreDifferences: IgnoreDifference[];
  /**
   * Namespaces the chart renders objects into besides the release namespace: the AppProject must
   * permit them or the whole sync fails ("namespace kube-system is not permitted in project").
   * `pnpm validate` renders the charts and checks this list against what they really produce.
   */
  extraNamespaces: string[];
}

const webhookFailurePolicy = (name: string): IgnoreDifference => ({
  group: "admissionregistration.k8s.io",
  kind: "ValidatingWebhookConfiguration",
  name,
  // istiod flips failurePolicy to Fail once it is ready; without this Argo CD shows OutOfSync forever.
  jqPathExpressions: [".webhooks[]?.failurePolicy", ".webhooks[]?.clientConfig.caBundle"],
});

const CHART_POLICIES: Record<string, Partial<ChartSyncPolicy>> = {
  // Server-side apply keeps no last-applied copy (annotations stop at 256 KiB): Istio's CRDs fit
  // today (destinationrules ~150 KB) but grow each release; the Prometheus Operator's reach ~480 KB.
  "istio/base": {
    syncOptions: ["ServerSideApply=true", "RespectIgnoreDifferences=true"],
    ignoreDifferences: [webhookFailurePolicy("istiod-default-validator")],
  },
  "istio/istiod": {
    syncOptions: ["RespectIgnoreDifferences=true"],
    ignoreDifferences: [
      webhookFailurePolicy("istio-validator-istio-system"),
      {
        group: "admissionregistration.k8s.io",
        kind: "MutatingWebhookConfiguration",
        // istiod injects its CA bundle into the sidecar injector at run time.
        jqPathExpressions: [".webhooks[]?.clientConfig.caBundle"],
      },
    ],
  },
  // The leader-election Role and RoleBinding of the controller and cainjector live in kube-system
  // (values `global.leaderElection.namespace`).
  "jetstack/cert-manager": { syncOptions: ["ServerSideApply=true"], extraNamespaces: ["kube-system"] },
  // The exporters' Services for the control plane (CoreDNS, kube-proxy, etcd, the scheduler and
  // the controller manager) are created in kube-system, where those components run.
  "prometheus-community/kube-prometheus-stack": {
    syncOptions: ["ServerSideApply=true"],
    extraNamespaces: ["kube-system"],
  },
  "argo/argo-cd": { syncOptions: ["ServerSideApply=true"] },
};

export function chartSyncPolicy(chart: string): ChartSyncPolicy {
  const p = CHART_POLICIES[chart] ?? {};
  return {
    syncOptions: p.syncOptions ?? [],
    ignoreDifferences: p.ignoreDifferences ?? [],
    extraNamespaces: p.extraNamespaces ?? [],
  };
}

/** Sync options Argo CD knows, for checks of hand-written Applications. */
export const KNOWN_SYNC_OPTIONS = [
  "Validate=false",
  "SkipDryRunOnMissingResource=true",
  "Prune=false",
  "Prune=confirm",
  "PruneLast=true",
  "Delete=false",
  "Delete=confirm",
  "ApplyOutOfSyncOnly=true",
  "PrunePropagationPolicy=foreground",
  "PrunePropagationPolicy=background",
  "PrunePropagationPolicy=orphan",
  "Replace=true",
  "Force=true",
  "ServerSideApply=true",
  "ServerSideApply=false",
  "ClientSideApplyMigration=false",
  "FailOnSharedResource=true",
  "RespectIgnoreDifferences=true",
  "CreateNamespace=true",
];
