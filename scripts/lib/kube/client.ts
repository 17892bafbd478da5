/** The few Kubernetes API calls the workshop needs, through @kubernetes/client-node. */
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  ApiException,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { RefusalError } from "../cli/run-main.ts";
import { FIELD_MANAGER } from "./objects.ts";

const FIX_KUBECONFIG =
  "point KUBECONFIG at your cluster's kubeconfig (kind export kubeconfig --name <cluster>, k3d kubeconfig merge, ~/.kube/config) or pass --kubeconfig FILE";

/**
 * The kubeconfig files in use, the way kubectl picks them: --kubeconfig, else $KUBECONFIG (a
 * path list), else ~/.kube/config. A refusal, not client-node's ENOENT stack, when one is missing.
 */
function kubeconfigFiles(kubeconfig: string | undefined): { files: string[]; from: string } {
  if (kubeconfig) return { files: [kubeconfig], from: "--kubeconfig" };
  const env = process.env["KUBECONFIG"];
  if (env) return { files: env.split(path.delimiter).filter(Boolean), from: "KUBECONFIG" };
  return { files: [path.join(os.homedir(), ".kube", "config")], from: "the default location" };
}

export function loadKubeConfig(context?: string, kubeconfig?: string): KubeConfig {
  const kc = new KubeConfig();
  const { files, from } = kubeconfigFiles(kubeconfig);
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length || !files.length)
    throw new RefusalError(
      `no kubeconfig: ${missing.join(", ") || "(empty)"} (${from}) does not exist; ${FIX_KUBECONFIG}`,
    );
  for (const [i, file] of files.entries()) {
    try {
      if (i === 0) kc.loadFromFile(file);
      else {
        const more = new KubeConfig();
        more.loadFromFile(file);
        kc.mergeConfig(more);
      }
    } catch (e) {
      throw new RefusalError(
        `kubeconfig ${file} (${from}) cannot be read: ${firstLine(e)}; fix the file or ${FIX_KUBECONFIG}`,
      );
    }
  }
  const contexts = kc.getContexts().map((c) => c.name);
  if (context) {
    if (!kc.getContextObject(context)) {
      throw new RefusalError(
        `kube context '${context}' is not in ${files.join(", ")}; pass --context with one of: ${contexts.join(", ") || "(none)"}`,
      );
    }
    kc.setCurrentContext(context);
  } else if (!kc.getCurrentContext() || !kc.getContextObject(kc.getCurrentContext())) {
    throw new RefusalError(
      `${files.join(", ")} has no usable current-context; pass --context with one of: ${contexts.join(", ") || "(none: " + FIX_KUBECONFIG + ")"}`,
    );
  }
  if (!kc.getCurrentCluster()?.server)
    throw new RefusalError(
      `kube context '${kc.getCurrentContext()}' in ${files.join(", ")} names no cluster with a server URL; fix the context or pass another with --context`,
    );
  return kc;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0]!;
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "unknown host",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "timed out",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  CERT_HAS_EXPIRED: "TLS certificate expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed TLS certificate not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "TLS certificate not trusted",
};

/**
 * A failed API call as one line a person can act on: an unreachable server (connection refused,
 * unknown host, TLS) says which server and context and how to check it; an HTTP error says what
 * the server answered. A 404 is the caller's business and stays an ApiException.
 */
export function kubeError(kc: KubeConfig, what: string, e: unknown): Error {
  const context = kc.getCurrentContext();
  const server = kc.getCurrentCluster()?.server ?? "(no server)";
  if (e instanceof ApiException) {
    const body = e.body as { message?: unknown } | string | undefined;
    const detail =
      typeof body === "object" && body && typeof body.message === "string"
        ? body.message
        : typeof body === "string"
          ? body.slice(0, 200)
          : "";
    const hint =
      e.code === 401 || e.code === 403
        ? `; the credentials of kube context '${context}' are not accepted for this (expired? wrong user?)`
        : "";
    return new RefusalError(
      `${what}: the API server ${server} (kube context '${context}') answered HTTP ${e.code}${detail ? `: ${detail}` : ""}${hint}`,
    );
  }
  const code = (e as { code?: unknown }).code;
  const reason =
    typeof code === "string"
      ? `${NETWORK_ERRORS[code] ?? code}${NETWORK_ERRORS[code] ? ` (${code})` : ""}`
      : firstLine(e).replace(/^.*reason: /, "");
  return new RefusalError(
    `${what}: cannot reach the Kubernetes API server ${server} of kube context '${context}' (${reason}); ` +
      `is the cluster running? \`kubectl --context ${context} cluster-info\` should answer; else start it, or pick another context with --context`,
  );
}

/** Server-side apply, the way `kubectl apply --server-side --force-conflicts` does it. */
export async function applyObjects(kc: KubeConfig, objects: readonly KubernetesObject[]): Promise<string[]> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const applied: string[] = [];
  for (const obj of objects) {
    const name = `${obj.kind}/${obj.metadata?.namespace ? obj.metadata.namespace + "/" : ""}${obj.metadata?.name}`;
    try {
      await api.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
    } catch (e) {
      throw kubeError(kc, `applying ${name}`, e);
    }
    applied.push(name);
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
    const { kind, metadata } = header;
    throw kubeError(
      kc,
      `reading ${kind} ${metadata.namespace ? `${metadata.namespace}/` : ""}${metadata.name}`,
      e,
    );
  }
}
