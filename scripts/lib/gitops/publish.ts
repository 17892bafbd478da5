/**
 * After the commit: push the branch, then open the pull request through the GitHub REST API when a
 * token and a GitHub repository are known, or hand back the compare URL (or plain instructions).
 */
import { RefusalError } from "../cli/run-main.ts";
import type { Git } from "./git.ts";
import type { ChangeGuard } from "./interrupt.ts";
import { compareUrl, createPullRequest, gitHubTarget, GitHubError, type PullRequest } from "./github.ts";
import { openChanges, pushBranch, type Log, type Preflight } from "./workspace.ts";

export interface PublishOptions {
  pre: Preflight;
  branch: string;
  /** After the push, refuse (and delete the pushed branch) when another open change of these clusters appeared. */
  guardClusters?: string[];
  title: string;
  body: string;
  /** Do not open a pull request (print the compare URL). */
  noPr?: boolean;
  env?: NodeJS.ProcessEnv;
  fetchImpl?: typeof fetch;
  log?: Log;
  /** The commit being pushed: an interrupt's undo deletes the branch on origin only while it is still this. */
  commit?: string;
  guard?: ChangeGuard;
}

export interface PublishResult {
  pushed: boolean;
  pullRequest?: PullRequest;
  compareUrl?: string;
  /** What the person should do next, when there is something. */
  next?: string;
}

export async function publishBranch(git: Git, o: PublishOptions): Promise<PublishResult> {
  const log = o.log ?? (() => {});
  if (!o.pre.hasOrigin) {
    return {
      pushed: false,
      next: `no 'origin' remote: the commit is on local branch '${o.branch}'; push it and open a pull request into '${o.pre.base}'`,
    };
  }
  if (o.guard && o.commit) {
    const lease = `--force-with-lease=refs/heads/${o.branch}:${o.commit}`;
    // Fails quietly when the push never happened (or someone else's commit is there now).
    o.guard.onUndo(`delete '${o.branch}' on origin`, async () => {
      await git.ungated().try(["push", "--quiet", lease, "origin", `:refs/heads/${o.branch}`]);
    });
  }
  log(`pushing ${o.branch} to origin ...`);
  const pushed = await pushBranch(git, o.branch);
  if (!pushed.pushed) {
    throw new RefusalError(
      `origin refused the push of '${o.branch}' (someone else pushed it first?):\n${indent(pushed.reason)}\n` +
        `Nothing is lost: your commit stays on local branch '${o.branch}' and '${o.pre.branch}' is checked out as before. ` +
        `Compare it with origin/${o.branch}, then delete it with \`git branch -D ${o.branch}\`.`,
    );
  }
  if (o.guardClusters?.length) {
    const competing = (await openChanges(git, o.guardClusters)).filter((b) => b !== o.branch);
    if (competing.length) {
      const deleted = await git.try(["push", "--quiet", "origin", `:refs/heads/${o.branch}`]);
      throw new RefusalError(
        `another change appeared on origin while pushing: ${competing.map((b) => `'${b}'`).join(", ")}. ` +
          (deleted !== undefined
            ? `Deleted the pushed '${o.branch}' from origin again, so only one change is open; `
            : `Could not delete the pushed '${o.branch}' from origin: delete it by hand (\`git push origin :${o.branch}\`); `) +
          `your commit stays on local branch '${o.branch}' (\`git branch -D ${o.branch}\` drops it). Merge or close the other change first, then try again.`,
      );
    }
  }
  const target = gitHubTarget(o.env ?? process.env, await git.remoteUrl("origin"));
  if (!target) {
    return {
      pushed: true,
      next: `pushed '${o.branch}'; open a pull request into '${o.pre.base}' on your git host`,
    };
  }
  const url = compareUrl(target, o.pre.base, o.branch);
  if (o.noPr || !target.token) {
    const why = o.noPr ? "" : " (set GITHUB_TOKEN to have it opened for you)";
    return { pushed: true, compareUrl: url, next: `open the pull request at ${url}${why}` };
  }
  try {
    const pr = await createPullRequest(
      target,
      { title: o.title, head: o.branch, base: o.pre.base, body: o.body },
      o.fetchImpl,
    );
    return { pushed: true, pullRequest: pr, compareUrl: url };
  } catch (e) {
    if (!(e instanceof GitHubError)) throw e;
    throw new RefusalError(
      `pushed '${o.branch}', but opening the pull request failed: ${e.message}\nOpen it by hand at ${url}`,
    );
  }
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}
