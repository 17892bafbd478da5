#!/usr/bin/env tsx
/**
 * pnpm history <cluster> [--no-fetch]
 *
 * The cluster's mesh tags, newest first: tag, chapter, date, commit and what made that state.
 * These are the targets of `pnpm rollback <cluster> --to <tag>`.
 */
import { runMain } from "./lib/cli/run-main.ts";
import { parseClusterCli, progress, repoRootFromCwd } from "./lib/gitops/cli.ts";
import { Git } from "./lib/gitops/git.ts";
import { listClusterTags } from "./lib/gitops/mesh-tags.ts";
import { historyTable } from "./lib/gitops/report.ts";
import { fetchMeshTags } from "./lib/gitops/workspace.ts";

const HELP = "usage: pnpm history <cluster> [--no-fetch]";

runMain(async () => {
  const parsed = parseClusterCli(
    {
      "no-fetch": { type: "boolean", default: false },
    },
    HELP,
  );
  if (!parsed) return 0;
  const { cluster, values } = parsed;
  const git = new Git(await repoRootFromCwd());
  if (!values["no-fetch"] && (await git.hasRemote("origin"))) await fetchMeshTags(git, progress);
  for (const line of historyTable(cluster, await listClusterTags(git, cluster))) console.log(line);
  return 0;
});
