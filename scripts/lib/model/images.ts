/**
 * Where the demo application's images come from by default: the registry this repository's images
 * workflow (.github/workflows/images.yaml) pushes to, `ghcr.io/<owner>`, with the owner taken from
 * the cluster's argocd.repoURL (a fork's URL names the fork's owner, so its images follow it).
 * `k8s/image-not-published` checks that the workflow really pushes what the chart then pulls.
 */

/** The owner of a GitHub repository URL (`https://github.com/o/r(.git)`, `git@github.com:o/r`, `ssh://git@github.com/o/r`). */
export function githubOwner(repoURL: string): string | undefined {
  const m =
    /^(?:https?:\/\/(?:[^@/]+@)?|ssh:\/\/git@|git@)github\.com[/:]([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/[A-Za-z0-9._-]+?(?:\.git)?\/?$/.exec(
      repoURL.trim(),
    );
  return m?.[1];
}

/** `ghcr.io/<owner, lower case>` for a GitHub repoURL (registry paths must be lower case). */
export function defaultImageRegistry(repoURL: string): string | undefined {
  const owner = githubOwner(repoURL);
  return owner ? `ghcr.io/${owner.toLowerCase()}` : undefined;
}
