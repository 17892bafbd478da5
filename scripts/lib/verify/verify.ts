/**
 * `pnpm verify <cluster>` as a library: the Kubernetes checks (cluster-checks.ts) against the
 * cluster's kube context, then the chapter's requests (requests.ts), into one report. The requests
 * are the chapter's own `expect:` (the effective, cumulative set, from-expect.ts) plus those of
 * `--requests FILE`.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import yaml from "js-yaml";
import { UsageError } from "../cli/run-main.ts";
import { loadKubeConfig, kubeError } from "../kube/client.ts";
import { resolveChapterRef } from "../model/chapter.ts";
import { loadRepoOrThrow } from "../model/repo.ts";
import { checkApplications, checkWorkloads, type CheckResult } from "./cluster-checks.ts";
import type { VerifyReport } from "./report.ts";
import { effectiveExpectations } from "../behaviour/expectations.ts";
import type { ExpectRequest } from "../model/types.ts";
import {
  forgeToken,
  planExpectations,
  subsetVersionsOf,
  type Planned,
  type TokenNeed,
} from "./from-expect.ts";
import { ingressFetch } from "./ingress-fetch.ts";
import { sendRequest, type LiveRequest, type RequestResult } from "./requests.ts";

export interface VerifyOptions {
  cluster: string;
  chapter?: string;
  /** Overrides cluster.yaml's kubeContext. */
  context?: string;
  kubeconfig?: string;
  /** A YAML/JSON list of LiveRequest (requests.ts). */
  requestsFile?: string;
  confidence?: number;
  /** Where the ingress gateway's port 80 / 443 are reached (e.g. a kubectl port-forward). */
  ingress?: string;
  ingressHttps?: string;
  /** PEM file of the CA that signed the gateway's certificate. */
  ingressCa?: string;
  fetchImpl?: typeof fetch;
}

/** Every DestinationRule under mesh/ (subset -> version label; subsets do not move between chapters). */
export async function meshSubsets(root: string): Promise<ReturnType<typeof subsetVersionsOf>> {
  const dir = path.join(root, "mesh");
  const files = (await readdir(dir, { recursive: true })).filter((f) => /\.ya?ml$/.test(f));
  const docs: unknown[] = [];
  for (const f of files) docs.push(...yaml.loadAll(await readFile(path.join(dir, f), "utf8")));
  return subsetVersionsOf(docs);
}

/** Logs in at the portal's /api/login through the gateway, as the lessons do (chapter 15). */
async function loginToken(
  need: TokenNeed,
  r: LiveRequest,
  fetchImpl: typeof fetch,
  cache: Map<string, string>,
): Promise<string> {
  let token = cache.get(need.username);
  if (!token) {
    const url = new URL(r.url);
    url.pathname = "/api/login";
    url.search = "";
    const res = await fetchImpl(url.toString(), {
      method: "POST",
      headers: { host: r.headers?.host ?? url.host, "content-type": "application/json" },
      body: JSON.stringify({ username: need.username, password: need.password }),
      redirect: "manual",
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => undefined)) as { result?: { token?: string } } | undefined;
    token = body?.result?.token;
    if (!token) throw new Error(`POST ${url} as ${need.username}: HTTP ${res.status}, no result.token`);
    cache.set(need.username, token);
  }
  return need.forged ? forgeToken(token) : token;
}

/** Sends the planned requests; a token that cannot be had fails that check, with the reason. */
export async function sendPlanned(
  planned: readonly Planned[],
  o: { confidence?: number; fetchImpl: typeof fetch },
): Promise<{ checks: RequestResult[]; notSent: Extract<Planned, { kind: "not-sent" }>[] }> {
  const checks: RequestResult[] = [];
  const notSent: Extract<Planned, { kind: "not-sent" }>[] = [];
  const tokens = new Map<string, string>();
  for (const p of planned) {
    if (p.kind === "not-sent") {
      notSent.push(p);
      continue;
    }
    const r = { ...p.request, headers: { ...p.request.headers } };
    if (p.token) {
      try {
        const t = await loginToken(p.token, r, o.fetchImpl, tokens);
        if (p.token.cookie)
          r.headers.cookie = [r.headers.cookie, `${p.token.cookie}=${t}`].filter(Boolean).join("; ");
        else r.headers.authorization = `Bearer ${t}`;
      } catch (e) {
        checks.push({
          id: `request/${r.name}`,
          ok: false,
          message: `needs a token from auth-service: ${(e as Error).message}`,
          statuses: {},
        });
        continue;
      }
    }
    const result = await sendRequest(r, {
      ...(o.confidence !== undefined ? { confidence: o.confidence } : {}),
      fetchImpl: o.fetchImpl,
    });
    // Said, so a pass is not read as more than it is.
    if (p.unchecked)
      result.message += ` (not observable from outside, not checked: ${p.unchecked.join(", ")})`;
    checks.push(result);
  }
  return { checks, notSent };
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
  const expectations: ExpectRequest[] = effectiveExpectations(
    model.chapters,
    chapter.dir,
    cluster.role,
  ).requests;
  const planned: Planned[] = planExpectations(expectations, {
    ...(o.ingress ? { ingress: o.ingress } : {}),
    ...(o.ingressHttps ? { ingressHttps: o.ingressHttps } : {}),
    subsets: await meshSubsets(root),
  });
  if (o.requestsFile)
    for (const r of await loadRequests(o.requestsFile))
      planned.push({ kind: "send", name: r.name, request: r });
  const ca = o.ingressCa ? await readFile(o.ingressCa, "utf8") : undefined;
  const sent = await sendPlanned(planned, {
    ...(o.confidence !== undefined ? { confidence: o.confidence } : {}),
    fetchImpl: o.fetchImpl ?? ingressFetch(ca),
  });
  checks.push(...sent.checks);
  const notSent = sent.notSent.map((n) => ({
    name: n.name,
    file: path.relative(root, n.file),
    line: n.line,
    reason: n.reason,
  }));
  if (!planned.length)
    notes.push(
      `no requests: chapter ${chapter.dir} expects none for a ${cluster.role} cluster; --requests FILE adds some`,
    );
  return {
    cluster: cluster.name,
    chapter: chapter.dir,
    context: kc.getCurrentContext(),
    checks,
    notes,
    ...(notSent.length ? { notSent } : {}),
  };
}
