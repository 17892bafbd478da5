#!/usr/bin/env tsx
/**
 * pnpm rollback <cluster> --to <tag> | --steps K [--direct] [--dry-run] [--no-pr]
 *
 * Restores a cluster's chapter pin and rendered mesh output from a mesh tag as a new, validated
 * commit: on rollback/<cluster>/<tag-suffix> with a pull request, or on the current branch with
 * --direct (a workshop without reviews). Roll-forward, so it works with Argo CD auto-sync.
 */
import { runMain, UsageError } from "./lib/cli/run-main.ts";
import { parseClusterCli, progress, repoRootFromCwd } from "./lib/gitops/cli.ts";
import { rollbackReport } from "./lib/gitops/report.ts";
import { rollback } from "./lib/gitops/rollback.ts";

const HELP = "usage: pnpm rollback <cluster> (--to <tag> | --steps K) [--direct] [--dry-run] [--no-pr]";

runMain(async () => {
  const parsed = parseClusterCli(
    {
      to: { type: "string" },
      steps: { type: "string" },
      direct: { type: "boolean", default: false },
      "dry-run": { type: "boolean", default: false },
      "no-pr": { type: "boolean", default: false },
    },
    HELP,
  );
  const { cluster, values } = parsed;
  if ((values.to === undefined) === (values.steps === undefined))
    throw new UsageError(`give --to <tag> or --steps K\n${HELP}`);
  let steps: number | undefined;
  if (values.steps !== undefined) {
    if (!/^[1-9][0-9]*$/.test(values.steps))
      throw new UsageError(`--steps takes a whole number >= 1, not '${values.steps}'`);
    steps = Number(values.steps);
  }
  const result = await rollback(await repoRootFromCwd(), {
    cluster,
    ...(values.to !== undefined ? { to: values.to } : {}),
    ...(steps !== undefined ? { steps } : {}),
    direct: values.direct,
    dryRun: values["dry-run"],
    noPr: values["no-pr"],
    log: progress,
  });
  for (const line of rollbackReport(result)) console.log(line);
  if (result.dryRun && result.branch) console.log(`\n--- pull request body ---\n${result.body}`);
  if (result.dryRun && result.validation.errors > 0) {
    console.error(`the rollback would be refused: ${result.validation.summary}`);
    return 1;
  }
  return 0;
});
