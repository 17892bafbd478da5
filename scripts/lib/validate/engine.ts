/**
 * The validation engine: files in, findings out, through the four layers. Repo mode and path mode
 * both hand it "scopes" (a cluster at a chapter, or the files given on the command line); it
 * parses each distinct file once, runs kubeconform ONCE over all distinct manifests (in parallel
 * with the in-process layers), evaluates CEL once per distinct document, and runs the semantic
 * rules once per scope over an index built once.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Finding, Severity, SourcePosition } from "../findings.ts";
import { compareFindings } from "../findings.ts";
import type { YamlLimits, YamlPath } from "../yaml-source.ts";
import { fastLoader, fastLoaderId, loadAllCached, readSourceCached, type SourceFile } from "./source.ts";
import { CelValidator } from "./cel.ts";
import type { ValidateConfig } from "./config.ts";
import { problemsOf, resolveKubeconform, runKubeconform, type KubeconformResult } from "./kubeconform.ts";
import { ContentCache } from "../fs/content-cache.ts";
import { configKey, SchemaVerdictCache } from "./schema-cache.ts";
import {
  asArray,
  asObj,
  looksLikeResource,
  positionOf,
  refOf,
  toResource,
  type Resource,
} from "./resource.ts";
import { ResourceIndex, WORKLOAD_KINDS, type Platform } from "./resource-index.ts";
import type { GeneratedConfig, RepoFacts, RuleMeta } from "./rule.ts";
import { allRuleMetas, SEMANTIC_RULES } from "./rules/index.ts";
import { applySuppressions, type Suppressible } from "./suppress.ts";
import { NO_PROGRESS, type Progress } from "../cli/progress.ts";
import type { BehaviourScope } from "../behaviour/layer.ts";
import { runServerLayer, type ServerLayerOptions } from "./server-layer.ts";
import { offPin, platformPosition, sourcePosition, type ReadSource } from "./relocate.ts";

export interface FileInput {
  /** Path shown in findings. */
  file: string;
  text: string;
  /** `manifests`: Kubernetes objects, all layers. `yaml`: syntax only (values, workflows, ...). */
  kind: "manifests" | "yaml";
  /** A file on disk kubeconform can read directly (path mode); otherwise a temp copy is written. */
  diskPath?: string;
}

export interface Scope {
  files: FileInput[];
  platform: Platform;
  /** Repo mode: the set is the whole world of that cluster, so "not found" means missing. */
  complete: boolean;
  repo?: RepoFacts;
  /** "cluster primary at chapter 07-x" (repo mode). */
  context?: string;
  /** For a chapter other than the cluster's pin: "ahead of its pin" or "behind its pin" (findings say so). */
  pinNote?: string;
  /** Scopes with the same key see each other's services and workloads (clusters of one mesh at one chapter). */
  peerGroup?: string;
  /** Repo mode: what the behaviour layer needs of this cluster at this chapter. */
  behaviour?: BehaviourScope;
  /** Repo mode: what the behaviour layer's helper generated for it, when it ran (rules read it). */
  generated?: GeneratedConfig;
  /** Repo mode: the cluster, and the chapter's place in the chapter order (the server layer walks them). */
  cluster?: string;
  chapterOrder?: number;
  chapter?: string;
}

export interface ValidationFinding extends Finding {
  /** The source files a rendered file came from (`# source:` header). */
  sources?: string[];
  /** Where it was found in repo mode: cluster and chapter(s). */
  context?: string;
  /** More than a line can say: the behaviour layer's hop trace. */
  detail?: string;
  /**
   * Where it was found in the rendered output, when file/line point at the source instead (a
   * chapter other than the pin, or a platform chart's object: rendered in memory only).
   */
  rendered?: SourcePosition;
}

export interface ValidationSummary {
  errors: number;
  warnings: number;
  infos: number;
  resources: number;
  files: number;
  durationMs: number;
  suppressed: number;
}

export interface ValidationResult {
  findings: ValidationFinding[];
  summary: ValidationSummary;
  /** Findings a suppression (annotation or config entry, each with its reason) set aside. */
  suppressed?: ValidationFinding[];
}

export interface RuleFilter {
  /** Only these rules (codes, or `area/*`). */
  rules?: string[];
  /** Not these rules. */
  disable?: string[];
}

export function ruleSelected(code: string, filter: RuleFilter): boolean {
  const hit = (pats: string[]) =>
    pats.some(
      (p) => p === code || (p.endsWith("/*") && code.startsWith(p.slice(0, -1))) || code.startsWith(`${p}/`),
    );
  if (filter.rules?.length && !hit(filter.rules)) return false;
  if (filter.disable?.length && hit(filter.disable)) return false;
  return true;
}

interface Draft extends Suppressible {
  finding: ValidationFinding;
  scope?: Scope;
  /** The YAML path of the finding inside its resource (to find the same node in the source). */
  path?: YamlPath;
}

const SERVER_RULES = ["server/rejected", "server/warning", "server/not-served", "server/pruned"];
const META = new Map(allRuleMetas().map((m) => [m.code, m] as const));
const REGISTRY_KINDS = new Set(["Service", "ServiceEntry", "ServiceAccount", "Namespace", ...WORKLOAD_KINDS]);

/**
 * What a scope sees of its peers: their service registry, and Argo CD's settings (`argocd-cm`).
 * The remote cluster's Applications are synced by the primary's Argo CD, so the remote scope has
 * no argocd-cm of its own; the argocd/* rules read the primary's.
 */
export function sharedWithPeers(r: Resource): boolean {
  return (
    REGISTRY_KINDS.has(r.kind) || (r.kind === "ConfigMap" && r.apiVersion === "v1" && r.name === "argocd-cm")
  );
}

function meta(code: string): RuleMeta {
  return (
    META.get(code) ?? {
      code,
      layer: "repo",
      severity: "error",
      anchors: [],
      title: code,
      description: "",
      hint: "",
    }
  );
}

function hash(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

export interface EngineOptions {
  /**
   * Folder of the content-addressed caches: kubeconform verdicts (schema-cache.ts) and parsed YAML
   * (source.ts). No caching when absent.
   */
  cacheRoot?: string;
  /** Reports the kubeconform run (N files) when it is long. */
  progress?: Progress;
  /** The server layer: a real API server's verdict (server-layer.ts); off unless given. */
  server?: ServerLayerOptions;
  /**
   * Repo mode: the repository root. Findings in rendered files that are not in the repository
   * (chapters other than a cluster's pin, platform charts) are then located at the source file and
   * line (relocate.ts), the rendered place kept as `rendered`.
   */
  sourceRoot?: string;
}

interface SchemaLayer {
  /** Distinct file content hash -> kubeconform's results for it (cached or fresh). */
  verdicts: Promise<Map<string, KubeconformResult[]>>;
  cleanup(): Promise<void>;
}

/**
 * Starts layer 2: the files whose verdict is not cached go to ONE kubeconform run. Resolves once
 * the process is running, so it works while the caller runs the (synchronous) in-process layers.
 */
async function startSchemaLayer(
  distinct: Map<string, { text: string; diskPath?: string }>,
  config: ValidateConfig,
  options: EngineOptions,
): Promise<SchemaLayer> {
  let tmp: string | undefined;
  const cleanup = async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  };
  try {
    const bin = await resolveKubeconform();
    const kcOptions = {
      schemaLocations: config.schemaLocations,
      kubernetesVersion: config.kubernetesVersion,
      skipKinds: config.skipKinds.map((s) => s.kind),
    };
    const cache = options.cacheRoot
      ? await SchemaVerdictCache.open(options.cacheRoot, await configKey(bin, kcOptions))
      : SchemaVerdictCache.disabled();
    const out = new Map<string, KubeconformResult[]>();
    const byPath = new Map<string, string>();
    for (const [key, d] of distinct) {
      const hit = cache.get(key);
      if (hit) {
        out.set(
          key,
          hit.map((r) => ({ ...r, filename: d.diskPath ?? "" })),
        );
        continue;
      }
      let p = d.diskPath;
      if (!p) {
        tmp ??= await mkdtemp(path.join(os.tmpdir(), "validate-"));
        p = path.join(tmp, `${key}.yaml`);
        await writeFile(p, d.text);
      }
      byPath.set(path.resolve(p), key);
      out.set(key, []);
    }
    if (byPath.size === 0) return { verdicts: Promise.resolve(out), cleanup };
    // With `bin` given, runKubeconform spawns the process before it first yields.
    const running = runKubeconform([...byPath.keys()], kcOptions, bin);
    const step = (options.progress ?? NO_PROGRESS).start(
      `kubeconform over ${byPath.size} file(s) (${distinct.size - byPath.size} unchanged, cached)`,
    );
    running.then(
      () => step.end(),
      () => step.end(),
    );
    const verdicts = running.then(async (results) => {
      let unattributed = false;
      for (const res of results) {
        const key = byPath.get(path.resolve(res.filename));
        if (key) out.get(key)!.push(res);
        else unattributed = true;
      }
      // A result we cannot attribute to a file: cache nothing from this run.
      if (!unattributed) {
        for (const key of byPath.values()) cache.set(key, out.get(key)!);
        // A cache that cannot be written costs speed, not correctness.
        await cache.save().catch(() => {});
      }
      return out;
    });
    // Awaited by the caller after the other layers; no unhandled rejection meanwhile.
    verdicts.catch(() => {});
    return {
      verdicts,
      async cleanup() {
        await verdicts.catch(() => {});
        await cleanup();
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

export async function validateScopes(
  scopes: Scope[],
  config: ValidateConfig,
  filter: RuleFilter,
  extraFindings: ValidationFinding[] = [],
  options: EngineOptions = {},
): Promise<ValidationResult> {
  const started = performance.now();
  const drafts: Draft[] = extraFindings.map((f) => ({ finding: f }));
  /** Rules that threw: reported as validate/internal, past suppressions and filters. */
  const internal: ValidationFinding[] = [];
  const parsedCache = new Map<string, SourceFile>();
  const loader = await fastLoader();
  let parseCache = ContentCache.disabled<unknown[]>();
  const parse = (key: string, text: string, limits: YamlLimits) => {
    let p = parsedCache.get(key);
    if (!p) {
      p = readSourceCached(text, key, limits, loader, parseCache);
      parsedCache.set(key, p);
    }
    return p;
  };

  // Layer 2 (schema) first: one kubeconform run over every distinct manifest file, started
  // before anything is parsed so that it runs while the in-process layers work.
  const schemaSelected = ruleSelected("schema/invalid", filter) || ruleSelected("schema/missing", filter);
  const distinct = new Map<string, { text: string; diskPath?: string }>();
  const keyOf = new Map<FileInput, string>();
  for (const scope of scopes) {
    for (const input of scope.files) {
      const key = hash(input.text);
      keyOf.set(input, key);
      if (input.kind !== "manifests") continue;
      const d = distinct.get(key) ?? { text: input.text };
      if (input.diskPath && !d.diskPath) d.diskPath = input.diskPath;
      distinct.set(key, d);
    }
  }
  const kubeconform =
    schemaSelected && distinct.size ? await startSchemaLayer(distinct, config, options) : undefined;
  // Opened once kubeconform is running (it is the longer path on a cold run).
  parseCache = options.cacheRoot
    ? await ContentCache.open<unknown[]>(
        path.join(options.cacheRoot, `parsed-${fastLoaderId()}.json`),
        Array.isArray,
      )
    : ContentCache.disabled<unknown[]>();

  let nextId = 0;
  const scopeResources = new Map<Scope, Resource[]>();
  /** Distinct manifest contents -> the resources of every occurrence (doc-index aligned). */
  const manifests = new Map<string, { occurrences: Array<Map<number, Resource>> }>();
  const files = new Set<string>();
  try {
    // Layer 1 (YAML) and resources, per scope.
    for (const scope of scopes) {
      const list: Resource[] = [];
      for (const input of scope.files) {
        files.add(input.file);
        const key = keyOf.get(input)!;
        const parsed = parse(key, input.text, config.limits);
        for (const f of parsed.findings)
          drafts.push({ finding: { ...f, file: input.file, ...ctx(scope) }, scope });
        if (input.kind !== "manifests") continue;
        const sources = sourceLines(input.text);
        const byDoc = new Map<number, Resource>();
        const docs = parsed.docs.filter((d) => d.value !== undefined && d.value !== null);
        const resources = docs.filter((d) => looksLikeResource(d.value));
        for (const d of docs) {
          if (looksLikeResource(d.value)) {
            const r = toResource(nextId++, d, input.file, { sources, ...ctx(scope) });
            byDoc.set(d.index, r);
            list.push(r);
          } else if (resources.length > 0 || halfResource(d.value)) {
            const pos = d.positionOf([]);
            drafts.push({
              finding: {
                ...pos,
                file: input.file,
                rule: "yaml/not-a-resource",
                severity: "error",
                anchors: ["kubeconform"],
                message: `document ${d.index + 1} is not a Kubernetes object (no apiVersion/kind)`,
                hint: meta("yaml/not-a-resource").hint,
                ...ctx(scope),
              },
              scope,
            });
          }
        }
        if (
          docs.length > 0 &&
          resources.length === 0 &&
          parsed.findings.length === 0 &&
          !docs.some((d) => halfResource(d.value))
        ) {
          drafts.push({
            finding: {
              file: input.file,
              line: 1,
              column: 1,
              rule: "yaml/not-a-resource",
              severity: "info",
              anchors: [],
              message: "no Kubernetes objects in this file; checked as plain YAML only",
              hint: "nothing to do if this is not a manifest (values, config)",
              ...ctx(scope),
            },
            scope,
          });
        }
        // Files with YAML errors or non-objects are reported by layer 1; kubeconform's view of them is dropped.
        const clean = parsed.findings.length === 0 && byDoc.size === docs.length;
        if (byDoc.size > 0 && clean) {
          const entry = manifests.get(key) ?? { occurrences: [] };
          entry.occurrences.push(byDoc);
          manifests.set(key, entry);
        }
      }
      scopeResources.set(scope, list);
    }

    // Layer 3 (CEL): once per distinct document.
    if (ruleSelected("cel/rule", filter) || ruleSelected("cel/cost", filter)) {
      // Istio's CRD files are most of a megabyte of YAML, the same on every run: cached like manifests.
      const crdLoader = loader
        ? (text: string) => loadAllCached(text, `crd:${hash(text)}`, loader, parseCache)
        : null;
      const cel = new CelValidator(
        config.schemaLocations,
        config.kubernetesVersion,
        config.crdDirs,
        crdLoader,
      );
      for (const list of scopeResources.values())
        for (const r of list) if (r.kind === "CustomResourceDefinition") cel.addCrd(r.object);
      for (const m of manifests.values()) {
        const first = m.occurrences[0]!;
        for (const [docIndex, r] of first) {
          const problems = cel.validate(r);
          // A CRD among the validated files: rules the API server would refuse to install.
          if (r.kind === "CustomResourceDefinition") problems.push(...cel.crdCostProblems(r.object));
          if (!problems.length) continue;
          for (const occ of m.occurrences) {
            const target = occ.get(docIndex)!;
            for (const p of problems) {
              drafts.push({
                finding: layerFinding(
                  p.code ?? "cel/rule",
                  target,
                  p.path,
                  `${p.message} (CEL rule \`${p.rule.replace(/\s+/g, " ")}\`)`,
                ),
                resource: target,
                path: p.path,
              });
            }
          }
        }
      }
    }

    // A cache that cannot be written costs speed, not correctness.
    await parseCache.save().catch(() => {});

    // Layer 4 (semantics): once per scope, over one index.
    const rules = SEMANTIC_RULES.filter((r) => ruleSelected(r.code, filter));
    const groups = new Map<string, Scope[]>();
    for (const s of scopes) if (s.peerGroup) groups.set(s.peerGroup, [...(groups.get(s.peerGroup) ?? []), s]);
    // VALIDATE_RULE_TIMES=1: each rule's total time on stderr, for finding the slow one.
    const ruleTimes = process.env.VALIDATE_RULE_TIMES ? new Map<string, number>() : undefined;
    for (const scope of scopes) {
      const own = scopeResources.get(scope) ?? [];
      if (own.length === 0) continue;
      const peers = (scope.peerGroup ? (groups.get(scope.peerGroup) ?? []) : [])
        .filter((s) => s !== scope)
        .flatMap((s) =>
          (scopeResources.get(s) ?? []).filter(sharedWithPeers).map((r) => ({ ...r, peer: true })),
        );
      const index = new ResourceIndex([...own, ...peers], scope.platform, scope.complete);
      for (const rule of rules) {
        let reports;
        const started = ruleTimes ? performance.now() : 0;
        try {
          reports = rule.check({
            index,
            ...(scope.repo ? { repo: scope.repo } : {}),
            ...(scope.generated ? { generated: scope.generated } : {}),
          });
          if (ruleTimes)
            ruleTimes.set(rule.code, (ruleTimes.get(rule.code) ?? 0) + performance.now() - started);
        } catch (e) {
          // A bug in the validator, not a finding: its own code, never suppressed (exit 2).
          internal.push({
            file: own[0]!.file,
            line: 1,
            column: 1,
            rule: INTERNAL_RULE,
            severity: "error",
            anchors: [],
            message: `internal error in rule ${rule.code}: ${e instanceof Error ? e.message : String(e)}`,
            hint: meta(INTERNAL_RULE).hint,
            ...ctx(scope),
          });
          continue;
        }
        for (const rep of reports) {
          if (rep.resource.peer) continue;
          const pos = positionOf(rep.resource, rep.path ?? [], "key");
          drafts.push({
            finding: {
              ...pos,
              rule: rule.code,
              severity: rep.severity ?? rule.severity,
              anchors: rep.anchors ?? rule.anchors,
              message: rep.message,
              hint: rep.hint ?? rule.hint,
              resource: refOf(rep.resource),
              ...(rep.detail ? { detail: rep.detail } : {}),
              ...sourcesOf(rep.resource),
              ...ctx(scope),
            },
            resource: rep.resource,
            scope,
            path: rep.path ?? [],
          });
        }
      }
    }
    if (ruleTimes)
      for (const [code, ms] of [...ruleTimes].sort((a, b) => b[1] - a[1]).slice(0, 20))
        process.stderr.write(`rule time: ${ms.toFixed(1).padStart(8)} ms  ${code}\n`);

    // The server layer: every scope's objects, applied to a real API server.
    if (options.server && SERVER_RULES.some((c) => ruleSelected(c, filter))) {
      const { reports, pruned } = await runServerLayer(
        scopes.map((scope, i) => ({
          resources: scopeResources.get(scope) ?? [],
          ...(scope.cluster ? { cluster: scope.cluster } : {}),
          order: scope.chapterOrder ?? i,
          ...(scope.chapter ? { label: `chapter ${scope.chapter}` } : {}),
        })),
        {
          crdDirs: config.crdDirs,
          ...options.server,
          ...(options.progress ? { progress: options.progress } : {}),
        },
      );
      for (const rep of reports) {
        const scope = scopes[rep.scope]!;
        drafts.push({
          finding: {
            ...layerFinding(rep.rule, rep.resource, rep.path, rep.message),
            severity: rep.severity,
            ...ctx(scope),
          },
          resource: rep.resource,
          scope,
        });
      }
      for (const p of pruned) {
        const scope = scopes[p.scope]!;
        const m = meta("server/pruned");
        drafts.push({
          finding: {
            file: p.file,
            line: 1,
            column: 1,
            rule: m.code,
            severity: m.severity,
            anchors: [],
            message: p.message,
            hint: m.hint,
            resource: {
              apiVersion: p.apiVersion,
              kind: p.kind,
              name: p.name,
              ...(p.ns ? { namespace: p.ns } : {}),
            },
            ...ctx(scope),
          },
          scope,
        });
      }
    }

    // Layer 2, collected.
    const verdicts = kubeconform ? await kubeconform.verdicts : new Map<string, KubeconformResult[]>();
    const counters = new Map<string, number>();
    for (const [key, results] of verdicts)
      for (const res of results) {
        const m = manifests.get(key);
        if (!m) continue;
        // Match the result to a document: kind, name (as kubeconform prints it, so generateName
        // becomes `<prefix>{{ generateName }}`) and apiVersion, in order for repeats. Items of a
        // `kind: List` are reported by kubeconform on their own; they are located inside the List.
        const id = `${key}|${res.kind}|${res.name}|${res.version}`;
        const nth = counters.get(id) ?? 0;
        counters.set(id, nth + 1);
        const candidates: Array<{ docIndex: number; prefix: YamlPath }> = [];
        for (const [docIndex, r] of m.occurrences[0]!) {
          if (sameObject(r.object, res)) candidates.push({ docIndex, prefix: [] });
          if (r.kind === "List")
            asArray(r.object.items).forEach((item, i) => {
              if (sameObject(item, res)) candidates.push({ docIndex, prefix: ["items", i] });
            });
        }
        const match = candidates[nth];
        for (const problem of problemsOf(res)) {
          const code = problem.missingSchema ? "schema/missing" : "schema/invalid";
          if (!ruleSelected(code, filter)) continue;
          for (const occ of m.occurrences) {
            if (!match) {
              // Never guess another document: say so at the file's first line.
              const first = [...occ.values()][0];
              if (!first) continue;
              const m2 = meta(code);
              drafts.push({
                finding: {
                  file: first.file,
                  line: 1,
                  column: 1,
                  rule: code,
                  severity: m2.severity,
                  anchors: m2.anchors,
                  message: `${res.kind} ${res.name || "(unnamed)"} (${res.version}): ${problem.message} (the resource could not be located in the file; position unknown)`,
                  hint: m2.hint,
                  ...sourcesOf(first),
                  ...(first.context ? { context: first.context } : {}),
                },
              });
              continue;
            }
            const target = occ.get(match.docIndex);
            if (!target) continue;
            const inItem = match.prefix.length > 0;
            drafts.push({
              finding: layerFinding(
                code,
                target,
                [...match.prefix, ...problem.path],
                inItem
                  ? `item ${String(match.prefix[1])} (${res.kind} ${res.name}): ${problem.message}`
                  : problem.message,
              ),
              resource: target,
              path: [...match.prefix, ...problem.path],
            });
          }
        }
      }
  } finally {
    await kubeconform?.cleanup();
  }

  const { kept, suppressed } = applySuppressions(drafts, config.suppressions);
  const relocate = options.sourceRoot ? relocator(options.sourceRoot) : undefined;
  const findings = dedupe([
    ...kept
      .filter((d) => ruleSelected(d.finding.rule, filter))
      .map((d) => (relocate ? relocate(d) : d.finding)),
    ...internal,
  ]);
  // Root causes first: a file that does not parse or a model that does not load explains the rest.
  findings.sort((a, b) => rootRank(a) - rootRank(b) || compareFindings(a, b));
  const count = (s: Severity) => findings.filter((f) => f.severity === s).length;
  let resources = 0;
  for (const list of scopeResources.values()) resources += list.length;
  return {
    findings,
    summary: {
      errors: count("error"),
      warnings: count("warning"),
      infos: count("info"),
      resources,
      files: files.size,
      durationMs: Math.round(performance.now() - started),
      suppressed: suppressed.length,
    },
    suppressed: suppressed.filter((d) => ruleSelected(d.finding.rule, filter)).map((d) => d.finding),
  };
}

/**
 * Moves findings in rendered files that exist only in memory (chapters other than the pin, the
 * platform charts' objects) to the source the object came from (relocate.ts); the rendered place
 * stays as `rendered`. Sources are read once per run.
 */
function relocator(root: string): (d: Draft) => ValidationFinding {
  const texts = new Map<string, string | undefined>();
  const read: ReadSource = (rel) => {
    const clean = rel.replace(/^\.\//, "");
    if (!texts.has(clean)) {
      let text: string | undefined;
      try {
        text = readFileSync(path.join(root, clean), "utf8");
      } catch {
        text = undefined;
      }
      texts.set(clean, text);
    }
    return texts.get(clean);
  };
  const exists = new Map<string, boolean>();
  const onDisk = (file: string) => {
    if (!exists.has(file)) exists.set(file, existsSync(path.join(root, file)));
    return exists.get(file)!;
  };
  return (d) => {
    const f = d.finding;
    // Rendered files of other chapters, and platform charts' objects, exist only in memory.
    if (!d.resource || !f.file.startsWith("clusters/") || (!offPin(f.context) && onDisk(f.file))) return f;
    const pos =
      sourcePosition(d.resource, d.path ?? [], d.resource.sources, read) ?? platformPosition(f.file, read);
    if (!pos) return f;
    return {
      ...f,
      ...pos,
      rendered: { file: f.file, line: f.line, column: f.column },
    };
  };
}

/** 0 for findings that make others follow (syntax, the repository model), 1 for the rest. */
export function rootRank(f: Finding): number {
  return /^(yaml\/|model\/|repo\/chapter-graph$|repo\/model$)/.test(f.rule) ? 0 : 1;
}

/** The code of a rule that threw (a validator bug): not suppressible; the CLI exits 2. */
export const INTERNAL_RULE = "validate/internal";

/** The CLI's exit code: 2 when the validator itself failed, 1 on errors or too many warnings, else 0. */
export function exitCodeOf(result: ValidationResult, maxWarnings = Infinity): 0 | 1 | 2 {
  if (result.findings.some((f) => f.rule === INTERNAL_RULE)) return 2;
  if (result.summary.errors > 0) return 1;
  if (result.summary.warnings > maxWarnings) return 1;
  return 0;
}

/** The name kubeconform prints for an object: metadata.name, else `<generateName>{{ generateName }}`. */
export function kubeconformName(o: unknown): string {
  const md = asObj(asObj(o).metadata);
  if ((typeof md.name === "string" && md.name) || typeof md.name === "number" || typeof md.name === "boolean")
    return String(md.name);
  if (typeof md.generateName === "string" && md.generateName) return `${md.generateName}{{ generateName }}`;
  return "";
}

function sameObject(o: unknown, res: KubeconformResult): boolean {
  const obj = asObj(o);
  return obj.kind === res.kind && obj.apiVersion === res.version && kubeconformName(obj) === res.name;
}

/** A mapping with apiVersion or kind but not both as strings: a broken object, not plain YAML. */
function halfResource(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v) && ("apiVersion" in v || "kind" in v);
}

function ctx(scope: Scope): { context?: string } {
  return scope.context ? { context: scope.context + (scope.pinNote ? ` (${scope.pinNote})` : "") } : {};
}

/** `# source:` lines that name files (not the "(cluster ... at chapter ...)" note). */
function sourceLines(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n", 12)) {
    if (!line.startsWith("#")) break;
    const m = /^#\s*source:\s*(.+)$/.exec(line);
    if (m?.[1] && !m[1].startsWith("(") && !m[1].startsWith("apply once")) out.push(m[1].trim());
  }
  return out;
}

function sourcesOf(r: Resource): { sources?: string[] } {
  return r.sources.length ? { sources: r.sources } : {};
}

function layerFinding(code: string, r: Resource, p: YamlPath, message: string): ValidationFinding {
  const m = meta(code);
  const pos = positionOf(r, p, "key");
  return {
    ...pos,
    rule: code,
    severity: m.severity,
    anchors: m.anchors,
    message: `${r.kind} ${r.ns ? `${r.ns}/` : ""}${r.name}: ${message}`,
    hint: m.hint,
    resource: refOf(r),
    ...sourcesOf(r),
    ...(r.context ? { context: r.context } : {}),
  };
}

/** "cluster primary at chapters 03-a .. 19-b (17), ahead of its pin" from a list of contexts. */
export function summarizeContexts(contexts: readonly string[]): string {
  const byCluster = new Map<string, { chapters: string[]; notes: Set<string>; pinned: boolean }>();
  for (const c of contexts) {
    const m = /^cluster (\S+) at chapter (\S+)(?: \((.+)\))?$/.exec(c);
    if (!m) continue;
    const e = byCluster.get(m[1]!) ?? { chapters: [], notes: new Set<string>(), pinned: false };
    e.chapters.push(m[2]!);
    if (m[3]) e.notes.add(m[3]);
    else e.pinned = true;
    byCluster.set(m[1]!, e);
  }
  if (byCluster.size === 0) return contexts.join("; ");
  return [...byCluster]
    .map(([cluster, e]) => {
      const ch = [...e.chapters].sort();
      const list =
        ch.length > 2
          ? `chapters ${ch[0]} .. ${ch[ch.length - 1]} (${ch.length})`
          : ch.length === 2
            ? `chapters ${ch.join(", ")}`
            : `chapter ${ch[0]}`;
      return `cluster ${cluster} at ${list}${e.pinned ? "" : `, ${[...e.notes].join(" and ")}`}`;
    })
    .join("; ");
}

/**
 * The same finding at the same place in several chapters is reported once, naming the chapters;
 * the message gets the source file and, when it is not found at the pinned chapter, the chapters.
 */
function dedupe(findings: ValidationFinding[]): ValidationFinding[] {
  // `everywhere`: one occurrence had no context (a repository file checked on its own), so the
  // finding is not about particular chapters and the message needs no list of them.
  const byKey = new Map<string, { f: ValidationFinding; contexts: string[]; everywhere: boolean }>();
  for (const f of findings) {
    const key = `${f.file}|${f.line}|${f.column}|${f.rule}|${f.message}`;
    const e = byKey.get(key);
    if (e) {
      if (f.context && !e.contexts.includes(f.context)) e.contexts.push(f.context);
      if (!f.context) e.everywhere = true;
      continue;
    }
    byKey.set(key, { f, contexts: f.context ? [f.context] : [], everywhere: !f.context });
  }
  return [...byKey.values()].map(({ f, contexts, everywhere }) => {
    const out: ValidationFinding = { ...f };
    if (contexts.length) out.context = summarizeContexts(contexts);
    const notes: string[] = [];
    if (f.sources?.length) notes.push(`source: ${f.sources.join(", ")}`);
    const pinned = everywhere || contexts.some((c) => !c.endsWith(" pin)"));
    if (contexts.length && !pinned) notes.push(out.context!);
    if (notes.length) out.message = `${f.message} [${notes.join("; ")}]`;
    return out;
  });
}
