/**
 * The choices `pnpm cluster:register` makes before it talks to any cluster, as pure functions:
 * which kube contexts to use and which API server URL goes into Argo CD's cluster Secret.
 */
import { RefusalError } from "../cli/run-main.ts";

/**
 * The kube context of the cluster being registered: `--context`, else a context named like the
 * cluster (the lessons call their contexts `primary` and `remote`), else a refusal that lists them.
 */
export function registeredContext(cluster: string, contexts: readonly string[], flag?: string): string {
  if (flag !== undefined) return flag;
  if (contexts.includes(cluster)) return cluster;
  throw new RefusalError(
    `no kube context named '${cluster}' in your kubeconfig, and no --context: pass --context <the context of cluster '${cluster}'> (contexts: ${contexts.join(", ") || "(none)"})`,
  );
}

/**
 * The kube context Argo CD runs in: `--argocd-context`, else a context named like the remote's
 * primary cluster (where the workshop's Argo CD runs), else the current context.
 */
export function argocdContext(
  primary: string | undefined,
  contexts: readonly string[],
  current: string,
  flag?: string,
): string {
  if (flag !== undefined) return flag;
  if (primary && contexts.includes(primary)) return primary;
  return current;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[?::1\]?|0\.0\.0\.0)$/i;

/**
 * The API server URL Argo CD will call. The kubeconfig's URL is how *you* reach the cluster; Argo CD
 * calls from a pod in another cluster, where a loopback address (kind, k3d, minikube with the
 * docker driver: `https://127.0.0.1:<port>`) is that pod itself. So a loopback URL is refused
 * unless `--server` names an address the primary's pods can reach.
 */
export function registrationServer(kubeconfigServer: string | undefined, flag?: string): string {
  if (flag !== undefined && flag.trim() === "")
    throw new RefusalError(
      "--server is empty (an unset shell variable?); pass --server https://<host>:<port>",
    );
  const server = flag ?? kubeconfigServer;
  if (!server)
    throw new RefusalError("the kube context has no cluster server URL; pass --server https://...");
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new RefusalError(`--server '${server}' is not a URL; pass --server https://<host>:<port>`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new RefusalError(`--server '${server}' must be an https:// URL`);
  if (flag === undefined && LOOPBACK.test(url.hostname)) {
    throw new RefusalError(
      `the kubeconfig reaches this cluster at ${server}, a loopback address that Argo CD, running in another cluster, cannot reach. ` +
        "Pass --server with an address the primary's pods can reach, for a kind cluster its container's IP: " +
        "--server https://$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' <name>-control-plane):6443",
    );
  }
  return server.replace(/\/+$/, "");
}
