#!/usr/bin/env tsx
/**
 * pnpm schemas [--source DIR|URL] [--check] [--out FILE]
 *
 * Regenerates scripts/schemas/bundle.json.gz, the schemas `pnpm validate` uses without a schema
 * mirror: the built-in kinds of every cluster's kubernetesVersion from --source (a folder in
 * kubeconform's layout, e.g. ../shared/schemas/kubernetes; default kubeconform's upstream), and
 * the custom resources' schemas from the CRDs in the pinned chart packages, for exactly the kinds
 * the repository renders. The platform charts must all be available (chart cache or CHART_MIRROR):
 * a bundle generated without them would silently lack their kinds. --check exits 1 when the
 * committed bundle differs from what would be generated.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseCli } from "./lib/cli/parse-cli.ts";
import { runMain, UsageError } from "./lib/cli/run-main.ts";
import { loadConfig, normalizeK8sVersion } from "./lib/validate/config.ts";
import { collectRepo } from "./lib/validate/repo-mode.ts";
import { loadRepo } from "./lib/model/repo.ts";
import { openPlatform } from "./lib/render/platform-input.ts";
import { helmTemplateDeps } from "./lib/render/helm-template.ts";
import { BUNDLE_FILE, encodeBundle } from "./lib/validate/schema-bundle.ts";
import { bundleFiles, kindsOf, UPSTREAM_K8S_SCHEMAS } from "./lib/validate/schema-bundle-gen.ts";

const HELP = `usage: pnpm schemas [--source DIR|URL] [--check] [--out FILE]
  --source  built-in schemas in kubeconform's layout (default ${UPSTREAM_K8S_SCHEMAS})
  --check   exit 1 when ${BUNDLE_FILE} is not what would be generated
  --out     write there instead of ${BUNDLE_FILE}`;

runMain(async () => {
  const { values } = parseCli(
    {
      source: { type: "string", default: UPSTREAM_K8S_SCHEMAS },
      check: { type: "boolean", default: false },
      out: { type: "string" },
    },
    HELP,
    { positionals: false },
  );
  const root = process.cwd();
  const source = /^https?:\/\//.test(values.source) ? values.source : path.resolve(values.source);
  const loaded = await loadRepo(root);
  if (!loaded.model) throw new UsageError(`the repository model has errors; run \`pnpm validate\` first`);
  const config = loadConfig(root);
  const input = await openPlatform(root, config.chartMirror ? { mirror: config.chartMirror } : {});
  const { scopes, findings } = await collectRepo(root, config, {}, helmTemplateDeps(root), loaded, input);
  const missingCharts = [
    ...new Set(findings.filter((f) => f.rule === "charts/not-validated").map((f) => f.message)),
  ];
  // collectRepo reports missing charts only through platformFindings, which it adds to findings.
  if (missingCharts.length)
    throw new UsageError(
      `platform charts are missing, so their kinds would be left out of the bundle:\n  ${missingCharts.join("\n  ")}\nrun \`pnpm charts\` online or set CHART_MIRROR`,
    );
  const versions = [
    ...new Set(loaded.model.clusters.map((c) => normalizeK8sVersion(c.kubernetesVersion))),
  ].sort();
  const { kinds, crds } = kindsOf(scopes);
  const { files, missing } = await bundleFiles(kinds, crds, versions, source);
  if (missing.length)
    throw new UsageError(
      `no schema for ${missing.map((k) => `${k.apiVersion} ${k.kind} (${k.file})`).join(", ")}: not a built-in kind at ${source} and no CRD for it in the render`,
    );
  const bytes = encodeBundle({
    format: 1,
    source: `built-in kinds: kubernetes ${versions.join(", ")} standalone-strict; custom resources: CRDs of charts.lock.yaml`,
    files,
  });
  const out = path.resolve(root, values.out ?? BUNDLE_FILE);
  if (values.check) {
    const same = existsSync(out) && readFileSync(out).equals(bytes);
    console.error(same ? `${BUNDLE_FILE} is up to date` : `${BUNDLE_FILE} is stale: run \`pnpm schemas\``);
    return same ? 0 : 1;
  }
  const tmp = `${out}.tmp-${randomBytes(4).toString("hex")}`;
  await writeFile(tmp, bytes);
  await rename(tmp, out);
  console.error(
    `${path.relative(root, out)}: ${Object.keys(files).length} schemas for ${kinds.length} kinds, ${bytes.length} bytes`,
  );
  return 0;
});
