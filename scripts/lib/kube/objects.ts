/**
 * The Kubernetes objects `pnpm cluster:register` creates, as pure functions. They mirror what
 * `argocd cluster add` does: a service account in the managed cluster whose token Argo CD uses,
 * and a cluster Secret in Argo CD's namespace. Credentials live only in the clusters, never in git.
 */
export const FIELD_MANAGER = "istio-gitops-workshop";
export const MANAGER_NAME = "argocd-manager";

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

/** Service account, its cluster-admin binding and a long-lived token Secret in the managed cluster. */
export function managerObjects(namespace = "kube-system"): KubeObject[] {
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: MANAGER_NAME, namespace } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: `${MANAGER_NAME}-role-binding` },
      // Argo CD installs CRDs, webhooks and namespaces in the remote cluster, like `argocd cluster add`.
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
      subjects: [{ kind: "ServiceAccount", name: MANAGER_NAME, namespace }],
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/service-account-token",
      metadata: {
        name: `${MANAGER_NAME}-token`,
        namespace,
        annotations: { "kubernetes.io/service-account.name": MANAGER_NAME },
      },
    },
  ];
}

export interface ClusterCredentials {
  /** The name Argo CD knows the cluster by (cluster.yaml's argocd.destination.name). */
  name: string;
  server: string;
  bearerToken: string;
  /** Base64 PEM of the API server's CA, as in a kubeconfig's certificate-authority-data. */
  caData?: string;
  insecure?: boolean;
}

/** Argo CD's declarative cluster Secret (argocd.argoproj.io/secret-type: cluster). */
export function argoClusterSecret(creds: ClusterCredentials, argocdNamespace = "argocd"): KubeObject {
  const tlsClientConfig = creds.caData ? { caData: creds.caData } : { insecure: creds.insecure ?? false };
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name: `cluster-${creds.name}`,
      namespace: argocdNamespace,
      labels: {
        "argocd.argoproj.io/secret-type": "cluster",
        "app.kubernetes.io/part-of": "istio-gitops-workshop",
      },
    },
    stringData: {
      name: creds.name,
      server: creds.server,
      config: JSON.stringify({ bearerToken: creds.bearerToken, tlsClientConfig }),
    },
  };
}
