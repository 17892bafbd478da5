#!/usr/bin/env tsx
/**
 * pnpm verify <cluster> [--chapter N] [--context CTX] [--kubeconfig FILE] [--ingress URL]
 *              [--ingress-https URL] [--ingress-ca FILE] [--requests FILE] [--confidence 0.99]
 *              [--format pretty|json|junit]
 *
 * Checks a live cluster against what its chapter promises: Argo CD Applications Synced and
 * Healthy, Deployments' pods ready with the sidecar where the namespace is injected, and the
 * chapter's expect: requests through the ingress gateway sent for real (which version answered,
 * weighted routes by an exact binomial test).
 * Exit codes: 0 every check passed, 1 a check failed or the cluster cannot be reached, 2 usage.
 */
import { parseCli } from "./lib/cli/parse-cli.ts";
import { runMain, UsageError } from "./lib/cli/run-main.ts";
import { failedChecks, formatVerify, VERIFY_FORMATS, type VerifyFormat } from "./lib/verify/report.ts";
import { verifyCluster } from "./lib/verify/verify.ts";

const HELP = `usage: pnpm verify <cluster> [--chapter N] [--context KUBE_CONTEXT] [--kubeconfig FILE]
                   [--ingress URL] [--ingress-https URL] [--ingress-ca FILE] [--requests FILE]
                   [--confidence 0.99] [--format ${VERIFY_FORMATS.join("|")}]

  Checks the live cluster: Argo CD Applications Synced and Healthy (primary), every Deployment's
  pods ready, the istio-proxy sidecar in every pod of an injected namespace, and the chapter's
  expect: requests (the cumulative set in force at the chapter) sent for real: those entering
  through the ingress gateway go to --ingress / --ingress-https with the Host header (and TLS
  name) of their URL; the status, and which version answered (x-version), are checked; a
  weighted route's counts against its weights by an exact binomial test at --confidence (default
  0.99). JWT requests log in at the portal's /api/login as the demo user of their sub claim;
  a token auth-service does not issue (expired, other audience), and requests from a workload
  (they need kubectl exec), are listed as not sent, never as passed.
  --context        kube context (default: cluster.yaml's kubeContext, else the current context)
  --chapter        the chapter whose promises are checked (default: the cluster's pinned chapter)
  --ingress        where the gateway's port 80 is reached, e.g. http://127.0.0.1:8080 after
                   kubectl -n istio-ingress port-forward svc/istio-ingress 8080:80 8443:443
  --ingress-https  where its port 443 is reached, e.g. https://127.0.0.1:8443
  --ingress-ca     the CA certificate (PEM) of the gateway's certificate, e.g. /tmp/workshop-ca.crt
  --requests       more requests: a YAML list of {name, url, method?, headers?, status?,
                   weights?, samples?, versionFrom?}`;

function baseUrl(flag: string, v: string): string {
  if (!/^https?:\/\/[^/]+\/?$/.test(v))
    throw new UsageError(`${flag} takes a base URL like http://127.0.0.1:8080, got '${v}'`);
  return v;
}

runMain(async () => {
  const { values, positionals } = parseCli(
    {
      chapter: { type: "string" },
      context: { type: "string" },
      kubeconfig: { type: "string" },
      requests: { type: "string" },
      ingress: { type: "string" },
      "ingress-https": { type: "string" },
      "ingress-ca": { type: "string" },
      confidence: { type: "string" },
      format: { type: "string", short: "f", default: "pretty" },
    },
    HELP,
  );
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
    ...(values.ingress ? { ingress: baseUrl("--ingress", values.ingress) } : {}),
    ...(values["ingress-https"] ? { ingressHttps: baseUrl("--ingress-https", values["ingress-https"]) } : {}),
    ...(values["ingress-ca"] ? { ingressCa: values["ingress-ca"] } : {}),
    ...(confidence !== undefined ? { confidence } : {}),
  });
  process.stdout.write(formatVerify(report, format));
  return failedChecks(report).length ? 1 : 0;
});
