/**
 * The git side of promote and rollback, as all-or-nothing steps:
 *  - preflight: refuse on a dirty tree, a detached HEAD, a branch behind (or ahead of) its upstream,
 *    or a branch of the same kind already open on origin;
 *  - commitChange: write, validate and commit on a new branch (or the current one), and on any
 *    failure put the working tree, the index and the branch list back the way they were;
 *  - pushBranch: push, reporting a refusal (someone else got there first) without losing the commit.
 */
import { RefusalError } from "../cli/run-main.ts";
import type { RenderDeps } from "../render/render.ts";
import { GitError, type Git } from "./git.ts";

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
  /** Refuse when origin has a branch matching `<prefix>*` (an open promotion for the same cluster). */
  openBranchPrefix?: string;
  /** Refuse when this local or remote branch already exists. */
  newBranch?: string;
  /** Also fetch the mesh tags (rollback needs them). */
  fetchTags?: boolean;
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
    }
    if (options.openBranchPrefix) {
      const open = await git.remoteBranches("origin", `${options.openBranchPrefix}*`);
      if (open.length) {
        throw new RefusalError(
          `origin already has ${open.map((b) => `'${b}'`).join(", ")}: merge or close that pull request and delete its branch first`,
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
  log?: Log;
}

/**
 * Runs `apply` and commits its changes, all or nothing. On success a new branch is left behind
 * and the original branch is checked out again; on failure the branch is deleted and the tree is
 * restored to the original commit, as if nothing had run.
 */
export async function commitChange(git: Git, o: CommitChangeOptions): Promise<string> {
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
    await restore(git, o);
    throw e;
  }
  if (o.branch) await git.run(["switch", "--quiet", o.pre.branch]);
  return commit;
}

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
    try {
      await git.run(args);
    } catch (e) {
      (o.log ?? console.error)(`warning: could not ${what} while undoing: ${(e as Error).message}`);
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
