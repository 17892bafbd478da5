/** The few Kubernetes API calls the workshop needs, through @kubernetes/client-node. */
import {
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { RefusalError } from "../cli/run-main.ts";
import { FIELD_MANAGER } from "./objects.ts";

export function loadKubeConfig(context?: string, kubeconfig?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  if (context) {
    if (!kc.getContextObject(context)) {
      throw new RefusalError(
        `kube context '${context}' is not in your kubeconfig; contexts: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(", ") || "(none)"
        }`,
      );
    }
    kc.setCurrentContext(context);
  }
  return kc;
}

/** Server-side apply, the way `kubectl apply --server-side --force-conflicts` does it. */
export async function applyObjects(kc: KubeConfig, objects: readonly KubernetesObject[]): Promise<string[]> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const applied: string[] = [];
  for (const obj of objects) {
    await api.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
    applied.push(
      `${obj.kind}/${obj.metadata?.namespace ? obj.metadata.namespace + "/" : ""}${obj.metadata?.name}`,
    );
  }
  return applied;
}

export async function readObject<T extends KubernetesObject>(
  kc: KubeConfig,
  header: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
): Promise<T | undefined> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  try {
    return (await api.read(header as Parameters<typeof api.read>[0])) as T;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
}
