#!/usr/bin/env tsx
/**
 * pnpm history <cluster> [--no-fetch]
 *
 * The cluster's mesh tags, newest first: tag, chapter, date, commit and what made that state.
 * These are the targets of `pnpm rollback <cluster> --to <tag>`.
 */
import { readdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { runMain, UsageError } from "./lib/cli/run-main.ts";
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
  const { cluster, values } = parsed;
  const git = new Git(await repoRootFromCwd());
  if (!values["no-fetch"] && (await git.hasRemote("origin"))) await fetchMeshTags(git, progress);
  const tags = await listClusterTags(git, cluster);
  // A typo must not read as "no tags yet". Without loading the model: history is what you look at
  // when the repository is broken. A cluster that is gone but has tags is still listed.
  if (!tags.length && !existsSync(path.join(git.cwd, "clusters", cluster, "cluster.yaml"))) {
    const declared = (await readdir(path.join(git.cwd, "clusters"), { withFileTypes: true }).catch(() => []))
      .filter((d) => d.isDirectory() && existsSync(path.join(git.cwd, "clusters", d.name, "cluster.yaml")))
      .map((d) => d.name)
      .sort();
    throw new UsageError(
      `unknown cluster '${cluster}': no clusters/${cluster}/cluster.yaml and no mesh/${cluster}/ tags; declared: ${declared.join(", ") || "(none)"}\n${HELP}`,
    );
  }
  for (const line of historyTable(cluster, tags)) console.log(line);
  return 0;
});
