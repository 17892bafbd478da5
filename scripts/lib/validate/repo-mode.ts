/**
 * Repo mode: every cluster at every chapter (the pin and the chapters around it, so the next
 * promotion is already checked), rendered in memory exactly as Argo CD would get it, plus the
 * repository's own YAML files and the freshness of the committed rendered output.
 */
import { existsSync, readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { Composition } from "../compose/compose.ts";
import { FindingsError, type Finding } from "../findings.ts";
import { Git } from "../gitops/git.ts";
import { verifiedRestore } from "../gitops/restored.ts";
import { readRegularFile } from "../fs/safe-read.ts";
import { diffTrees, readTree } from "../fs/tree.ts";
import { resolveChapterRef } from "../model/chapter.ts";
import { loadRepo, type RepoModel } from "../model/repo.ts";
import { githubOwner } from "../model/images.ts";
import type { Cluster } from "../model/types.ts";
import { UsageError } from "../cli/run-main.ts";
import { helmTemplateDeps } from "../render/helm-template.ts";
import { renderedRoot, RENDERED_DIRS } from "../render/layout.ts";
import { composeCluster, selectClusters } from "../render/pipeline.ts";
import { renderCluster, type RenderDeps, type RenderedTree } from "../render/render.ts";
import type { ValidateConfig } from "./config.ts";
import type { FileInput, Scope, ValidationFinding } from "./engine.ts";
import { parseYaml } from "../yaml-source.ts";
import { IMAGES_WORKFLOW, publishedImages, type PublishedImages } from "./images-workflow.ts";
import { asObj, asStringMap, isObj } from "./resource.ts";
import type { Platform, PlatformGateway } from "./resource-index.ts";
import type { RepoFacts } from "./rule.ts";
import { renderPlatform, type PlatformRender } from "../render/platform.ts";
import type { PlatformInput } from "../render/platform-input.ts";
import { unreadableFinding } from "../yaml-source.ts";
import { platformFindings } from "./platform-findings.ts";
import { NO_PROGRESS, type Progress } from "../cli/progress.ts";
import { chartKey, type ChartCrds } from "./chart-crd-schemas.ts";
import { effectiveExpectations } from "../behaviour/expectations.ts";
import type { BehaviourScope } from "../behaviour/layer.ts";

export interface RepoSelection {
  clusters?: string[];
  chapter?: string;
  /** Reports the render loop (clusters x chapters). */
  progress?: Progress;
}

const MANIFEST_DIRS = [
  RENDERED_DIRS.argocd,
  RENDERED_DIRS.bootstrap,
  RENDERED_DIRS.app,
  RENDERED_DIRS.mesh,
].map((d) => `${d}/`);

/** `helm template` is the slow step; the same release with the same values renders the same. */
function memoized(deps: RenderDeps): RenderDeps {
  const cache = new Map<string, Promise<string>>();
  return {
    templateLocalChart(release, valuesYaml) {
      const key = `${release.name}|${release.namespace}|${release.chart}|${valuesYaml}`;
      let p = cache.get(key);
      if (!p) {
        p = deps.templateLocalChart(release, valuesYaml);
        cache.set(key, p);
      }
      return p;
    },
  };
}

/** Gateway pods of the enabled `istio/gateway` releases, labelled the way the chart labels them. */
export function platformGateways(c: Composition): PlatformGateway[] {
  return c.releases
    .filter((r) => r.release.chartName === "gateway" && r.release.chart.startsWith("istio/"))
    .map((r) => {
      const values = asObj(r.values);
      const name = typeof values.name === "string" && values.name ? values.name : r.release.name;
      const overrides = isObj(values.labels) ? asStringMap(values.labels) : {};
      const labels = { app: name, istio: name.replace(/^istio-/, ""), ...overrides };
      return {
        namespace: r.release.namespace,
        labels,
        origin: `gateway pods of Helm release ${r.release.name} (${r.release.namespace})`,
        serviceAccount: name,
      };
    });
}

/**
 * What the rules may assume about the platform. Releases whose chart was rendered are seen as
 * they are; for the others (no platform render, or a chart not to be had offline) the gateway
 * pods are modelled from the values and their namespaces are opaque (their content is unknown).
 */
export function platformOf(c: Composition, config: ValidateConfig, platform?: PlatformRender): Platform {
  const seen = new Set(platform?.rendered.map((r) => r.release.name) ?? []);
  const unseen = c.releases.filter((r) => !r.release.local && !seen.has(r.release.name));
  return {
    gateways: [...platformGateways({ ...c, releases: unseen }), ...config.platformGateways],
    // kube-system holds the cluster's own components (CoreDNS, kube-proxy, the scheduler), which
    // no Application renders; charts point Services at them (kube-prometheus-stack's exporters).
    opaqueNamespaces: new Set([
      "kube-system",
      ...unseen.map((r) => r.release.namespace),
      ...config.opaqueNamespaces,
    ]),
    rootNamespace: config.rootNamespace,
    clusterDomain: config.clusterDomain,
  };
}

/**
 * What the images workflow publishes for one cluster (its repoURL names the owner the workflow
 * pushes under), read once per cluster. `v*` git tags trigger the workflow's semver tags.
 */
async function imagesOf(root: string): Promise<(cluster: Cluster) => PublishedImages | undefined> {
  const file = path.join(root, IMAGES_WORKFLOW);
  if (!existsSync(file)) return () => undefined;
  const text = readFileSync(file, "utf8");
  const gitTags = ((await new Git(root).try(["tag", "--list", "v*"])) ?? "").split("\n").filter(Boolean);
  const readFile = (rel: string) => {
    const p = path.join(root, rel);
    return existsSync(p) ? readFileSync(p, "utf8") : undefined;
  };
  const cache = new Map<string, PublishedImages>();
  return (cluster) => {
    const key = `${cluster.argocd.repoURL}|${cluster.images?.registry ?? ""}`;
    let facts = cache.get(key);
    if (!facts) {
      const owner = githubOwner(cluster.argocd.repoURL);
      facts = publishedImages(text, { ...(owner ? { owner } : {}), readFile, gitTags });
      if (cluster.images?.registry) facts.ownRegistry = cluster.images.registry;
      cache.set(key, facts);
    }
    return facts;
  };
}

function repoFacts(
  root: string,
  model: RepoModel,
  cluster: Cluster,
  files: RenderedTree,
  images: PublishedImages | undefined,
): RepoFacts {
  const prefix = `${renderedRoot(cluster.name)}/`;
  const keys = [...files.keys()];
  return {
    pathExists(p: string) {
      const clean = p.replace(/^\.\//, "").replace(/\/+$/, "");
      if (clean.startsWith(prefix) || `${clean}/` === prefix) {
        const rel = clean.slice(prefix.length);
        return rel === "" || files.has(rel) || keys.some((k) => k.startsWith(`${rel}/`));
      }
      return existsSync(path.join(root, clean));
    },
    clusterNames: new Set(
      model.clusters.map((c) => c.argocd.destination.name).filter((n): n is string => !!n),
    ),
    clusterServers: new Set(
      model.clusters.map((c) => c.argocd.destination.server).filter((n): n is string => !!n),
    ),
    repoURLs: new Set(model.clusters.map((c) => c.argocd.repoURL)),
    meshClusterIDs: new Set(
      model.clusters.filter((c) => c.istio.meshID === cluster.istio.meshID).map((c) => c.istio.clusterName),
    ),
    ...(images ? { publishedImages: images } : {}),
  };
}

async function listYaml(
  root: string,
  dir: string,
  filter: (rel: string) => boolean = () => true,
): Promise<string[]> {
  const full = path.join(root, dir);
  if (!existsSync(full)) return [];
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name === "node_modules" || e.name.startsWith(".") || e.name === "rendered") continue;
        await walk(child);
      } else if (/\.ya?ml$/.test(e.name) && filter(child)) out.push(child);
    }
  };
  await walk(dir);
  return out.sort();
}

/**
 * YAML files of the repository that are not rendered output: syntax, duplicate keys, limits.
 * Only regular files within the size limit are read; anything else (a link to /dev/zero, a FIFO,
 * a link loop) is a finding at the file.
 */
async function repoYamlFiles(
  root: string,
  maxBytes: number,
): Promise<{ files: FileInput[]; findings: Finding[] }> {
  const names = [
    ...(await listYaml(root, "mesh")),
    ...(await listYaml(root, "apps", (p) => !p.includes("/templates/"))),
    ...(await listYaml(root, ".github/workflows")),
  ];
  const files: FileInput[] = [];
  const findings: Finding[] = [];
  for (const f of names) {
    const read = await readRegularFile(path.join(root, f), maxBytes);
    if (read.ok) files.push({ file: f, text: read.text, kind: "yaml" as const });
    else findings.push(unreadableFinding(f, read.reason, read.hint));
  }
  return { files, findings };
}

/**
 * Findings of one composition that only follow from another of its mistakes: a patch whose target
 * a mesh file that does not parse would have defined (the composition reports that file's syntax
 * error), a `needs` a misspelt release would have met, a `helm template` that failed on a values
 * file that does not parse (one of `brokenFiles`). The root cause is reported instead; what it hid
 * shows up once it is fixed.
 */
export function withoutCascades(findings: readonly Finding[], brokenFiles: ReadonlySet<string>): Finding[] {
  const broken = findings.some((f) => f.rule === "yaml/syntax");
  const misspelt = findings.some((f) => f.rule === "compose/unknown-release");
  // helm names the file it could not read (`cannot load values.yaml`): that file's syntax error says it.
  const names = [...brokenFiles].map((b) => path.basename(b));
  const failedOnBroken = (f: Finding) =>
    f.rule.startsWith("render/") && names.some((n) => f.message.includes(n));
  return findings.filter(
    (f) =>
      !(broken && f.rule === "compose/patch-target") &&
      !(misspelt && f.rule === "compose/missing-need") &&
      !failedOnBroken(f),
  );
}

export interface RepoCollection {
  scopes: Scope[];
  findings: ValidationFinding[];
  /** The CRDs each rendered platform chart contains, by chart digest (chart-crd-schemas.ts). */
  chartCrds: ChartCrds[];
}

export async function collectRepo(
  root: string,
  config: ValidateConfig,
  selection: RepoSelection = {},
  deps: RenderDeps = helmTemplateDeps(root),
  /** The repository model, when the caller has loaded it already. */
  loaded?: Awaited<ReturnType<typeof loadRepo>>,
  platformInput?: PlatformInput,
): Promise<RepoCollection> {
  const findings: ValidationFinding[] = [];
  const { model, findings: modelFindings } = loaded ?? (await loadRepo(root));
  findings.push(...modelFindings);
  const yaml = await repoYamlFiles(root, config.limits.maxBytes);
  findings.push(...yaml.findings);
  const yamlFiles = yaml.files;
  // The repository files that do not parse, asked for only when a composition fails: the hardened
  // parser is slow, and a clean run never needs it.
  let broken: Set<string> | undefined;
  const brokenFiles = (): ReadonlySet<string> =>
    (broken ??= new Set(
      yamlFiles
        .filter((f) => parseYaml(f.text, f.file).findings.some((x) => x.rule === "yaml/syntax"))
        .map((f) => f.file),
    ));
  const scopes: Scope[] = [
    {
      files: yamlFiles,
      platform: platformOf({ releases: [] } as unknown as Composition, config),
      complete: false,
    },
  ];
  const chartCrds = new Map<string, Set<string>>();
  if (!model) return { scopes, findings, chartCrds: [] };

  const render = memoized(deps);
  const images = await imagesOf(root);
  const clusters = selectClusters(model, selection.clusters);
  let chapters = model.chapters;
  if (selection.chapter) {
    const ch = resolveChapterRef(selection.chapter, model.chapters);
    if (!ch)
      throw new UsageError(
        `unknown chapter '${selection.chapter}'; chapters: ${model.chapters.map((c) => c.dir).join(", ")}`,
      );
    chapters = [ch];
  }
  const step = (selection.progress ?? NO_PROGRESS).start(
    `rendering ${clusters.length} cluster(s) x ${chapters.length} chapter(s)${platformInput ? ", platform charts included" : ""}`,
    clusters.length * chapters.length,
  );
  let rendered = 0;
  /** Mesh and chapter of compositions that failed: their peers would miss what that cluster shares. */
  const failedGroups = new Set<string>();
  try {
    for (const cluster of clusters) {
      // The pin first: its findings point at committed files, and later chapters repeat them.
      const pinId = model.chapters.find((c) => c.dir === cluster.chapter)?.id ?? -1;
      const ordered = [...chapters].sort(
        (a, b) => Number(b.dir === cluster.chapter) - Number(a.dir === cluster.chapter) || a.id - b.id,
      );
      for (const chapter of ordered) {
        step.tick(rendered++);
        const pinned = chapter.dir === cluster.chapter;
        const pinNote = pinned ? undefined : chapter.id > pinId ? "ahead of its pin" : "behind its pin";
        let composition: Composition;
        let files: RenderedTree;
        let platform: PlatformRender | undefined;
        try {
          composition = await composeCluster(model, cluster, chapter.dir);
          files = await renderCluster(composition, render);
          if (platformInput)
            platform = await renderPlatform(
              composition,
              platformInput.packages,
              platformInput.deps,
              platformInput.cache,
            );
        } catch (e) {
          failedGroups.add(`${cluster.istio.meshID}|${chapter.dir}`);
          // Where it happened is structured data (context), not part of the message, so the
          // same mistake seen from every cluster and chapter merges into one finding.
          const where = {
            context: `cluster ${cluster.name} at chapter ${chapter.dir}${pinNote ? ` (${pinNote})` : ""}`,
          };
          if (e instanceof FindingsError) {
            findings.push(...withoutCascades(e.findings, brokenFiles()).map((f) => ({ ...f, ...where })));
            continue;
          }
          if (e instanceof UsageError) throw e;
          const message = (e as Error).message;
          // A render that fails because a source file does not parse adds nothing to that file's finding.
          if ([...brokenFiles()].some((b) => message.includes(path.basename(b)))) continue;
          findings.push({
            file: chapter.file,
            line: 1,
            column: 1,
            rule: "repo/model",
            severity: "error",
            anchors: [],
            message: `rendering failed: ${message}`,
            hint:
              "run `pnpm render --cluster " +
              cluster.name +
              " --chapter " +
              chapter.dir +
              " --out /tmp/render` to see the failure",
            ...where,
          });
          continue;
        }
        const base = renderedRoot(cluster.name);
        for (const r of platform?.rendered ?? []) {
          const texts = chartCrds.get(chartKey(r.locked)) ?? new Set<string>();
          for (const f of r.files) {
            const text = platform!.files.get(f);
            if (text && /^kind: CustomResourceDefinition$/m.test(text)) texts.add(text);
          }
          chartCrds.set(chartKey(r.locked), texts);
        }
        if (platform)
          findings.push(
            ...platformFindings(
              platform,
              base,
              `cluster ${cluster.name} at chapter ${chapter.dir}${pinNote ? ` (${pinNote})` : ""}`,
            ),
          );
        const context = `cluster ${cluster.name} at chapter ${chapter.dir}`;
        scopes.push({
          behaviour: behaviourScope(composition, files, platform, config, context, pinNote),
          files: [
            ...[...files].map(([rel, text]) => ({
              file: `${base}/${rel}`,
              text,
              kind: MANIFEST_DIRS.some((d) => rel.startsWith(d)) ? ("manifests" as const) : ("yaml" as const),
            })),
            ...[...(platform?.files ?? [])].map(([rel, text]) => ({
              file: `${base}/${rel}`,
              text,
              kind: "manifests" as const,
            })),
          ],
          platform: platformOf(composition, config, platform),
          complete: true,
          repo: repoFacts(root, model, cluster, files, images(cluster)),
          context,
          ...(pinNote ? { pinNote } : {}),
          peerGroup: `${cluster.istio.meshID}|${chapter.dir}`,
          cluster: cluster.name,
          chapterOrder: chapter.id,
          chapter: chapter.dir,
        });
        if (pinned) findings.push(...(await freshness(root, cluster, chapter.dir, files)));
      }
    }
  } finally {
    step.tick(rendered);
    step.end();
  }
  // A cluster whose composition failed at a chapter leaves its peers there without its services and
  // Argo CD settings: what they would report is a cascade of that failure, so they wait for its fix.
  const kept = scopes.filter((s) => !s.peerGroup || !failedGroups.has(s.peerGroup));
  return {
    scopes: kept,
    findings,
    chartCrds: [...chartCrds].map(([key, texts]) => ({ key, texts: [...texts] })),
  };
}

/** What the behaviour layer needs: the cluster's objects and the expectations in force at the chapter. */
function behaviourScope(
  composition: Composition,
  files: RenderedTree,
  platform: PlatformRender | undefined,
  config: ValidateConfig,
  context: string,
  pinNote: string | undefined,
): BehaviourScope {
  const { cluster, chapter } = composition;
  const base = renderedRoot(cluster.name);
  const istiod = composition.releases.find((r) => r.release.chartName === "istiod");
  const meshConfig = istiod ? asObj(istiod.values).meshConfig : undefined;
  // Istio's own releases the platform render lacks (no chart packages, or --no-platform): without
  // them the gateways and istiod's mesh config are unknown, and a verdict would be a guess.
  const rendered = new Set(platform?.rendered.map((r) => r.release.name) ?? []);
  const missing = composition.releases
    .filter((r) => !r.release.local && r.release.chart.startsWith("istio/") && !rendered.has(r.release.name))
    .map((r) => r.release.name);
  return {
    ...(missing.length ? { unrenderedIstio: missing } : {}),
    cluster: cluster.name,
    chapter: chapter.dir,
    chapterFile: chapter.file,
    context: context + (pinNote ? ` (${pinNote})` : ""),
    clusterDomain: config.clusterDomain,
    files: [
      ...[...files]
        .filter(([rel]) => MANIFEST_DIRS.some((d) => rel.startsWith(d)))
        .map(([rel, text]) => ({ file: `${base}/${rel}`, text })),
      ...[...(platform?.files ?? [])].map(([rel, text]) => ({ file: `${base}/${rel}`, text })),
    ],
    ...(isObj(meshConfig) ? { meshConfigValues: meshConfig } : {}),
    expectations: effectiveExpectations(composition.chapters, chapter.dir, cluster.role),
  };
}

/**
 * The committed clusters/<c>/rendered/ must be what the pinned chapter renders to. One exception:
 * a verified restore (see gitops/restored.ts: the commit carries `Mesh-Restored-From: <tag>` and
 * the output hashes to that tag's recorded rendered-sha256) is reported as warnings that name the
 * files whose sources have moved on since the tag.
 */
export async function freshness(
  root: string,
  cluster: Cluster,
  chapter: string,
  files: RenderedTree,
): Promise<Finding[]> {
  const base = renderedRoot(cluster.name);
  const committed = await readTree(path.join(root, base));
  const diff = diffTrees(committed, files);
  if (!diff.changed.length && !diff.added.length && !diff.removed.length) return [];
  const restore = await verifiedRestore(root, cluster.name, chapter, committed);
  const hint = restore
    ? "the sources have moved on since the tag; revert the source change, run `pnpm render` and commit"
    : "run `pnpm render` and commit the result";
  const note = restore
    ? ` (restored from ${restore.tag} by ${restore.commit.slice(0, 12)}, byte-for-byte that tag's output: the sources of this file moved on)`
    : "";
  const f = (rel: string, what: string): Finding => ({
    file: `${base}/${rel}`,
    line: 1,
    column: 1,
    rule: "repo/rendered-stale",
    severity: restore ? "warning" : "error",
    anchors: [],
    message: `${what} for cluster ${cluster.name} at its pinned chapter ${chapter}${note}`,
    hint,
  });
  return [
    ...diff.changed.map((r) => f(r, "committed rendered file differs from the render")),
    ...diff.added.map((r) => f(r, "rendered file is missing from the commit")),
    ...diff.removed.map((r) => f(r, "committed rendered file is no longer produced")),
  ];
}
