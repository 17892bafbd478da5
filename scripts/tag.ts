#!/usr/bin/env tsx
/**
 * pnpm tag <cluster> [--commit SHA] [--no-push]
 *
 * Creates the annotated, immutable tag mesh/<cluster>/<seq>-<chapter> on the commit that last
 * changed the cluster (or --commit), after checking that the commit's rendered output is what its
 * cluster.yaml renders; pushes it to origin. Tagging an already tagged commit is a no-op; existing
 * tags are never moved or deleted.
 */
import { runMain } from "./lib/cli/run-main.ts";
import { parseClusterCli, progress, repoRootFromCwd } from "./lib/gitops/cli.ts";
import { Git } from "./lib/gitops/git.ts";
import { createMeshTag } from "./lib/gitops/mesh-tags.ts";
import { tagReport } from "./lib/gitops/report.ts";

const HELP = "usage: pnpm tag <cluster> [--commit SHA] [--no-push]";

runMain(async () => {
  const parsed = parseClusterCli(
    {
      commit: { type: "string" },
      "no-push": { type: "boolean", default: false },
    },
    HELP,
  );
  const { cluster, values } = parsed;
  const git = new Git(await repoRootFromCwd());
  const result = await createMeshTag(git, {
    cluster,
    ...(values.commit !== undefined ? { commit: values.commit } : {}),
    push: !values["no-push"],
    log: progress,
  });
  for (const line of tagReport(result)) console.log(line);
  return 0;
});
