/**
 * The server layer (`--server`): the real API server's verdict. kubeconform and the CEL layer are models of
 * the API server; this asks it. A private etcd + kube-apiserver (kube/local-server.ts) gets, per
 * cluster, its chapters in order, each applied the way Argo CD's server-side apply sync would:
 *
 *   1. the chapter's Namespaces (and every namespace its objects name), then its CRDs, waited for
 *      until served, then ValidatingAdmissionPolicies and their bindings (so a policy shipped with
 *      the CRDs, such as Gateway API's safe-upgrades, judges what follows and the next chapter);
 *   2. every other object, server-side applied with `fieldValidation=Strict`;
 *   3. objects the previous chapter had and this one lacks are deleted (Argo CD's prune).
 *
 * Objects are applied for real (not dry-run), because chapter N's state is what chapter N+1 is
 * applied on top of: an immutable field a promotion changes (a Job's template, a Deployment's
 * selector) is refused exactly as the cluster would refuse the sync. What must never persist in
 * this server is dry-run only: webhook configurations (no webhook runs here), APIServices, and
 * sync/Helm hooks (Argo CD recreates those on every sync). An object unchanged since the previous
 * chapter keeps its verdict (no request). Kinds the render has no CRD for come from the CRD files
 * of VALIDATE_CRD_DIR / crdDirs when those define them.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import yaml from "js-yaml";
import type { Severity } from "../findings.ts";
import type { YamlPath } from "../yaml-source.ts";
import { CLUSTER_SCOPED_KINDS, type Resource } from "./resource.ts";
import { startLocalApiServer, type LocalApiServer } from "../kube/local-server.ts";
import {
  deleteObject,
  Discovery,
  fieldPathToYamlPath,
  serverSideApply,
  type ApplyOutcome,
  type ApplyTarget,
} from "../kube/server-apply.ts";
import type { KubeRest } from "../kube/rest.ts";
import { NO_PROGRESS, type Progress } from "../cli/progress.ts";

/** What the server layer needs of an object (engine Resources are these, and more). */
export type ServerObject = Pick<Resource, "apiVersion" | "kind" | "name" | "ns" | "object"> & {
  file?: string;
};

export interface ServerScope<R extends ServerObject = Resource> {
  resources: R[];
  /** Scopes of one cluster are applied in `order`, each on top of the previous one's state. */
  cluster?: string;
  order: number;
  /** "chapter 07-x", for the promotion note. */
  label?: string;
  /** Applied for real as the state to build on (the chapter a promotion starts from); never reported. */
  baseline?: boolean;
}

export interface ServerReport<R extends ServerObject = Resource> {
  scope: number;
  resource: R;
  path: YamlPath;
  rule: "server/rejected" | "server/warning" | "server/not-served";
  severity: Severity;
  message: string;
}

/** An object the promotion would delete (Argo CD's prune), found in promote mode (a baseline). */
export interface PrunedReport {
  scope: number;
  /** The file of the baseline (the chapter the cluster is at) the object is in. */
  file: string;
  apiVersion: string;
  kind: string;
  name: string;
  ns: string;
  message: string;
}

export interface ServerLayerResult<R extends ServerObject> {
  reports: ServerReport<R>[];
  pruned: PrunedReport[];
}

export interface ServerLayerOptions {
  env?: NodeJS.ProcessEnv;
  /** CRD YAML folders for kinds the render has no CRD of (VALIDATE_CRD_DIR). */
  crdDirs?: string[];
  progress?: Progress;
  /** An API server to use (tests, promote); otherwise one is started and stopped. */
  server?: LocalApiServer;
  log?: (line: string) => void;
  /**
   * The chapter a promotion starts from (`pnpm promote`): its render is applied for real first,
   * then the target chapter is dry-run on top. Read by validateRepo, which renders it.
   */
  promotionFrom?: string;
  /** Baseline manifests (see `promotionFrom`), parsed here: their findings are never reported. */
  baseline?: Array<{ cluster: string; label: string; files: Array<{ file: string; text: string }> }>;
}

/** Objects of baseline files, enough to apply them (positions are not needed: nothing is reported). */
export function baselineObjects(files: Array<{ file: string; text: string }>): ServerObject[] {
  const out: ServerObject[] = [];
  for (const f of files) {
    let docs: unknown[];
    try {
      docs = yaml.loadAll(f.text);
    } catch {
      continue;
    }
    for (const d of docs) {
      if (!d || typeof d !== "object" || Array.isArray(d)) continue;
      const o = d as Record<string, unknown>;
      const md = (o.metadata ?? {}) as { name?: unknown; namespace?: unknown };
      if (typeof o.apiVersion !== "string" || typeof o.kind !== "string" || typeof md.name !== "string")
        continue;
      out.push({
        file: f.file,
        apiVersion: o.apiVersion,
        kind: o.kind,
        name: md.name,
        ns: CLUSTER_SCOPED_KINDS.has(o.kind)
          ? ""
          : typeof md.namespace === "string"
            ? md.namespace
            : "default",
        object: o,
      });
    }
  }
  return out;
}

const PREREQ_KINDS = ["Namespace", "CustomResourceDefinition"];
const POLICY_KINDS = new Set(["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]);
/** Never persisted: nothing behind them runs here, and they would break the server's discovery or admission. */
const DRY_RUN_ONLY_KINDS = new Set([
  "ValidatingWebhookConfiguration",
  "MutatingWebhookConfiguration",
  "APIService",
]);
/** Never pruned: a namespace never finishes terminating without the controller manager. */
const NEVER_PRUNED = new Set(["Namespace", "CustomResourceDefinition"]);

function groupOf(apiVersion: string): string {
  return apiVersion.includes("/") ? apiVersion.split("/")[0]! : "";
}

function identity(r: ServerObject): string {
  return `${groupOf(r.apiVersion)}|${r.kind}|${r.ns}|${r.name}`;
}

function isHook(r: ServerObject): boolean {
  const ann = ((r.object.metadata as Record<string, unknown> | undefined)?.annotations ?? {}) as Record<
    string,
    unknown
  >;
  return "argocd.argoproj.io/hook" in ann || "helm.sh/hook" in ann;
}

function targetOf(r: ServerObject): ApplyTarget {
  return {
    apiVersion: r.apiVersion,
    kind: r.kind,
    name: r.name,
    namespace: r.ns || "default",
    object: r.object,
  };
}

function contentHash(r: ServerObject): string {
  return createHash("sha1")
    .update(`${r.ns}\0${JSON.stringify(r.object)}`)
    .digest("hex");
}

/** Runs `fn` over `items`, at most `limit` at once. */
async function mapLimit<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

interface CrdDoc {
  name: string;
  group: string;
  kinds: string[];
  object: Record<string, unknown>;
}

function crdOf(o: Record<string, unknown>): CrdDoc | undefined {
  if (o.kind !== "CustomResourceDefinition") return undefined;
  const spec = (o.spec ?? {}) as { group?: string; names?: { kind?: string } };
  const name = (o.metadata as { name?: string } | undefined)?.name;
  if (!name || !spec.group || !spec.names?.kind) return undefined;
  return { name, group: spec.group, kinds: [spec.names.kind], object: o };
}

/** CRDs in the YAML files of the given folders (the VALIDATE_CRD_DIR fallback). */
export function crdsInDirs(dirs: readonly string[]): CrdDoc[] {
  const out: CrdDoc[] = [];
  for (const dir of dirs) {
    let files: string[];
    try {
      files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
    } catch {
      continue;
    }
    for (const f of files) {
      for (const doc of yaml.loadAll(readFileSync(path.join(dir, f), "utf8"))) {
        const crd = doc && typeof doc === "object" ? crdOf(doc as Record<string, unknown>) : undefined;
        if (crd) out.push(crd);
      }
    }
  }
  return out;
}

async function ensureNamespace(rest: KubeRest, name: string): Promise<void> {
  const r = await rest.request("POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name },
  });
  if (r.status !== 201 && r.status !== 409)
    throw new Error(`creating namespace ${name}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
}

/** Waits until every CRD's kind is served (CRDs become Established asynchronously). */
async function waitServed(rest: KubeRest, crds: CrdDoc[], timeoutMs = 30_000): Promise<Discovery> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await Discovery.load(rest);
    const missing = crds.filter((c) => {
      const versions = (
        (c.object.spec as { versions?: Array<{ name: string; served?: boolean }> }).versions ?? []
      )
        .filter((v) => v.served !== false)
        .map((v) => v.name);
      return versions.some((v) => !d.get(`${c.group}/${v}`, c.kinds[0]!));
    });
    if (missing.length === 0 || Date.now() > deadline) return d;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function outcomeReports<R extends ServerObject>(
  outcome: ApplyOutcome,
  r: R,
  scope: number,
  promotionNote: string,
): ServerReport<R>[] {
  if (outcome.kind === "not-served")
    return [
      {
        scope,
        resource: r,
        path: ["kind"],
        rule: "server/not-served",
        severity: "warning",
        message: `the API server does not serve ${r.apiVersion} ${r.kind}: no CRD for it in the render or in VALIDATE_CRD_DIR${groupOf(r.apiVersion) === "argoproj.io" ? " (Argo CD's kinds come with its chart on the primary: validate the primary cluster in the same run)" : ""}`,
      },
    ];
  const warnings = outcome.warnings.map<ServerReport<R>>((w) => ({
    scope,
    resource: r,
    path: fieldPathToYamlPath(/^([\w.[\]/="-]+): /.exec(w)?.[1] ?? "", r.object),
    rule: "server/warning",
    severity: "info",
    message: `the API server warns: ${w}`,
  }));
  if (outcome.kind === "accepted") return warnings;
  return [
    ...outcome.causes.map<ServerReport<R>>((c) => ({
      scope,
      resource: r,
      path: c.field ? fieldPathToYamlPath(c.field, r.object) : [],
      rule: "server/rejected",
      severity: "error",
      message: `the API server refuses it (HTTP ${outcome.status}${outcome.reason ? ` ${outcome.reason}` : ""}): ${c.message}${promotionNote}`,
    })),
    ...warnings,
  ];
}

export async function runServerLayer<R extends ServerObject>(
  scopes: ServerScope<R>[],
  options: ServerLayerOptions = {},
): Promise<ServerLayerResult<R>> {
  // Baseline chapters (a promotion's starting point) go first in their cluster's walk.
  const all: ServerScope<ServerObject>[] = [
    ...scopes,
    ...(options.baseline ?? []).map((b) => ({
      resources: baselineObjects(b.files),
      cluster: b.cluster,
      order: -Infinity,
      label: b.label,
      baseline: true,
    })),
  ];
  return (await walk(all, options)) as ServerLayerResult<R>;
}

async function walk(
  scopes: ServerScope<ServerObject>[],
  options: ServerLayerOptions,
): Promise<ServerLayerResult<ServerObject>> {
  const live = scopes.filter((s) => s.resources.length > 0 && !s.baseline);
  if (live.length === 0) return { reports: [], pruned: [] };
  const progress = options.progress ?? NO_PROGRESS;
  const startStep = progress.start("starting etcd and kube-apiserver on 127.0.0.1 (server layer)");
  const server =
    options.server ??
    (await startLocalApiServer({
      ...(options.env ? { env: options.env } : {}),
      ...(options.log ? { log: options.log } : {}),
    }).finally(() => startStep.end()));
  if (options.server) startStep.end();
  const reports: ServerReport<ServerObject>[] = [];
  const pruned: PrunedReport[] = [];
  try {
    const { rest } = server;
    // Kinds the render uses but has no CRD for: the fallback CRD files that define them, up front.
    const rendered = new Set<string>();
    const used = new Set<string>();
    for (const s of live)
      for (const r of s.resources) {
        if (r.kind === "CustomResourceDefinition") rendered.add(r.name);
        used.add(`${groupOf(r.apiVersion)}|${r.kind}`);
      }
    const fallback = crdsInDirs(options.crdDirs ?? []).filter(
      (c) => !rendered.has(c.name) && c.kinds.some((k) => used.has(`${c.group}|${k}`)),
    );
    await mapLimit(fallback, 8, async (c) => {
      const o = await serverSideApply(rest, await discoveryOnce(rest), targetFromObject(c.object), {
        dryRun: false,
      });
      if (o.kind !== "accepted")
        options.log?.(`fallback CRD ${c.name} was not accepted: ${JSON.stringify(o).slice(0, 300)}`);
    });
    let discovery = fallback.length ? await waitServed(rest, fallback) : await Discovery.load(rest);

    // Per cluster (scopes without one are on their own), chapters in order.
    const groups = new Map<string, Array<{ s: ServerScope<ServerObject>; i: number }>>();
    scopes.forEach((s, i) => {
      if (s.resources.length === 0) return;
      const key = s.cluster ?? `#${i}`;
      groups.set(key, [...(groups.get(key) ?? []), { s, i }]);
    });
    const total = live.length;
    const step = progress.start(`server-side apply of ${total} cluster x chapter render(s)`, total);
    let done = 0;
    for (const [, list] of groups) {
      list.sort((a, b) => a.s.order - b.s.order);
      /** identity -> the content applied and the chapter that applied it (persisted objects). */
      const state = new Map<
        string,
        { hash: string; target: ApplyTarget; obj: ServerObject; label?: string }
      >();
      /** identity -> the last content attempted and its verdict. */
      const verdicts = new Map<string, { hash: string; outcome: ApplyOutcome; note: string }>();
      for (const [k, { s, i }] of list.entries()) {
        if (!s.baseline) step.tick(done++);
        // The last chapter of a walk has no successor: its objects are dry-run (dryRun=All), not kept.
        const last = k === list.length - 1;
        const desired = new Map<string, ServerObject>();
        for (const r of s.resources) if (r.name && r.kind !== "List") desired.set(identity(r), r);
        const all = [...desired.values()];
        // Namespaces first: the render's own, then every namespace an object names.
        const nsObjects = all.filter((r) => r.kind === "Namespace");
        const crds = all.filter((r) => r.kind === "CustomResourceDefinition");
        const policies = all.filter((r) => POLICY_KINDS.has(r.kind));
        const rest2 = all.filter((r) => !PREREQ_KINDS.includes(r.kind) && !POLICY_KINDS.has(r.kind));
        const applyOne = async (r: ServerObject) => {
          const id = identity(r);
          const hash = contentHash(r);
          const prev = verdicts.get(id);
          let outcome: ApplyOutcome;
          let note: string;
          if (prev && prev.hash === hash) {
            ({ outcome, note } = prev);
          } else {
            const dryRun =
              DRY_RUN_ONLY_KINDS.has(r.kind) ||
              isHook(r) ||
              (last && !PREREQ_KINDS.includes(r.kind) && !POLICY_KINDS.has(r.kind));
            const before = state.get(id);
            note =
              before && before.hash !== hash && s.cluster
                ? ` (applied over the object as ${before.label ?? "the previous chapter"} left it, as promoting cluster ${s.cluster} to ${s.label ?? "this chapter"} would)`
                : "";
            outcome = await serverSideApply(rest, discovery, targetOf(r), { dryRun });
            verdicts.set(id, { hash, outcome, note });
            if (outcome.kind === "accepted" && !dryRun)
              state.set(id, { hash, target: targetOf(r), obj: r, ...(s.label ? { label: s.label } : {}) });
          }
          if (!s.baseline) reports.push(...outcomeReports(outcome, r, i, note));
        };
        await mapLimit(nsObjects, 8, applyOne);
        const namespaces = new Set<string>();
        for (const r of all)
          if (r.ns && discovery.get(r.apiVersion, r.kind)?.namespaced !== false) namespaces.add(r.ns);
        await mapLimit([...namespaces], 8, (n) => ensureNamespace(rest, n));
        const crdsBefore = new Map([...state].filter(([k]) => k.includes("|CustomResourceDefinition|")));
        await mapLimit(crds, 8, applyOne);
        const crdsChanged = crds.some(
          (r) => crdsBefore.get(identity(r))?.hash !== state.get(identity(r))?.hash,
        );
        if (crdsChanged)
          discovery = await waitServed(
            rest,
            crds.map((r) => crdOf(r.object)).filter((c): c is CrdDoc => c !== undefined),
          );
        const policyHashes = policies.map((r) => state.get(identity(r))?.hash);
        await mapLimit(policies, 8, applyOne);
        // Admission picks policies up from an informer: give it a moment before anything they judge.
        if (policies.some((r, k) => state.get(identity(r))?.hash !== policyHashes[k]))
          await new Promise((r) => setTimeout(r, 1500));
        await mapLimit(rest2, 8, applyOne);
        // Prune what this chapter no longer has (after the last one, everything goes below).
        const gone = [...state].filter(([id, v]) => !desired.has(id) && !NEVER_PRUNED.has(v.target.kind));
        if (last) {
          // A promotion (its starting chapter applied as a baseline): say what it would delete.
          if (!s.baseline && list.some((e) => e.s.baseline))
            for (const [, v] of gone)
              pruned.push({
                scope: i,
                file: v.obj.file ?? "",
                apiVersion: v.obj.apiVersion,
                kind: v.obj.kind,
                name: v.obj.name,
                ns: v.obj.ns,
                message: `promoting cluster ${s.cluster ?? "?"} to ${s.label ?? "this chapter"} deletes ${v.obj.kind} ${v.obj.ns ? `${v.obj.ns}/` : ""}${v.obj.name} (${v.label ?? "the current chapter"} has it, the target does not): Argo CD prunes it where the Application has prune on`,
              });
          continue;
        }
        await mapLimit(gone, 8, async ([id, v]) => {
          await deleteObject(rest, discovery, v.target);
          state.delete(id);
          verdicts.delete(id);
        });
      }
      // The next cluster starts from an empty cluster (CRDs and namespaces stay).
      const left = [...state].filter(([, v]) => !NEVER_PRUNED.has(v.target.kind));
      await mapLimit(left, 8, ([, v]) => deleteObject(rest, discovery, v.target));
    }
    step.tick(done);
    step.end();
  } finally {
    if (!options.server) await server.stop();
  }
  return { reports, pruned };
}

let cachedDiscovery: { rest: KubeRest; d: Discovery } | undefined;
async function discoveryOnce(rest: KubeRest): Promise<Discovery> {
  if (cachedDiscovery?.rest !== rest) cachedDiscovery = { rest, d: await Discovery.load(rest) };
  return cachedDiscovery.d;
}

function targetFromObject(o: Record<string, unknown>): ApplyTarget {
  const md = (o.metadata ?? {}) as { name?: string; namespace?: string };
  return {
    apiVersion: String(o.apiVersion),
    kind: String(o.kind),
    name: md.name ?? "",
    namespace: md.namespace ?? "default",
    object: o,
  };
}
