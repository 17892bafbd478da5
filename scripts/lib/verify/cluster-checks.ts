/**
 * The Kubernetes side of `pnpm verify`: is what Argo CD deployed actually there and working?
 *
 * - every Argo CD Application (namespace `argocd` unless told otherwise) Synced and Healthy;
 * - every Deployment has its replicas ready, and each of its pods is Ready;
 * - in a namespace with sidecar injection on (`istio-injection=enabled` or an `istio.io/rev`
 *   label), every such pod carries the istio-proxy sidecar (a container, or a native sidecar
 *   init container), unless the pod opts out (`sidecar.istio.io/inject: "false"`).
 *
 * Read-only, through @kubernetes/client-node. Each check is a line of the report.
 */
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Deployment,
  type V1Namespace,
  type V1Pod,
} from "@kubernetes/client-node";

export interface CheckResult {
  /** `application/argocd/primary-mesh`, `deployment/shop/web`, `sidecar/shop/web-5d8-abc`, `request/...` */
  id: string;
  ok: boolean;
  message: string;
  /** Seconds it took (JUnit). */
  seconds?: number;
}

export interface ClusterCheckOptions {
  argocdNamespace?: string;
  /** Namespaces left out (default kube-system, kube-public, kube-node-lease, local-path-storage). */
  skipNamespaces?: string[];
}

const DEFAULT_SKIP = ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"];

export function injectionEnabled(ns: V1Namespace): boolean {
  const labels = ns.metadata?.labels ?? {};
  if (labels["istio-injection"] === "disabled") return false;
  return labels["istio-injection"] === "enabled" || "istio.io/rev" in labels;
}

export function hasSidecar(pod: V1Pod): boolean {
  const names = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name);
  return names.includes("istio-proxy");
}

function podReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

function selectorOf(d: V1Deployment): string {
  return Object.entries(d.spec?.selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

export async function checkApplications(kc: KubeConfig, namespace = "argocd"): Promise<CheckResult[]> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const list = (await api.listNamespacedCustomObject({
    group: "argoproj.io",
    version: "v1alpha1",
    namespace,
    plural: "applications",
  })) as { items?: Array<{ metadata?: { name?: string }; status?: Record<string, unknown> }> };
  return (list.items ?? []).map((app) => {
    const name = app.metadata?.name ?? "?";
    const status = (app.status ?? {}) as {
      sync?: { status?: string };
      health?: { status?: string; message?: string };
      operationState?: { message?: string };
    };
    const sync = status.sync?.status ?? "Unknown";
    const health = status.health?.status ?? "Unknown";
    const ok = sync === "Synced" && health === "Healthy";
    const why = status.health?.message ?? status.operationState?.message;
    return {
      id: `application/${namespace}/${name}`,
      ok,
      message: `sync ${sync}, health ${health}${!ok && why ? ` (${why})` : ""}`,
    };
  });
}

export async function checkWorkloads(kc: KubeConfig, o: ClusterCheckOptions = {}): Promise<CheckResult[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const skip = new Set(o.skipNamespaces ?? DEFAULT_SKIP);
  const namespaces = new Map((await core.listNamespace()).items.map((n) => [n.metadata?.name ?? "", n]));
  const out: CheckResult[] = [];
  for (const d of (await apps.listDeploymentForAllNamespaces()).items) {
    const ns = d.metadata?.namespace ?? "default";
    if (skip.has(ns)) continue;
    const name = d.metadata?.name ?? "?";
    const want = d.spec?.replicas ?? 1;
    const ready = d.status?.readyReplicas ?? 0;
    const selector = selectorOf(d);
    const pods = selector
      ? (await core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items.filter(
          (p) => !p.metadata?.deletionTimestamp,
        )
      : [];
    const notReady = pods.filter((p) => !podReady(p)).map((p) => p.metadata?.name ?? "?");
    const ok = ready >= want && notReady.length === 0;
    out.push({
      id: `deployment/${ns}/${name}`,
      ok,
      message: `${ready}/${want} replicas ready${notReady.length ? `; pods not ready: ${notReady.join(", ")}` : ""}`,
    });
    const namespace = namespaces.get(ns);
    if (!namespace || !injectionEnabled(namespace)) continue;
    for (const p of pods) {
      const optedOut =
        p.metadata?.annotations?.["sidecar.istio.io/inject"] === "false" ||
        p.metadata?.labels?.["sidecar.istio.io/inject"] === "false";
      if (optedOut) continue;
      const has = hasSidecar(p);
      out.push({
        id: `sidecar/${ns}/${p.metadata?.name ?? "?"}`,
        ok: has,
        message: has
          ? "istio-proxy sidecar present"
          : `no istio-proxy sidecar although namespace ${ns} has injection on: the pod started before injection was enabled (restart it: kubectl -n ${ns} rollout restart deployment/${name}) or the injector webhook is not working`,
      });
    }
  }
  return out;
}
