#!/usr/bin/env tsx
/**
 * pnpm bootstrap [--cluster NAME]... [--context CTX] [--kubeconfig FILE]
 *
 * Hands the clusters to Argo CD: server-side applies each cluster's AppProject and root Application
 * (clusters/<name>/rendered/argocd/project.yaml and bootstrap/root.yaml) to the cluster Argo CD runs
 * in. From then on the root Application owns everything else. Argo CD itself must be installed
 * first (chapter 00: `helmfile -e primary -l name=argo-cd apply`).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse } from "yaml";
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseCli } from "./lib/cli/parse-cli.ts";
import { RefusalError, runMain } from "./lib/cli/run-main.ts";
import { applyObjects, loadKubeConfig, readObject } from "./lib/kube/client.ts";
import { loadRepoOrThrow } from "./lib/model/repo.ts";
import { selectClusters } from "./lib/render/pipeline.ts";
import { renderedRoot } from "./lib/render/layout.ts";

const HELP = `usage: pnpm bootstrap [--cluster NAME]... [--context KUBE_CONTEXT] [--kubeconfig FILE]

Applies each cluster's AppProject and root Application (clusters/<name>/rendered/) to the cluster
Argo CD runs in; Argo CD must be installed first (chapter 00).
  --cluster     only these clusters (repeatable; default: all)
  --context     the kube context Argo CD runs in (default: the kubeconfig's current context)
  --kubeconfig  the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)`;

runMain(async () => {
  const { values } = parseCli(
    {
      cluster: { type: "string", multiple: true },
      context: { type: "string" },
      kubeconfig: { type: "string" },
    },
    HELP,
    { positionals: false },
  );
  const root = process.cwd();
  const model = await loadRepoOrThrow(root);
  const clusters = selectClusters(model, values.cluster ?? []);
  const kc = loadKubeConfig(values.context, values.kubeconfig);
  const crd = await readObject(kc, {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "applications.argoproj.io" },
  });
  if (!crd) {
    throw new RefusalError(
      `Argo CD is not installed in kube context '${kc.getCurrentContext()}' (no applications.argoproj.io CRD). ` +
        "Install it first: pnpm render && helmfile -e primary -l name=argo-cd apply",
    );
  }
  for (const cluster of clusters) {
    const dir = path.join(root, renderedRoot(cluster.name));
    const objects: KubernetesObject[] = [];
    for (const file of ["argocd/project.yaml", "bootstrap/root.yaml"]) {
      try {
        objects.push(parse(await readFile(path.join(dir, file), "utf8")) as KubernetesObject);
      } catch {
        throw new RefusalError(
          `${renderedRoot(cluster.name)}/${file} is missing; run \`pnpm render\` and commit first`,
        );
      }
    }
    const applied = await applyObjects(kc, objects);
    console.log(`${cluster.name}: applied ${applied.join(", ")} to ${kc.getCurrentContext()}`);
  }
});
