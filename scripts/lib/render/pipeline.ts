/**
 * load -> compose -> render for a set of clusters: the sequence every command that needs
 * "what would cluster X get" goes through (render, validate, promote, rollback).
 */
import { compose, type Composition } from "../compose/compose.ts";
import { FindingsError } from "../findings.ts";
import { resolveChapterRef } from "../model/chapter.ts";
import { loadRepoOrThrow, readMeshFiles, type RepoModel } from "../model/repo.ts";
import type { Cluster } from "../model/types.ts";
import { UsageError } from "../cli/run-main.ts";
import { helmTemplateDeps } from "./helm-template.ts";
import { renderCluster, type RenderDeps, type RenderedTree } from "./render.ts";

export interface ClusterRender {
  cluster: Cluster;
  composition: Composition;
  files: RenderedTree;
}

export interface RenderSelection {
  /** Cluster names; all clusters when empty. */
  clusters?: string[];
  /** Chapter override (`5`, `05` or a folder name) instead of each cluster's pin. */
  chapter?: string;
}

export function selectClusters(model: RepoModel, names: readonly string[] = []): Cluster[] {
  if (names.length === 0) return model.clusters;
  return names.map((n) => {
    const c = model.clusters.find((x) => x.name === n);
    if (!c)
      throw new UsageError(
        `unknown cluster '${n}'; declared: ${model.clusters.map((x) => x.name).join(", ")}`,
      );
    return c;
  });
}

export async function composeCluster(
  model: RepoModel,
  cluster: Cluster,
  chapterRef?: string,
): Promise<Composition> {
  const target = resolveChapterRef(chapterRef ?? cluster.chapter, model.chapters);
  if (!target) {
    throw new UsageError(
      `unknown chapter '${chapterRef ?? cluster.chapter}'; chapters: ${model.chapters.map((c) => c.dir).join(", ")}`,
    );
  }
  const upTo = model.chapters.filter((c) => c.id <= target.id);
  const meshFiles = await readMeshFiles(model.root, upTo);
  const { composition, findings } = compose({
    cluster,
    chapters: model.chapters,
    target,
    releases: model.helmfile.releases,
    meshFiles,
  });
  if (!composition) throw new FindingsError(findings);
  return composition;
}

export async function renderClusters(
  root: string,
  selection: RenderSelection = {},
  deps: RenderDeps = helmTemplateDeps(root),
  model?: RepoModel,
): Promise<ClusterRender[]> {
  const repo = model ?? (await loadRepoOrThrow(root));
  const out: ClusterRender[] = [];
  for (const cluster of selectClusters(repo, selection.clusters)) {
    const composition = await composeCluster(repo, cluster, selection.chapter);
    out.push({ cluster, composition, files: await renderCluster(composition, deps) });
  }
  return out;
}
