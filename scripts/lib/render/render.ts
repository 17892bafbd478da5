/**
 * Rendering: a composition becomes the exact files Argo CD applies, as a map from path (relative
 * to clusters/<name>/rendered/) to content. Pure but for the one injected step that runs
 * `helm template` on local charts.
 */
import { parseAllDocuments } from "yaml";
import type { Composition, KubeObject } from "../compose/compose.ts";
import { sortKeysDeep } from "../compose/values.ts";
import { syncWaves, type HelmRelease } from "../model/helmfile.ts";
import { appProject, directoryApplication, platformApplication, rootApplication } from "./argocd.ts";
import { chartSyncPolicy } from "./argocd-policy.ts";
import { CLUSTER_SCOPED_KINDS } from "../kube/kinds.ts";
import { FindingsError } from "../findings.ts";
import { objectFileName, renderedRoot, RENDERED_DIRS } from "./layout.ts";
import { generatedHeader, renderDocument, toYaml } from "./serialize.ts";

export type RenderedTree = Map<string, string>;

/** Default namespace of the mesh Application; every mesh resource names its own. */
const MESH_APP_NAMESPACE = "istio-system";

export interface RenderDeps {
  /** Runs `helm template` for a local chart with the given values (YAML) and returns its output. */
  templateLocalChart(release: HelmRelease, valuesYaml: string): Promise<string>;
}

export async function renderCluster(c: Composition, deps: RenderDeps): Promise<RenderedTree> {
  const { cluster } = c;
  const files: RenderedTree = new Map();
  const root = renderedRoot(cluster.name);
  // The chapter is stated once, in helmfile-environment.yaml: a header line naming it in every
  // file would make most files of a promotion comment-only changes (issue 16).
  const enabled = c.releases.map((r) => r.release);
  const waves = syncWaves(enabled);
  const platformWaveEnd = Math.max(-1, ...waves.values());
  const namespaces = new Set<string>();
  const sourceRepos = new Set<string>([cluster.argocd.repoURL]);

  // Values files: read by the Argo CD Applications and by `helmfile -e <cluster>`.
  for (const r of c.releases) {
    const sources = ["helmfile.yaml", ...r.chapters.map((ch) => `chapters/${ch}/chapter.yaml`)];
    files.set(
      `${RENDERED_DIRS.values}/${r.release.name}.yaml`,
      generatedHeader(sources) + toYaml(sortKeysDeep(r.values)),
    );
    namespaces.add(r.release.namespace);
  }
  files.set(
    "helmfile-environment.yaml",
    generatedHeader([`clusters/${cluster.name}/cluster.yaml`]) +
      toYaml({
        cluster: { name: cluster.name, role: cluster.role, chapter: c.chapter.dir, istio: cluster.istio },
        releases: Object.fromEntries(enabled.map((r) => [r.name, { installed: true }]).sort()),
      }),
  );

  for (const r of c.releases) {
    const release = r.release;
    if (release.local) continue;
    if (release.repoURL) sourceRepos.add(release.repoURL);
    for (const ns of chartSyncPolicy(release.chart).extraNamespaces) namespaces.add(ns);
    const app = platformApplication(cluster, release, waves.get(release.name) ?? 0, r.namespaceMetadata);
    files.set(`${RENDERED_DIRS.argocd}/${release.name}.yaml`, renderDocument(app, ["helmfile.yaml"]));
  }

  const meshWave = platformWaveEnd + 1;
  const appWave = platformWaveEnd + 2;
  for (const m of c.mesh) {
    const file = `${RENDERED_DIRS.mesh}/${objectFileName(m.object)}`;
    const sources = [
      `${m.source.file} (added in ${m.source.chapter})`,
      ...m.patchedBy.map((ch) => `chapters/${ch}/chapter.yaml (patches)`),
    ];
    files.set(file, renderDocument(m.object, sources));
    if (m.object.metadata.namespace) namespaces.add(m.object.metadata.namespace);
    if (m.object.kind === "Namespace") namespaces.add(m.object.metadata.name);
  }
  if (c.mesh.length) {
    // Custom resources whose CRDs arrive in the same sync would fail Argo CD's dry run.
    const app = directoryApplication(cluster, "mesh", RENDERED_DIRS.mesh, MESH_APP_NAMESPACE, meshWave, [
      "SkipDryRunOnMissingResource=true",
    ]);
    namespaces.add(MESH_APP_NAMESPACE);
    files.set(`${RENDERED_DIRS.argocd}/mesh.yaml`, renderDocument(app, ["mesh/"]));
  }

  for (const r of c.releases) {
    if (!r.release.local) continue;
    const valuesYaml = toYaml(sortKeysDeep(r.values));
    const output = await deps.templateLocalChart(r.release, valuesYaml);
    for (const { object, source } of splitManifests(output, r.release.namespace)) {
      const file = `${RENDERED_DIRS.app}/${r.release.name}/${objectFileName(object)}`;
      if (files.has(file)) {
        // Two objects of one kind and name would overwrite each other's file; say so instead.
        throw new FindingsError([
          {
            ...r.release.position,
            rule: "render/duplicate-object",
            severity: "error",
            anchors: [],
            message: `the chart of release '${r.release.name}' renders ${object.kind} '${object.metadata.namespace ?? ""}/${object.metadata.name}' twice (${source})`,
            hint: "give the objects distinct names in the chart or its values",
          },
        ]);
      }
      files.set(file, renderDocument(object, [`${r.release.chart.replace(/\/$/, "")}/${source}`]));
      if (object.metadata.namespace) namespaces.add(object.metadata.namespace);
    }
    const app = directoryApplication(
      cluster,
      r.release.name,
      `${RENDERED_DIRS.app}/${r.release.name}`,
      r.release.namespace,
      appWave,
    );
    files.set(`${RENDERED_DIRS.argocd}/${r.release.name}.yaml`, renderDocument(app, ["helmfile.yaml"]));
    namespaces.add(r.release.namespace);
  }

  files.set(
    `${RENDERED_DIRS.argocd}/project.yaml`,
    renderDocument(appProject(cluster, [...sourceRepos], [...namespaces]), [
      `clusters/${cluster.name}/cluster.yaml`,
    ]),
  );
  files.set(
    `${RENDERED_DIRS.bootstrap}/root.yaml`,
    renderDocument(rootApplication(cluster), [
      `clusters/${cluster.name}/cluster.yaml`,
      `apply once with \`pnpm bootstrap\` or \`kubectl apply -f ${root}/argocd/project.yaml -f ${root}/bootstrap/root.yaml\``,
    ]),
  );
  // Code-point order, not localeCompare: the same on every machine whatever its ICU data.
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Splits `helm template` output into objects, remembering each one's template file. */
export function splitManifests(
  output: string,
  namespace: string,
): Array<{ object: KubeObject; source: string }> {
  const result: Array<{ object: KubeObject; source: string }> = [];
  for (const doc of parseAllDocuments(output)) {
    if (!("toJS" in doc)) continue;
    const object = doc.toJS() as KubeObject | null;
    if (!object || typeof object !== "object" || !object.kind) continue;
    const contents = doc.contents as { commentBefore?: string | null } | null;
    const comment = `${doc.commentBefore ?? ""}\n${contents?.commentBefore ?? ""}`;
    const source = /Source:\s*(\S+)/.exec(comment)?.[1]?.replace(/^[^/]+\//, "") ?? "(chart)";
    if (!object.metadata.namespace && !CLUSTER_SCOPED_KINDS.has(object.kind)) {
      object.metadata.namespace = namespace;
    }
    result.push({ object, source });
  }
  return result;
}
