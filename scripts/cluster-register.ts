#!/usr/bin/env tsx
/**
 * pnpm cluster:register <cluster> [--context REMOTE_CTX] [--server URL] [--argocd-context CTX] [--kubeconfig FILE] [--insecure]
 *
 * Registers a cluster with the primary's Argo CD, the declarative way `argocd cluster add` does:
 * creates the argocd-manager service account and its token in the registered cluster, then a
 * cluster Secret named after cluster.yaml's argocd.destination.name in Argo CD's namespace.
 * The token goes from one cluster to the other and is never written to disk or git.
 *
 * The registered cluster's context defaults to the one named like the cluster, Argo CD's to the one
 * named like its primary. `--server` sets the API server URL Argo CD uses when the kubeconfig's
 * (a loopback address for kind, k3d, minikube) is not reachable from the primary's pods.
 */
import type { KubernetesObject, V1Secret } from "@kubernetes/client-node";
import { parseCli } from "./lib/cli/parse-cli.ts";
import { RefusalError, runMain, UsageError } from "./lib/cli/run-main.ts";
import { applyObjects, loadKubeConfig, readObject } from "./lib/kube/client.ts";
import { argoClusterSecret, managerObjects, MANAGER_NAME } from "./lib/kube/objects.ts";
import { argocdContext, registeredContext, registrationServer } from "./lib/kube/register.ts";
import { loadRepoOrThrow } from "./lib/model/repo.ts";
import { selectClusters } from "./lib/render/pipeline.ts";

const HELP =
  "usage: pnpm cluster:register <cluster> [--context KUBE_CONTEXT] [--server https://HOST:PORT] [--argocd-context KUBE_CONTEXT] [--kubeconfig FILE] [--insecure]\n" +
  "  --context         the registered cluster's kube context (default: the context named like the cluster)\n" +
  "  --server          the API server URL Argo CD calls (default: the context's; required when that is a loopback address)\n" +
  "  --argocd-context  where Argo CD runs (default: the context named like the cluster's primary, else the current one)";

runMain(async () => {
  const parsed = parseCli(
    {
      context: { type: "string" },
      server: { type: "string" },
      "argocd-context": { type: "string" },
      kubeconfig: { type: "string" },
      insecure: { type: "boolean", default: false },
      "token-timeout": { type: "string", default: "60" },
    },
    HELP,
  );
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(HELP);
  const model = await loadRepoOrThrow(process.cwd());
  const [cluster] = selectClusters(model, positionals);
  const name = cluster!.argocd.destination.name;
  if (!name) {
    throw new RefusalError(
      `clusters/${cluster!.name}/cluster.yaml sets argocd.destination.server; registration is for clusters Argo CD knows by name (destination.name)`,
    );
  }
  const contexts = loadKubeConfig(undefined, values.kubeconfig);
  const names = contexts.getContexts().map((c) => c.name);
  const context = registeredContext(cluster!.name, names, values.context);
  const remote = loadKubeConfig(context, values.kubeconfig);
  // Checked before anything is created: a Secret with an unreachable URL registers nothing useful.
  const server = registrationServer(remote.getCurrentCluster()?.server, values.server);
  await applyObjects(remote, managerObjects() as KubernetesObject[]);
  const token = await waitForToken(remote, Number(values["token-timeout"]) * 1000);
  const caData = remote.getCurrentCluster()?.caData;
  const insecure = values.insecure || remote.getCurrentCluster()?.skipTLSVerify === true;
  const argocd = loadKubeConfig(
    argocdContext(
      cluster!.istio.primaryCluster,
      names,
      contexts.getCurrentContext(),
      values["argocd-context"],
    ),
    values.kubeconfig,
  );
  const secret = argoClusterSecret(
    { name, server, bearerToken: token, ...(caData ? { caData } : { insecure }) },
    cluster!.argocd.namespace,
  );
  await applyObjects(argocd, [secret as KubernetesObject]);
  console.log(
    `registered '${name}' (${server}) with Argo CD in context '${argocd.getCurrentContext()}' as Secret ${secret.metadata.namespace}/${secret.metadata.name}`,
  );
});

/** The token controller fills the Secret asynchronously; poll until it has. */
async function waitForToken(kc: ReturnType<typeof loadKubeConfig>, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await readObject<V1Secret>(kc, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `${MANAGER_NAME}-token`, namespace: "kube-system" },
    });
    const token = s?.data?.token;
    if (token) return Buffer.from(token, "base64").toString("utf8");
    if (Date.now() > deadline)
      throw new RefusalError(
        `no token appeared in kube-system/${MANAGER_NAME}-token within ${timeoutMs / 1000}s; is the token controller running?`,
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}
