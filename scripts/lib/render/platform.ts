/**
 * The platform render: what Argo CD's repo server produces for each enabled upstream chart, in
 * memory, for validation and inspection (`pnpm render --platform DIR`); never committed. For each
 * release: `helm template` of the locked package with the release name and namespace, the
 * composed values file the Application reads, `--include-crds` (Argo CD's default), the cluster's
 * Kubernetes version, and the API versions of the CRDs earlier sync waves install (Argo CD passes
 * the cluster's discovered API versions; in steady state those include every platform CRD).
 * Each object gets the namespace Argo CD would give it and the annotation Argo CD 3 tracks it by.
 */
import { createHash } from "node:crypto";
import type { Composition } from "../compose/compose.ts";
import { sortKeysDeep } from "../compose/values.ts";
import type { Finding } from "../findings.ts";
import type { ChartPackages } from "../charts/packages.ts";
import type { LockedChart } from "../charts/lock.ts";
import { syncWaves, type HelmRelease } from "../model/helmfile.ts";
import { applicationName } from "./argocd.ts";
import { objectFileName } from "./layout.ts";
import { splitManifests, type RenderedTree } from "./render.ts";
import { renderDocument, toYaml } from "./serialize.ts";

export const PLATFORM_DIR = "platform";
export const TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id";

export interface ChartTemplateRequest {
  release: HelmRelease;
  locked: LockedChart;
  packagePath: string;
  valuesYaml: string;
  kubeVersion: string;
  apiVersions: string[];
}

export interface ChartTemplateResult {
  output: string;
  /**
   * Objects whose content differed between two renders of the same request (random strings,
   * generated certificates, `lookup`): Argo CD would show them OutOfSync forever.
   */
  unstable?: Array<{ apiVersion: string; kind: string; namespace: string; name: string; template: string }>;
}

export interface PlatformDeps {
  templateChart(req: ChartTemplateRequest): Promise<ChartTemplateResult>;
}

/** One release's objects as the scope sees them: files, the CRD API versions, unstable objects. */
export interface ReleaseObjects {
  files: Array<[string, string]>;
  crdApiVersions: string[];
  unstable: NonNullable<ChartTemplateResult["unstable"]>;
}

/**
 * Processed renders by request: parsing and re-serialising a chart's output costs seconds for
 * the CRD-heavy charts, and the same release with the same values recurs in many chapters.
 */
export interface ReleaseCache {
  get(key: string): Promise<ReleaseObjects | undefined>;
  set(key: string, value: ReleaseObjects): Promise<void>;
}

export function releaseKey(req: ChartTemplateRequest, app: string): string {
  return createHash("sha256")
    .update(
      [
        app,
        req.locked.digest,
        req.release.name,
        req.release.namespace,
        req.valuesYaml,
        req.kubeVersion,
        req.apiVersions.join(","),
      ].join("\0"),
    )
    .digest("hex");
}

function releaseObjects(output: string, release: HelmRelease, app: string, chartRef: string): ReleaseObjects {
  const files: Array<[string, string]> = [];
  const seen = new Set<string>();
  const crdApiVersionsOut: string[] = [];
  for (const { object, source } of splitManifests(output, release.namespace)) {
    const annotations = (object.metadata.annotations ?? {}) as Record<string, string>;
    object.metadata.annotations = { ...annotations, [TRACKING_ANNOTATION]: trackingId(app, object) };
    if (object.kind === "CustomResourceDefinition") crdApiVersionsOut.push(...crdApiVersions(object));
    let file = `${PLATFORM_DIR}/${release.name}/${objectFileName(object)}`;
    // A chart may render an object twice (a bug Argo CD reports as a sync error); keep both.
    for (let n = 2; seen.has(file); n++)
      file = `${PLATFORM_DIR}/${release.name}/${objectFileName(object).replace(/\.yaml$/, `~${n}.yaml`)}`;
    seen.add(file);
    files.push([
      file,
      renderDocument(object, [
        `${chartRef}/${source}`,
        `(${app}, rendered in memory like Argo CD's repo server)`,
      ]),
    ]);
  }
  return { files, crdApiVersions: crdApiVersionsOut, unstable: [] };
}

export interface PlatformRelease {
  release: HelmRelease;
  application: string;
  locked: LockedChart;
  /** Paths under PLATFORM_DIR/<release>/ of this release's objects. */
  files: string[];
  unstable: NonNullable<ChartTemplateResult["unstable"]>;
}

export interface PlatformRender {
  /** `platform/<release>/<ns>/<kind>-<name>.yaml` -> content. */
  files: RenderedTree;
  rendered: PlatformRelease[];
  /** Releases whose chart could not be had offline: not validated. */
  missing: Array<{ release: HelmRelease; reason: string }>;
  /** helm template failures, at the release in helmfile.yaml. */
  findings: Finding[];
}

function trackingId(
  app: string,
  o: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
) {
  const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : "";
  return `${app}:${group}/${o.kind}:${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

/** `group/version` of every version a CRD serves. */
function crdApiVersions(o: Record<string, unknown>): string[] {
  const spec = (o.spec ?? {}) as { group?: unknown; versions?: unknown };
  if (typeof spec.group !== "string" || !Array.isArray(spec.versions)) return [];
  return spec.versions
    .map((v) => v as { name?: unknown; served?: unknown })
    .filter((v) => typeof v.name === "string" && v.served !== false)
    .map((v) => `${String(spec.group)}/${String(v.name)}`);
}

export async function renderPlatform(
  c: Composition,
  packages: ChartPackages,
  deps: PlatformDeps,
  cache?: ReleaseCache,
): Promise<PlatformRender> {
  const upstream = c.releases.filter((r) => !r.release.local);
  const waves = syncWaves(c.releases.map((r) => r.release));
  const ordered = [...upstream].sort(
    (a, b) =>
      (waves.get(a.release.name) ?? 0) - (waves.get(b.release.name) ?? 0) ||
      (a.release.name < b.release.name ? -1 : 1),
  );
  const out: PlatformRender = { files: new Map(), rendered: [], missing: [], findings: [] };
  // Argo CD's own CRDs exist on the cluster that runs it before any Application syncs.
  const apiVersions = new Set<string>(c.cluster.role === "primary" ? ["argoproj.io/v1alpha1"] : []);
  let waveOf = -1;
  let pending: string[] = [];
  for (const r of ordered) {
    const w = waves.get(r.release.name) ?? 0;
    if (w !== waveOf) {
      for (const v of pending) apiVersions.add(v);
      pending = [];
      waveOf = w;
    }
    const state = await packages.of(r.release);
    if ("missing" in state) {
      out.missing.push({ release: r.release, reason: state.missing });
      continue;
    }
    const app = applicationName(c.cluster, r.release.name);
    const chartRef = `${state.locked.chart}-${state.locked.version}`;
    const req: ChartTemplateRequest = {
      release: r.release,
      locked: state.locked,
      packagePath: state.package.path,
      valuesYaml: toYaml(sortKeysDeep(r.values)),
      kubeVersion: c.cluster.kubernetesVersion,
      apiVersions: [...apiVersions].sort(),
    };
    const key = releaseKey(req, app);
    let objects = await cache?.get(key);
    if (!objects) {
      let result: ChartTemplateResult;
      try {
        result = await deps.templateChart(req);
      } catch (e) {
        out.findings.push({
          ...r.release.position,
          rule: "render/helm-template",
          severity: "error",
          anchors: [],
          message: `helm template of platform release '${r.release.name}' (${state.locked.chart} ${state.locked.version}) failed for cluster ${c.cluster.name} at chapter ${c.chapter.dir}: ${(e as Error).message}`,
          hint: "fix the values the chapters give this release (see `pnpm render --platform DIR` for the others)",
        });
        continue;
      }
      objects = {
        ...releaseObjects(result.output, r.release, app, chartRef),
        unstable: result.unstable ?? [],
      };
      await cache?.set(key, objects);
    }
    pending.push(...objects.crdApiVersions);
    for (const [file, text] of objects.files) out.files.set(file, text);
    out.rendered.push({
      release: r.release,
      application: app,
      locked: state.locked,
      files: objects.files.map(([f]) => f),
      unstable: objects.unstable,
    });
  }
  return out;
}
