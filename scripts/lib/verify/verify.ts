/**
 * `pnpm verify <cluster>` as a library: the Kubernetes checks (cluster-checks.ts) against the
 * cluster's kube context, then the chapter's requests (requests.ts), into one report.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import yaml from "js-yaml";
import { UsageError } from "../cli/run-main.ts";
import { loadKubeConfig, kubeError } from "../kube/client.ts";
import { resolveChapterRef } from "../model/chapter.ts";
import { loadRepoOrThrow } from "../model/repo.ts";
import { checkApplications, checkWorkloads, type CheckResult } from "./cluster-checks.ts";
import type { VerifyReport } from "./report.ts";
import { sendRequest, type LiveRequest } from "./requests.ts";

export interface VerifyOptions {
  cluster: string;
  chapter?: string;
  /** Overrides cluster.yaml's kubeContext. */
  context?: string;
  kubeconfig?: string;
  /** A YAML/JSON list of LiveRequest (requests.ts). */
  requestsFile?: string;
  confidence?: number;
  fetchImpl?: typeof fetch;
}

/** The `kubeContext:` of clusters/<name>/cluster.yaml, when it has one. */
export async function clusterKubeContext(root: string, cluster: string): Promise<string | undefined> {
  const text = await readFile(path.join(root, "clusters", cluster, "cluster.yaml"), "utf8");
  const doc = yaml.load(text) as { kubeContext?: unknown } | undefined;
  return typeof doc?.kubeContext === "string" ? doc.kubeContext : undefined;
}

export async function loadRequests(file: string): Promise<LiveRequest[]> {
  const doc = yaml.load(await readFile(file, "utf8"));
  const list = Array.isArray(doc) ? doc : (doc as { requests?: unknown } | undefined)?.requests;
  if (!Array.isArray(list))
    throw new UsageError(
      `${file}: expected a list of requests (name, url, status?, weights?), or {requests: [...]}`,
    );
  return list.map((r, i) => {
    const o = r as Partial<LiveRequest>;
    if (typeof o.name !== "string" || typeof o.url !== "string")
      throw new UsageError(`${file}: request ${i + 1} needs a name and a url`);
    return { file, ...o } as LiveRequest;
  });
}

export async function verifyCluster(root: string, o: VerifyOptions): Promise<VerifyReport> {
  const model = await loadRepoOrThrow(root);
  const cluster = model.clusters.find((c) => c.name === o.cluster);
  if (!cluster)
    throw new UsageError(
      `unknown cluster '${o.cluster}'; clusters: ${model.clusters.map((c) => c.name).join(", ")}`,
    );
  const chapter = o.chapter
    ? resolveChapterRef(o.chapter, model.chapters)
    : model.chapters.find((c) => c.dir === cluster.chapter);
  if (!chapter)
    throw new UsageError(
      `unknown chapter '${o.chapter}'; chapters: ${model.chapters.map((c) => c.dir).join(", ")}`,
    );
  const context = o.context ?? (await clusterKubeContext(root, cluster.name));
  const kc = loadKubeConfig(context, o.kubeconfig);
  const checks: CheckResult[] = [];
  const notes: string[] = [];
  try {
    // Argo CD runs on the primary; a remote cluster's Applications live there, not here.
    if (cluster.role === "primary") checks.push(...(await checkApplications(kc, cluster.argocd.namespace)));
    else
      notes.push(
        `cluster ${cluster.name} is a remote: its Applications are checked by \`pnpm verify\` of its primary`,
      );
    checks.push(...(await checkWorkloads(kc)));
  } catch (e) {
    throw kubeError(kc, `verifying cluster ${cluster.name}`, e);
  }
  if (o.requestsFile) {
    for (const r of await loadRequests(o.requestsFile))
      checks.push(
        await sendRequest(r, {
          ...(o.confidence !== undefined ? { confidence: o.confidence } : {}),
          ...(o.fetchImpl ? { fetchImpl: o.fetchImpl } : {}),
        }),
      );
  } else {
    notes.push(
      "no requests sent: pass --requests FILE (a list of {name, url, headers?, status?, weights?}); sending chapter.yaml's expect: requests is wired once that format is on main",
    );
  }
  return { cluster: cluster.name, chapter: chapter.dir, context: kc.getCurrentContext(), checks, notes };
}
