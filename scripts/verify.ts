#!/usr/bin/env tsx
/**
 * pnpm verify <cluster> [--chapter N] [--context CTX] [--kubeconfig FILE] [--requests FILE]
 *              [--confidence 0.99] [--format pretty|json|junit]
 *
 * Checks a live cluster against what its chapter promises: Argo CD Applications Synced and
 * Healthy, Deployments' pods ready with the sidecar where the namespace is injected, and the
 * chapter's requests sent for real (weighted routes by an exact binomial test).
 * Exit codes: 0 every check passed, 1 a check failed or the cluster cannot be reached, 2 usage.
 */
import { parseCli } from "./lib/cli/parse-cli.ts";
import { runMain, UsageError } from "./lib/cli/run-main.ts";
import { failedChecks, formatVerify, VERIFY_FORMATS, type VerifyFormat } from "./lib/verify/report.ts";
import { verifyCluster } from "./lib/verify/verify.ts";

const HELP = `usage: pnpm verify <cluster> [--chapter N] [--context KUBE_CONTEXT] [--kubeconfig FILE]
                   [--requests FILE] [--confidence 0.99] [--format ${VERIFY_FORMATS.join("|")}]

  Checks the live cluster: Argo CD Applications Synced and Healthy (primary), every Deployment's
  pods ready, the istio-proxy sidecar in every pod of an injected namespace, and the requests of
  --requests FILE (a list of {name, url, method?, headers?, status?, weights?, samples?}) sent for
  real; a weighted route's counts are compared with its weights by an exact binomial test at
  --confidence (default 0.99).
  --context     kube context (default: cluster.yaml's kubeContext, else the current context)
  --chapter     the chapter whose promises are checked (default: the cluster's pinned chapter)`;

runMain(async () => {
  const { values, positionals } = parseCli(
    {
      chapter: { type: "string" },
      context: { type: "string" },
      kubeconfig: { type: "string" },
      requests: { type: "string" },
      confidence: { type: "string" },
      format: { type: "string", short: "f", default: "pretty" },
      help: { type: "boolean", short: "h", default: false },
    },
    HELP,
  );
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`name one cluster\n${HELP}`);
  const format = values.format as VerifyFormat;
  if (!VERIFY_FORMATS.includes(format))
    throw new UsageError(`unknown format '${values.format}'; use one of ${VERIFY_FORMATS.join(", ")}`);
  const confidence = values.confidence === undefined ? undefined : Number(values.confidence);
  if (confidence !== undefined && !(confidence > 0 && confidence < 1))
    throw new UsageError(`--confidence takes a number between 0 and 1, got '${values.confidence}'`);
  const report = await verifyCluster(process.cwd(), {
    cluster: positionals[0]!,
    ...(values.chapter ? { chapter: values.chapter } : {}),
    ...(values.context ? { context: values.context } : {}),
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.requests ? { requestsFile: values.requests } : {}),
    ...(confidence !== undefined ? { confidence } : {}),
  });
  process.stdout.write(formatVerify(report, format));
  return failedChecks(report).length ? 1 : 0;
});
