/**
 * `pnpm rollback <cluster> --to <tag> | --steps K`: restore the cluster's chapter pin and its whole
 * rendered tree from a mesh tag as a new, validated commit, on `rollback/<cluster>/<tag-suffix>`
 * (a pull request) or, with `--direct`, on the current branch. A roll-forward: Argo CD syncs it
 * like any other commit, auto-sync and app-of-apps included.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { RefusalError, UsageError } from "../cli/run-main.ts";
import { FindingsError } from "../findings.ts";
import { diffTrees, readTree } from "../fs/tree.ts";
import { loadRepoOrThrow, type RepoModel } from "../model/repo.ts";
import type { Chapter } from "../model/types.ts";
import { helmTemplateDeps } from "../render/helm-template.ts";
import { renderedRoot } from "../render/layout.ts";
import { renderClusters } from "../render/pipeline.ts";
import type { RenderDeps } from "../render/render.ts";
import { readClusterChapter, setClusterChapter } from "./cluster-yaml.ts";
import { Git } from "./git.ts";
import { ChangeGuard } from "./interrupt.ts";
import { listClusterTags, type MeshTag } from "./mesh-tags.ts";
import { rollbackBody, rollbackCommitMessage, rollbackTitle, type RollbackText } from "./messages.ts";
import { assertPinsAfterMove, chapterOf, findCluster, pairedClusters, withChapter } from "./plan.ts";
import { publishBranch, type PublishResult } from "./publish.ts";
import { resourceChanges, type ResourceChange } from "./resources.ts";
import { parseTagName, renderedHash, tagSuffix } from "./tags.ts";
import { validateStep, validatorModule, writeAndValidate, type ValidationOutcome } from "./validate-step.ts";
import {
  commitChange,
  preflight,
  pushBranch,
  type ChangeCommandOptions,
  type Preflight,
} from "./workspace.ts";

export interface RollbackOptions extends ChangeCommandOptions {
  cluster: string;
  /** A tag name (`mesh/primary/0003-02-routing`) or its suffix (`0003-02-routing`). */
  to?: string;
  /** How many tagged states to go back from the current one. */
  steps?: number;
  /** Commit on the current branch and push it, without a pull request. */
  direct?: boolean;
}

export interface RollbackResult {
  tag: MeshTag;
  fromChapter: string;
  toChapter: Chapter;
  branch?: string;
  changes: ResourceChange[];
  drift: string[];
  validation: ValidationOutcome;
  title: string;
  body: string;
  dryRun: boolean;
  commit?: string;
  publish?: PublishResult;
}

export function rollbackBranch(tag: MeshTag): string {
  return `rollback/${tag.cluster}/${tagSuffix(tag)}`;
}

export async function rollback(root: string, o: RollbackOptions): Promise<RollbackResult> {
  const log = o.log ?? (() => {});
  if ((o.to === undefined) === (o.steps === undefined))
    throw new UsageError("give exactly one of --to <tag> and --steps K");
  // From here until the result, a signal undoes everything (interrupt.ts); a dry run writes nothing.
  const guard = o.dryRun ? undefined : new ChangeGuard(log);
  try {
    return await rollbackGuarded(root, o, log, guard);
  } finally {
    guard?.finish();
  }
}

async function rollbackGuarded(
  root: string,
  o: RollbackOptions,
  log: (line: string) => void,
  guard: ChangeGuard | undefined,
): Promise<RollbackResult> {
  const git = new Git(root, o.env ?? process.env, guard);
  const deps = o.renderDeps ?? helmTemplateDeps(root);
  const model = await loadRepoOrThrow(root);
  const cluster = findCluster(model, o.cluster);
  const guardClusters = [cluster.name, ...pairedClusters(model, cluster.name)];
  const renderedRel = renderedRoot(cluster.name);
  const pre = o.dryRun
    ? undefined
    : await preflight(git, { fetchTags: true, guardClusters, replacedDirs: [renderedRel], log });
  const renderedDir = path.join(root, renderedRoot(cluster.name));
  const current = await readTree(renderedDir);
  const tags = await listClusterTags(git, cluster.name);
  const tag =
    o.to !== undefined
      ? await tagByName(git, cluster.name, o.to, tags)
      : tagBySteps(cluster.name, o.steps!, tags, current);

  await assertTrustedTag(git, tag, o.env ?? process.env);
  const tagClusterYaml = await git.showFile(tag.commit, cluster.file);
  if (tagClusterYaml === undefined) throw new RefusalError(`${tag.name} has no ${cluster.file}`);
  const chapterDir = readClusterChapter(tagClusterYaml);
  const restored = await git.treeAt(tag.commit, renderedRoot(cluster.name));
  if (renderedHash(restored) !== tag.renderedSha256) {
    throw new RefusalError(
      `the rendered output at ${tag.name} does not match the hash recorded in the tag; refusing to restore it`,
    );
  }
  const toChapter = chapterOf(model, chapterDir);
  assertPinsAfterMove(model, cluster.name, chapterDir);
  const changes = resourceChanges(current, restored);
  if (changes.length === 0 && cluster.chapter === chapterDir) {
    throw new RefusalError(
      `${cluster.name} already matches ${tag.name} (chapter ${chapterDir}); nothing to roll back`,
    );
  }
  const drift = await sourceDrift(root, model, cluster.name, chapterDir, restored, deps);
  const branch = o.direct ? undefined : rollbackBranch(tag);
  const clusterFile = path.join(root, cluster.file);
  const clusterText = setClusterChapter(await readFile(clusterFile, "utf8"), chapterDir);
  const validatorOptions = {
    clusters: [cluster.name],
    chapter: chapterDir,
    restoredClusters: [cluster.name],
    renderDeps: deps,
    ...(o.env ? { env: o.env } : {}),
    ...validatorModule(o),
  };
  const text = (validation: ValidationOutcome): RollbackText => ({
    cluster: cluster.name,
    tag: tag.name,
    tagCommit: tag.commit,
    fromChapter: cluster.chapter,
    toChapter,
    changes,
    validation,
    drift,
  });
  const base = {
    tag,
    fromChapter: cluster.chapter,
    toChapter,
    changes,
    drift,
    title: rollbackTitle({ cluster: cluster.name, tag: tag.name, toChapter }),
  };

  if (!pre) {
    const validation = await validateStep(root, validatorOptions);
    return {
      ...base,
      ...(branch ? { branch } : {}),
      validation,
      body: rollbackBody(text(validation)),
      dryRun: true,
    };
  }
  if (branch) await assertBranchFree(git, pre, branch);

  let validation: ValidationOutcome | undefined;
  const commit = await commitChange(git, {
    pre,
    ...(branch ? { branch } : {}),
    paths: [`clusters/${cluster.name}`],
    log,
    ...(guard ? { guard } : {}),
    apply: async () => {
      validation = await writeAndValidate(
        root,
        { clusterFile, clusterText, renderedDir, files: restored },
        validatorOptions,
        "rollback",
        log,
        guard,
      );
      return rollbackCommitMessage(text(validation));
    },
  });
  const body = rollbackBody(text(validation!));
  const result: RollbackResult = {
    ...base,
    ...(branch ? { branch } : {}),
    validation: validation!,
    body,
    dryRun: false,
    commit,
  };
  if (branch) {
    log(`committed ${commit.slice(0, 12)} on ${branch}`);
    result.publish = await publishBranch(git, {
      pre,
      guardClusters,
      branch,
      title: base.title,
      body,
      noPr: o.noPr,
      env: o.env,
      fetchImpl: o.fetchImpl,
      log,
      commit,
      ...(guard ? { guard } : {}),
    });
    return result;
  }
  log(`committed ${commit.slice(0, 12)} on ${pre.branch}`);
  if (!pre.hasOrigin) return { ...result, publish: { pushed: false } };
  // Interrupted while (or right after) pushing, before the command reported anything: origin's
  // branch goes back to where it was, but only while it still holds this commit.
  guard?.onUndo(`put '${pre.base}' on origin back`, async () => {
    await git
      .ungated()
      .try([
        "push",
        "--quiet",
        `--force-with-lease=refs/heads/${pre.base}:${commit}`,
        "origin",
        `${pre.head}:refs/heads/${pre.base}`,
      ]);
  });
  const pushed = await pushBranch(git, pre.branch, pre.base);
  if (!pushed.pushed) {
    throw new RefusalError(
      `committed the rollback on '${pre.branch}' (${commit.slice(0, 12)}), but origin refused the push:\n  ${pushed.reason}\n` +
        `Nothing is lost: run \`git pull --rebase\` and \`git push\`, or \`git reset --hard ${pre.head.slice(0, 12)}\` to drop the commit.`,
    );
  }
  return { ...result, publish: { pushed: true } };
}

async function tagByName(git: Git, cluster: string, ref: string, tags: readonly MeshTag[]): Promise<MeshTag> {
  const name = ref.replace(/^refs\/tags\//, "");
  const full = name.includes("/") ? name : `mesh/${cluster}/${name}`;
  const parsed = parseTagName(full);
  if (!parsed) {
    const exists = await git.revParse(`refs/tags/${name}`);
    throw new RefusalError(
      exists
        ? `'${name}' is not a mesh tag (mesh/<cluster>/<seq>-<chapter>); \`pnpm history ${cluster}\` lists the tags of ${cluster}`
        : `unknown tag '${name}'; \`pnpm history ${cluster}\` lists the tags of ${cluster}`,
    );
  }
  if (parsed.cluster !== cluster) {
    throw new RefusalError(`tag '${parsed.name}' belongs to cluster '${parsed.cluster}', not '${cluster}'`);
  }
  const tag = tags.find((t) => t.name === parsed.name);
  if (!tag)
    throw new RefusalError(
      `unknown tag '${parsed.name}'; \`pnpm history ${cluster}\` lists the tags of ${cluster}`,
    );
  return tag;
}

/**
 * K tagged states back from where the cluster is now. When the newest tag is the current state
 * (same rendered hash), `--steps 1` is the tag before it; when there are untagged changes since,
 * `--steps 1` is the newest tag.
 */
export function tagBySteps(
  cluster: string,
  steps: number,
  tags: readonly MeshTag[],
  current: ReadonlyMap<string, string>,
): MeshTag {
  if (!Number.isInteger(steps) || steps < 1)
    throw new UsageError(`--steps must be a whole number of at least 1, not ${steps}`);
  if (tags.length === 0)
    throw new RefusalError(
      `cluster '${cluster}' has no tags yet; run \`pnpm tag ${cluster}\` after a promotion`,
    );
  const atNewest = tags[0]!.renderedSha256 !== undefined && tags[0]!.renderedSha256 === renderedHash(current);
  const index = atNewest ? steps : steps - 1;
  const tag = tags[index];
  if (!tag) {
    throw new RefusalError(
      `cannot go back ${steps} step(s): ${cluster} has ${tags.length} tag(s)${atNewest ? `, and is at the newest (${tags[0]!.name})` : ""}`,
    );
  }
  return tag;
}

/** Restored files that differ from what today's sources render at the restored chapter. */
async function sourceDrift(
  root: string,
  model: RepoModel,
  cluster: string,
  chapterDir: string,
  restored: ReadonlyMap<string, string>,
  deps: RenderDeps,
): Promise<string[]> {
  try {
    const [r] = await renderClusters(
      root,
      { clusters: [cluster] },
      deps,
      withChapter(model, cluster, chapterDir),
    );
    const d = diffTrees(restored, r!.files);
    return [...d.changed, ...d.added, ...d.removed].sort();
  } catch (e) {
    if (e instanceof FindingsError)
      return [
        `(today's sources do not render ${chapterDir}: ${e.findings[0]?.message ?? "see pnpm validate"})`,
      ];
    throw e;
  }
}

/**
 * A tag is restored only when it is what `pnpm tag` made and the team merged: an annotated tag
 * (a lightweight one carries no record and can be pointed anywhere by anyone with push rights),
 * whose record names the tagged commit and a rendered hash, on a commit reachable from main (a
 * tag moved to a commit that never went through review is refused, whatever hash it records).
 * With `GITOPS_VERIFY_TAGS=1` (or `git config gitops.verifyTags true`) its signature must verify
 * (`git tag -v`), for teams that sign their tags.
 */
export async function assertTrustedTag(git: Git, tag: MeshTag, env: NodeJS.ProcessEnv): Promise<void> {
  if (!tag.annotated) {
    throw new RefusalError(
      `${tag.name} is a lightweight tag, not one made by \`pnpm tag\` (an annotated tag with the rendered hash); refusing to restore it. ` +
        `Check who replaced it (\`git ls-remote --tags origin ${tag.name}\`) and delete or re-create it`,
    );
  }
  if (!tag.renderedSha256 || tag.recordedCommit !== tag.commit) {
    throw new RefusalError(
      `${tag.name} ${!tag.renderedSha256 ? "records no rendered hash" : `records commit ${tag.recordedCommit?.slice(0, 12) ?? "(none)"} but points at ${tag.commit.slice(0, 12)}`}; ` +
        `refusing to restore it (was the tag moved?)`,
    );
  }
  const main = await mainRef(git);
  if (!(await git.ok(["merge-base", "--is-ancestor", tag.commit, main]))) {
    throw new RefusalError(
      `${tag.name} points at ${tag.commit.slice(0, 12)}, which is not on ${main.replace(/^refs\/(remotes|heads)\//, "")}: ` +
        `only reviewed, merged states are restored; refusing it (was the tag moved?)`,
    );
  }
  const verify =
    env.GITOPS_VERIFY_TAGS === "1" || (await git.try(["config", "--bool", "gitops.verifyTags"])) === "true";
  if (verify && !(await git.ok(["tag", "-v", tag.name]))) {
    throw new RefusalError(
      `${tag.name} has no valid signature (\`git tag -v ${tag.name}\`), and this repository requires signed tags (gitops.verifyTags)`,
    );
  }
}

/** origin's main when this clone has it, else the local main, else HEAD. */
async function mainRef(git: Git): Promise<string> {
  for (const ref of ["refs/remotes/origin/main", "refs/heads/main"]) if (await git.revParse(ref)) return ref;
  return "HEAD";
}

async function assertBranchFree(git: Git, pre: Preflight, branch: string): Promise<void> {
  if (await git.localBranchExists(branch)) {
    throw new RefusalError(
      `a local branch '${branch}' already exists; delete it with \`git branch -D ${branch}\` or push it`,
    );
  }
  if (pre.hasOrigin && (await git.remoteBranches("origin", branch)).length) {
    throw new RefusalError(`origin already has a branch '${branch}': that rollback is already open`);
  }
}
