/**
 * The validator's library API (promotion and rollback call it): offline validation of the repo
 * (every cluster at every chapter, rendered in memory) or of any files, in four layers: YAML,
 * schema (kubeconform), CEL, and semantics across resources. No printing, no process.exit.
 */
import { loadConfig, normalizeK8sVersion, type ValidateConfig } from "./config.ts";
import { validateScopes, type ValidationResult } from "./engine.ts";
import { collectPaths } from "./path-mode.ts";
import { collectRepo } from "./repo-mode.ts";
import { loadRepo } from "../model/repo.ts";
import { helmTemplateDeps } from "../render/helm-template.ts";
import { cachedHelmTemplate } from "../render/helm-template-cache.ts";
import type { RenderDeps } from "../render/render.ts";
import { checkLockCoverage } from "../charts/lock.ts";
import { FindingsError, type Finding } from "../findings.ts";
import type { PlatformDeps } from "../render/platform.ts";
import { openPlatform, type PlatformInput } from "../render/platform-input.ts";
import { checkSchemaLocations, effectiveSchemaLocations } from "./schema-sources.ts";
import { validateCacheRoot } from "./schema-cache.ts";
import type { Progress } from "../cli/progress.ts";
import { chartCrdSchemaLocations } from "./chart-crd-schemas.ts";
import { BEHAVIOUR_RULES, runBehaviour, type BehaviourScope, type SimRunner } from "../behaviour/layer.ts";
import type { SimEnvoyFilter } from "../behaviour/protocol.ts";
import type { Scope } from "./engine.ts";
import { ruleSelected } from "./engine.ts";
import type { ServerLayerOptions } from "./server-layer.ts";
export type { ServerLayerOptions } from "./server-layer.ts";

export type { ValidationFinding, ValidationResult, ValidationSummary } from "./engine.ts";
export { exitCodeOf, INTERNAL_RULE } from "./engine.ts";
export type { RuleMeta, Rule } from "./rule.ts";
export { allRuleMetas, SEMANTIC_RULES } from "./rules/index.ts";
export { loadConfig, type ValidateConfig } from "./config.ts";
export { validateCacheRoot } from "./schema-cache.ts";

export interface ValidateOptions {
  /** Cluster names (repo mode); all when empty. */
  clusters?: string[];
  /** One chapter (repo mode) instead of all of them. */
  chapter?: string;
  /** Only these rules (codes or `area/*`). */
  rules?: string[];
  /** Not these rules. */
  disable?: string[];
  /** Folder holding .validate.yaml and against which relative settings resolve (default: cwd for paths, root for repo). */
  configRoot?: string;
  /** Environment for VALIDATE_SCHEMA_ROOT / VALIDATE_CRD_DIR (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Content of standard input, for the path `-`. */
  stdin?: string;
  /**
   * Folder of the kubeconform verdict cache (schema-cache.ts). The CLI uses the per-user cache
   * unless --no-cache; library callers get no cache unless they pass one.
   */
  cacheRoot?: string;
  /** Replaces `helm template` (tests). */
  renderDeps?: RenderDeps;
  /** Render the platform charts too (default true); false validates app and mesh only. */
  platform?: boolean;
  /** Replaces `helm template` of the platform charts (tests). */
  platformDeps?: PlatformDeps;
  /** Path mode: after the pinned bundle, the public upstreams for kinds it lacks (overrides remoteSchemas:). */
  remoteSchemas?: boolean;
  /** Long steps report here (the CLI's stderr progress); silent when absent. */
  progress?: Progress;
  /** Replaces the mesh simulation helper (tests of the wiring); the real helper otherwise. */
  simRunner?: SimRunner;
  /**
   * The server layer: apply everything to a real, private API server (server-layer.ts). `true` starts one
   * (etcd + kube-apiserver, built by `pnpm tools kube-apiserver etcd`); options may pass one in.
   */
  server?: boolean | ServerLayerOptions;
}

/** The run's schema locations (schema-sources.ts), remote ones probed before any work starts. */
async function withSchemaLocations(
  config: ValidateConfig,
  mode: "repo" | "paths",
  neededBy: string,
  options: ValidateOptions,
): Promise<ValidateConfig> {
  const locations = await effectiveSchemaLocations(
    config,
    mode,
    options.cacheRoot ?? validateCacheRoot(options.env),
    options.remoteSchemas,
  );
  await checkSchemaLocations(locations, neededBy, config);
  return { ...config, schemaLocations: locations };
}

/** The platform render's inputs; a missing or broken chart lock is a finding, not a stop. */
async function platformInputOf(
  root: string,
  config: ValidateConfig,
  options: ValidateOptions,
  releases: Parameters<typeof checkLockCoverage>[1],
): Promise<{ input?: PlatformInput; findings: Finding[] }> {
  if (options.platform === false) return { findings: [] };
  try {
    const input = await openPlatform(root, {
      ...(options.env ? { env: options.env } : {}),
      ...(config.chartMirror ? { mirror: config.chartMirror } : {}),
      ...(options.cacheRoot ? { cacheRoot: options.cacheRoot } : {}),
      ...(options.platformDeps ? { deps: options.platformDeps } : {}),
    });
    return { input, findings: checkLockCoverage(input.packages.lock, releases) };
  } catch (e) {
    if (e instanceof FindingsError) return { findings: e.findings };
    throw e;
  }
}

function engineOptionsOf(o: ValidateOptions) {
  return {
    ...(o.cacheRoot ? { cacheRoot: o.cacheRoot } : {}),
    ...(o.progress ? { progress: o.progress } : {}),
    ...(o.server ? { server: o.server === true ? (o.env ? { env: o.env } : {}) : o.server } : {}),
  };
}

function filterOf(o: ValidateOptions) {
  return { ...(o.rules ? { rules: o.rules } : {}), ...(o.disable ? { disable: o.disable } : {}) };
}

export async function validateRepo(root: string, options: ValidateOptions = {}): Promise<ValidationResult> {
  const config: ValidateConfig = await withSchemaLocations(
    loadConfig(options.configRoot ?? root, options.env),
    "repo",
    `the repository's render (${root})`,
    options,
  );
  const loaded = await loadRepo(root);
  const version = loaded.model?.clusters[0]?.kubernetesVersion;
  const effective = version ? { ...config, kubernetesVersion: normalizeK8sVersion(version) } : config;
  // With a cache folder (the CLI), helm's renders of unchanged chart + values are reused too.
  const cachedHelm =
    !options.renderDeps && options.cacheRoot
      ? await cachedHelmTemplate(helmTemplateDeps(root), root, options.cacheRoot)
      : undefined;
  const renderDeps = options.renderDeps ?? cachedHelm ?? helmTemplateDeps(root);
  const platform = loaded.model
    ? await platformInputOf(root, effective, options, loaded.model.helmfile.releases)
    : { findings: [] };
  const { scopes, findings, chartCrds } = await collectRepo(
    root,
    effective,
    {
      ...(options.clusters ? { clusters: options.clusters } : {}),
      ...(options.chapter ? { chapter: options.chapter } : {}),
      ...(options.progress ? { progress: options.progress } : {}),
    },
    renderDeps,
    loaded,
    platform.input,
  );
  findings.push(...platform.findings);
  // Layer 5 (behaviour): the lessons' promises through Istio's own config generation. Skipped
  // when a --rule/--layer filter leaves none of its rules (nor envoyfilter/match-nothing, which
  // reads the helper's EnvoyFilter verdicts when there are some).
  const envoyFilterVerdicts = new Map<BehaviourScope, SimEnvoyFilter[]>();
  if (
    [...Object.values(BEHAVIOUR_RULES), MATCH_NOTHING].some((code) => ruleSelected(code, filterOf(options)))
  ) {
    const step = options.progress?.start("behaviour layer: simulating the lessons' requests", 1);
    findings.push(
      ...(await runBehaviour(
        scopes.flatMap((s) => (s.behaviour ? [s.behaviour] : [])),
        {
          ...(options.env ? { env: options.env } : {}),
          ...(options.cacheRoot ? { cacheRoot: options.cacheRoot } : {}),
          ...(options.simRunner ? { run: options.simRunner } : {}),
          onEnvoyFilters: (scope, verdicts) => envoyFilterVerdicts.set(scope, verdicts),
        },
      )),
    );
    step?.end();
  }
  // A promotion's starting chapter, for the server layer to apply first (its findings are not ours).
  const serverOptions = await withPromotionBaseline(
    root,
    effective,
    options,
    renderDeps,
    loaded,
    platform.input,
  );
  // A cache that cannot be written costs speed, not correctness.
  await cachedHelm?.save().catch(() => {});
  // The bundle's CRD schemas are a snapshot; the charts' own CRDs (by digest) come first.
  const withCharts =
    config.schemaSource === "default"
      ? {
          ...effective,
          schemaLocations: [
            ...(await chartCrdSchemaLocations(
              options.cacheRoot ?? validateCacheRoot(options.env),
              chartCrds,
            )),
            ...effective.schemaLocations,
          ],
        }
      : effective;
  return validateScopes(withGenerated(scopes, envoyFilterVerdicts), withCharts, filterOf(options), findings, {
    ...engineOptionsOf(options),
    ...(serverOptions ? { server: serverOptions } : {}),
    sourceRoot: root,
  });
}

const MATCH_NOTHING = "envoyfilter/match-nothing";

/** The scopes, each with what the helper generated for it (the rules read it), where it ran. */
function withGenerated(scopes: Scope[], verdicts: ReadonlyMap<BehaviourScope, SimEnvoyFilter[]>): Scope[] {
  if (!verdicts.size) return scopes;
  return scopes.map((s) => {
    const v = s.behaviour && verdicts.get(s.behaviour);
    if (!v) return s;
    return { ...s, generated: { envoyFilters: new Map(v.map((ef) => [`${ef.namespace}/${ef.name}`, ef])) } };
  });
}

async function withPromotionBaseline(
  root: string,
  config: ValidateConfig,
  options: ValidateOptions,
  renderDeps: RenderDeps,
  loaded: Awaited<ReturnType<typeof loadRepo>>,
  platform: PlatformInput | undefined,
): Promise<ServerLayerOptions | undefined> {
  if (!options.server) return undefined;
  const server: ServerLayerOptions =
    options.server === true ? (options.env ? { env: options.env } : {}) : options.server;
  if (!server.promotionFrom || !loaded.model) return server;
  const base = await collectRepo(
    root,
    config,
    { ...(options.clusters ? { clusters: options.clusters } : {}), chapter: server.promotionFrom },
    renderDeps,
    loaded,
    platform,
  );
  return {
    ...server,
    baseline: base.scopes
      .filter((s) => s.cluster)
      .map((s) => ({
        cluster: s.cluster!,
        label: `chapter ${s.chapter ?? server.promotionFrom}`,
        files: s.files.filter((f) => f.kind === "manifests"),
      })),
  };
}

export async function validatePaths(
  paths: string[],
  options: ValidateOptions = {},
): Promise<ValidationResult> {
  const cwd = options.configRoot ?? process.cwd();
  const config = await withSchemaLocations(
    loadConfig(cwd, options.env),
    "paths",
    paths.length === 1 ? paths[0]! : `${paths[0]} and ${paths.length - 1} more path(s)`,
    options,
  );
  const scope = await collectPaths(paths, config, cwd, options.stdin);
  return validateScopes([scope], config, filterOf(options), [], engineOptionsOf(options));
}
