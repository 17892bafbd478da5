#!/usr/bin/env tsx
/**
 * pnpm promote <cluster> [--to N] [--dry-run] [--no-pr]
 *
 * Moves a cluster to the next chapter (a remote cluster: to its primary's chapter; or to --to) as
 * a pull request: bumps the pin in
 * cluster.yaml, re-renders clusters/<cluster>/rendered/, validates, commits on
 * promote/<cluster>/<chapter>, pushes, and opens the pull request (GITHUB_TOKEN) or prints the
 * compare URL. Refuses on a dirty tree, a branch behind its upstream, an open promotion of the same
 * cluster, or a remote cluster that would pass its primary.
 */
import { runMain } from "./lib/cli/run-main.ts";
import { parseClusterCli, progress, repoRootFromCwd } from "./lib/gitops/cli.ts";
import { promote } from "./lib/gitops/promote.ts";
import { promoteReport } from "./lib/gitops/report.ts";

const HELP = "usage: pnpm promote <cluster> [--to N|NN|NN-slug] [--dry-run] [--no-pr]";

runMain(async () => {
  const parsed = parseClusterCli(
    {
      to: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      "no-pr": { type: "boolean", default: false },
    },
    HELP,
  );
  const { cluster, values } = parsed;
  const result = await promote(await repoRootFromCwd(), {
    cluster,
    ...(values.to !== undefined ? { to: values.to } : {}),
    dryRun: values["dry-run"],
    noPr: values["no-pr"],
    log: progress,
  });
  for (const line of promoteReport(result)) console.log(line);
  if (result.dryRun) console.log(`\n--- pull request body ---\n${result.body}`);
  if (result.dryRun && result.validation.errors > 0) {
    console.error(`the promotion would be refused: ${result.validation.summary}`);
    return 1;
  }
  return 0;
});
