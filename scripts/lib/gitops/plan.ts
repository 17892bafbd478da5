/**
 * Pure decisions about chapter moves: which chapter a promotion goes to, and whether moving a
 * cluster's pin keeps every remote cluster at or behind its primary.
 */
import { RefusalError, UsageError } from "../cli/run-main.ts";
import { resolveChapterRef } from "../model/chapter.ts";
import { checkPins, type RepoModel } from "../model/repo.ts";
import type { Chapter, Cluster } from "../model/types.ts";

export function findCluster(model: RepoModel, name: string): Cluster {
  const c = model.clusters.find((x) => x.name === name);
  if (!c)
    throw new UsageError(
      `unknown cluster '${name}'; declared: ${model.clusters.map((x) => x.name).join(", ")}`,
    );
  return c;
}

export function chapterOf(model: RepoModel, dir: string): Chapter {
  const ch = model.chapters.find((c) => c.dir === dir);
  if (!ch)
    throw new RefusalError(
      `chapter '${dir}' does not exist (chapters: ${model.chapters.map((c) => c.dir).join(", ")})`,
    );
  return ch;
}

export interface PromotionPlan {
  cluster: Cluster;
  from: Chapter;
  to: Chapter;
  /** Chapters entered on the way: from+1 .. to. */
  passed: Chapter[];
}

/**
 * One chapter up (a remote: up to its primary's chapter), or up to `--to`; never down, never past
 * the last chapter, never remote ahead of primary.
 */
export function planPromotion(model: RepoModel, clusterName: string, toRef?: string): PromotionPlan {
  const cluster = findCluster(model, clusterName);
  const from = chapterOf(model, cluster.chapter);
  let to: Chapter | undefined;
  if (toRef === undefined && cluster.role === "remote") {
    to = remoteCatchUp(model, cluster, from);
  } else if (toRef === undefined) {
    to = model.chapters.find((c) => c.id === from.id + 1);
    if (!to)
      throw new RefusalError(
        `cluster '${cluster.name}' is at the last chapter (${from.dir}); there is nothing to promote to`,
      );
  } else {
    to = resolveChapterRef(toRef, model.chapters);
    if (!to)
      throw new UsageError(
        `unknown chapter '${toRef}'; chapters: ${model.chapters.map((c) => c.dir).join(", ")}`,
      );
    if (to.id === from.id) throw new RefusalError(`cluster '${cluster.name}' is already at ${from.dir}`);
    if (to.id < from.id) {
      throw new RefusalError(
        `--to ${to.dir} is behind ${cluster.name}'s chapter ${from.dir}; promotion only moves forward (use \`pnpm rollback ${cluster.name} --to <tag>\` to go back)`,
      );
    }
  }
  assertPinsAfterMove(model, cluster.name, to.dir);
  return { cluster, from, to, passed: model.chapters.filter((c) => c.id > from.id && c.id <= to.id) };
}

/**
 * A remote has nothing of its own to learn chapter by chapter: it follows its primary, and its pin
 * may never pass the primary's. One step at a time would make it walk through every chapter the
 * primary has already taken (the workshop's remote sits at 00 until the multicluster chapter), so
 * without `--to` it goes straight to the primary's chapter.
 */
function remoteCatchUp(model: RepoModel, cluster: Cluster, from: Chapter): Chapter {
  const primaryName = cluster.istio.primaryCluster;
  const primary = model.clusters.find((c) => c.name === primaryName);
  if (!primary)
    throw new RefusalError(
      `remote cluster '${cluster.name}' names '${primaryName ?? "(none)"}' as its primary, which is not declared`,
    );
  const target = chapterOf(model, primary.chapter);
  if (target.id <= from.id)
    throw new RefusalError(
      `remote cluster '${cluster.name}' is at ${from.dir}, its primary's chapter; it may not go ahead of its primary '${primary.name}': promote '${primary.name}' first`,
    );
  return target;
}

/** The clusters whose pins are tied to this one: a remote's primary, or a primary's remotes. */
export function pairedClusters(model: RepoModel, clusterName: string): string[] {
  const cluster = findCluster(model, clusterName);
  if (cluster.role === "remote") return cluster.istio.primaryCluster ? [cluster.istio.primaryCluster] : [];
  return model.clusters
    .filter((c) => c.role === "remote" && c.istio.primaryCluster === clusterName)
    .map((c) => c.name);
}

/** The model as it would be with one cluster pinned to another chapter. */
export function withChapter(model: RepoModel, clusterName: string, chapterDir: string): RepoModel {
  return {
    ...model,
    clusters: model.clusters.map((c) => (c.name === clusterName ? { ...c, chapter: chapterDir } : c)),
  };
}

/** Refuses a move that would leave a remote cluster ahead of its primary. */
export function assertPinsAfterMove(model: RepoModel, clusterName: string, chapterDir: string): void {
  const moved = withChapter(model, clusterName, chapterDir);
  const problems = checkPins(moved.clusters, moved.chapters).filter((f) => f.severity === "error");
  const before = new Set(checkPins(model.clusters, model.chapters).map((f) => f.message));
  const introduced = problems.filter((f) => !before.has(f.message));
  if (introduced.length) {
    const cluster = findCluster(model, clusterName);
    const why = introduced.map((f) => f.message).join("; ");
    const hint =
      cluster.role === "remote"
        ? `promote the primary '${cluster.istio.primaryCluster}' to ${chapterDir} first`
        : `roll the remote cluster(s) back first, or pick a tag at or after their chapter`;
    throw new RefusalError(`moving '${clusterName}' to ${chapterDir} would break the pins: ${why}. ${hint}`);
  }
}
