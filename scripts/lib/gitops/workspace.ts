/**
 * The git side of promote and rollback, as all-or-nothing steps:
 *  - preflight: refuse on a dirty tree, a detached HEAD, a branch behind (or ahead of) its upstream
 *    (or origin/<branch> when it has none), or an open promote/rollback branch on origin for the
 *    cluster or its paired clusters;
 *  - commitChange: write, validate and commit on a new branch (or the current one), and on any
 *    failure (or SIGINT/SIGTERM) put the working tree, the index and the branch list back the way
 *    they were;
 *  - pushBranch: push, reporting a refusal (someone else got there first) without losing the commit.
 */
import { RefusalError } from "../cli/run-main.ts";
import type { RenderDeps } from "../render/render.ts";
import { GitError, type Git } from "./git.ts";
import type { ChangeGuard } from "./interrupt.ts";

export type Log = (line: string) => void;

/** What promote and rollback both take besides their own target. */
export interface ChangeCommandOptions {
  dryRun?: boolean;
  noPr?: boolean;
  env?: NodeJS.ProcessEnv;
  log?: Log;
  fetchImpl?: typeof fetch;
  /** Overrides for tests. */
  validatorPath?: string;
  renderDeps?: RenderDeps;
}

export interface PreflightOptions {
  /**
   * Refuse when origin has a `promote/<c>/*` or `rollback/<c>/*` branch for any of these clusters
   * (the cluster itself and its paired clusters: its primary, or its remotes): an open change.
   */
  guardClusters?: string[];
  /** Refuse when this local or remote branch already exists. */
  newBranch?: string;
  /** Also fetch the mesh tags (rollback needs them). */
  fetchTags?: boolean;
  /**
   * Folders the change replaces wholesale (clusters/<c>/rendered): git status does not show
   * ignored files, so they are looked for separately and the change refused while there are any,
   * instead of deleting them with the old tree.
   */
  replacedDirs?: string[];
  log?: Log;
}

export interface Preflight {
  branch: string;
  head: string;
  hasOrigin: boolean;
  /** The branch a pull request targets: the upstream's name on origin, else the current branch. */
  base: string;
}

export async function preflight(git: Git, options: PreflightOptions = {}): Promise<Preflight> {
  const log = options.log ?? (() => {});
  const dirty = await git.dirtyFiles();
  if (dirty.length) {
    const shown = dirty.slice(0, 10).map((l) => `  ${l}`);
    if (dirty.length > 10) shown.push(`  ... and ${dirty.length - 10} more`);
    throw new RefusalError(
      `the working tree has uncommitted changes; commit or stash them first:\n${shown.join("\n")}`,
    );
  }
  if (options.replacedDirs?.length) {
    const ignored = (
      await git.out([
        "ls-files",
        "--others",
        "--ignored",
        "--exclude-standard",
        "--",
        ...options.replacedDirs,
      ])
    )
      .split("\n")
      .filter(Boolean);
    if (ignored.length) {
      const shown = ignored.slice(0, 10).map((l) => `  ${l}`);
      if (ignored.length > 10) shown.push(`  ... and ${ignored.length - 10} more`);
      throw new RefusalError(
        `${options.replacedDirs.join(", ")} ${options.replacedDirs.length === 1 ? "holds" : "hold"} ignored files, which the change would delete ` +
          `(the folder is replaced as a whole); move them out of the way first:\n${shown.join("\n")}`,
      );
    }
  }
  const branch = await git.currentBranch();
  if (!branch)
    throw new RefusalError("HEAD is detached; check out the branch to promote from (usually main)");
  const hasOrigin = await git.hasRemote("origin");
  let upstream: string | undefined;
  if (hasOrigin) {
    log("fetching origin ...");
    try {
      await git.run(["fetch", "--quiet", "origin"]);
    } catch (e) {
      if (!(e instanceof GitError)) throw e;
      throw new RefusalError(
        `could not fetch origin, so whether '${branch}' is up to date is unknown:\n  ${e.stderr.trim().split("\n").join("\n  ")}`,
      );
    }
    if (options.fetchTags) await fetchMeshTags(git, log);
    upstream = await git.upstreamOf(branch);
    if (upstream) {
      const remote = await git.try(["config", `branch.${branch}.remote`]);
      if (remote && remote !== "origin" && remote !== ".") {
        log(`fetching ${remote} (the upstream of '${branch}') ...`);
        try {
          await git.run(["fetch", "--quiet", remote]);
        } catch (e) {
          if (!(e instanceof GitError)) throw e;
          throw new RefusalError(
            `could not fetch ${remote}, so whether '${branch}' is up to date with ${upstream} is unknown:\n  ${e.stderr.trim().split("\n").join("\n  ")}`,
          );
        }
      }
    } else {
      // No upstream configured: compare with the branch of the same name on origin, never skip.
      if (!(await git.revParse(`refs/remotes/origin/${branch}`))) {
        throw new RefusalError(
          `branch '${branch}' has no upstream and origin has no branch '${branch}', so whether it is up to date is unknown; ` +
            `check out the branch the cluster is deployed from (usually main) or set its upstream (\`git branch -u origin/<branch>\`)`,
        );
      }
      upstream = `origin/${branch}`;
    }
    const behind = await git.countCommits(`HEAD..${upstream}`);
    if (behind > 0) {
      throw new RefusalError(
        `branch '${branch}' is ${behind} commit(s) behind ${upstream}; run \`git pull --ff-only\` and try again`,
      );
    }
    const ahead = await git.countCommits(`${upstream}..HEAD`);
    if (ahead > 0) {
      throw new RefusalError(
        `branch '${branch}' has ${ahead} commit(s) that are not on ${upstream}; push them (or drop them) first, so the change holds nothing else`,
      );
    }
    if (options.guardClusters?.length) {
      const open = await openChanges(git, options.guardClusters);
      if (open.length) {
        throw new RefusalError(
          `origin already has ${open.map((b) => `'${b}'`).join(", ")}: a change of ${options.guardClusters.join(" or ")} is open ` +
            `(a remote cluster and its primary change one pull request at a time); merge or close that pull request and delete its branch first`,
        );
      }
    }
    if (options.newBranch && (await git.remoteBranches("origin", options.newBranch)).length) {
      throw new RefusalError(`origin already has a branch '${options.newBranch}'; merge or close it first`);
    }
  }
  if (options.newBranch && (await git.localBranchExists(options.newBranch))) {
    throw new RefusalError(
      `a local branch '${options.newBranch}' already exists (an earlier attempt?); delete it with \`git branch -D ${options.newBranch}\` or push it`,
    );
  }
  const base = upstream?.startsWith("origin/") ? upstream.slice("origin/".length) : branch;
  return { branch, head: await git.head(), hasOrigin, base };
}

/** Branches on origin that hold an open promotion or rollback of any of the clusters. */
export async function openChanges(git: Git, clusters: readonly string[]): Promise<string[]> {
  const open: string[] = [];
  for (const c of clusters) {
    for (const kind of ["promote", "rollback"])
      open.push(...(await git.remoteBranches("origin", `${kind}/${c}/*`)));
  }
  return open;
}

/** Fetches `refs/tags/mesh/*` without ever moving an existing local tag (no --force, no --prune). */
export async function fetchMeshTags(git: Git, log: Log = () => {}): Promise<void> {
  try {
    await git.run(["fetch", "--quiet", "--no-tags", "origin", "refs/tags/mesh/*:refs/tags/mesh/*"]);
  } catch (e) {
    if (!(e instanceof GitError)) throw e;
    log(`warning: could not fetch the mesh tags from origin: ${e.stderr.trim().split("\n").pop()}`);
  }
}

export interface CommitChangeOptions {
  pre: Preflight;
  /** Create and commit on this new branch; undefined commits on the current branch (`--direct`). */
  branch?: string;
  /** Paths the change may touch; only these are staged, and restored on failure. */
  paths: string[];
  /** Writes the files and validates them, and returns the commit message; throwing aborts and restores. */
  apply: () => Promise<string>;
  /**
   * The command's interrupt guard: the undo of this change is registered with it before the first
   * write, so a signal at any point puts everything back (see interrupt.ts).
   */
  guard?: ChangeGuard;
  log?: Log;
}

/**
 * Runs `apply` and commits its changes, all or nothing. On success a new branch is left behind
 * and the original branch is checked out again; on failure the branch is deleted and the tree is
 * restored to the original commit, as if nothing had run.
 */
export async function commitChange(git: Git, o: CommitChangeOptions): Promise<string> {
  // The undo of a signal runs with its own, ungated git: it must not wait for itself.
  o.guard?.onUndo("restore the tree and the branches", () => restore(git.ungated(), o));
  if (o.branch) await git.run(["switch", "--quiet", "-c", o.branch]);
  let commit: string;
  try {
    const message = await o.apply();
    await git.run(["add", "-A", "--", ...o.paths]);
    const staged = await git.out(["diff", "--cached", "--name-only"]);
    if (!staged) throw new RefusalError("nothing to commit: the change leaves every file as it is");
    await git.run(["commit", "--quiet", "--no-verify", "-F", "-"], { input: message });
    commit = await git.head();
  } catch (e) {
    // Through the guard: a signal meanwhile lets this restore finish before its own undo runs.
    const undo = () => restore(git.ungated(), o);
    await (o.guard ? o.guard.write(undo) : undo());
    throw e;
  }
  if (o.branch) await git.run(["switch", "--quiet", o.pre.branch]);
  return commit;
}

/**
 * Puts the paths, the branch and the branch list back as they were at preflight, from whatever
 * point the change reached: every step is a no-op when there is nothing to undo. Ignored files
 * are never touched (no `clean -x`).
 */
async function restore(git: Git, o: CommitChangeOptions): Promise<void> {
  const steps: Array<[string, string[]]> = [
    ["unstage", ["reset", "--quiet", o.pre.head, "--", ...o.paths]],
    ["restore files", ["checkout", "--quiet", o.pre.head, "--", ...o.paths]],
    ["remove new files", ["clean", "-fdq", "--", ...o.paths]],
  ];
  if (o.branch) {
    steps.push(["return to the original branch", ["switch", "--quiet", o.pre.branch]]);
    steps.push(["delete the new branch", ["branch", "--quiet", "-D", o.branch]]);
  }
  for (const [what, args] of steps) {
    if (what === "delete the new branch" && !(await git.localBranchExists(o.branch!))) continue;
    try {
      await git.run(args);
    } catch (e) {
      (o.log ?? console.error)(`warning: could not ${what} while undoing: ${(e as Error).message}`);
    }
  }
  // --direct: a commit already made on the original branch is taken back (the index and the
  // files of the paths are the original commit's already, so only the ref moves).
  if (!o.branch && (await git.currentBranch()) === o.pre.branch && (await git.head()) !== o.pre.head) {
    try {
      await git.run(["reset", "--quiet", "--soft", o.pre.head]);
    } catch (e) {
      (o.log ?? console.error)(
        `warning: could not take back the commit while undoing: ${(e as Error).message}`,
      );
    }
  }
}

export type PushResult = { pushed: true } | { pushed: false; reason: string };

/** Pushes a branch to origin without force; a rejection is returned, not thrown. */
export async function pushBranch(git: Git, branch: string, remoteBranch = branch): Promise<PushResult> {
  try {
    await git.run([
      "push",
      "--quiet",
      "--porcelain",
      "origin",
      `refs/heads/${branch}:refs/heads/${remoteBranch}`,
    ]);
    return { pushed: true };
  } catch (e) {
    if (!(e instanceof GitError)) throw e;
    return { pushed: false, reason: e.stderr.trim() || e.message };
  }
}
