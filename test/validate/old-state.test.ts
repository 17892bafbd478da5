/**
 * The repository as it was before the platform charts were rendered (commit bc6f0f1, taken from
 * this repository's own history with `git archive`), validated with today's validator. It was
 * green then; what Argo CD would really have applied breaks the workshop from chapter 07 on, and
 * the validator must say so. Only the chart versions are re-pinned (the old pins exist nowhere:
 * not upstream, not in the mirror), jaeger stays at its old 4.0.0, and a lock is computed for them.
 * The old sources are rendered by today's code, so the fixes made in the renderer itself (the
 * AppProject's kube-system, sync retries) do not show here: test/core/platform.test.ts checks those
 * against the platform render, and the rules' fixtures model the old objects.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatChartLock } from "../../scripts/lib/charts/lock.ts";
import { chartContentDigest } from "../../scripts/lib/charts/package-digest.ts";
import { mirrorPackagePath } from "../../scripts/lib/charts/resolve.ts";
import { parseHelmfile } from "../../scripts/lib/model/helmfile.ts";
import { validateRepo, type ValidationResult } from "../../scripts/lib/validate/index.ts";
import { CHART_MIRROR, REPO_ROOT, SCHEMA_ROOT } from "./helpers.ts";

const OLD = "bc6f0f1";

/** The old pins, moved to the versions that exist; jaeger keeps 4.0.0 (kept in the mirror). */
const REPIN: Array<[RegExp, string]> = [
  [/version: 10\.4\.1.*/, "version: 10.1.1"],
  [/(chart: jetstack\/cert-manager\n\s+version: )v1\.21\.2/, "$1v1.21.1"],
  [/version: 90\.1\.2/, "version: 88.5.3"],
  [/(chart: grafana\/grafana\n\s+version: )12\.11\.2/, "$112.11.1"],
  [/version: 2\.31\.0/, "version: 2.29.0"],
  [/https:\/\/grafana\.github\.io\/helm-charts/, "https://grafana-community.github.io/helm-charts"],
];

let dir: string;
let result: ValidationResult;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "old-state-"));
  let archive: Buffer;
  try {
    archive = execFileSync("git", ["-C", REPO_ROOT, "archive", "--format=tar", OLD], {
      maxBuffer: 256 * 1024 * 1024,
    });
  } catch (e) {
    throw new Error(
      `commit ${OLD} is not in this clone's history (a shallow clone?): fetch it with \`git fetch --unshallow\` (${(e as Error).message})`,
    );
  }
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
  let helmfile = await readFile(path.join(dir, "helmfile.yaml"), "utf8");
  for (const [from, to] of REPIN) helmfile = helmfile.replace(from, to);
  await writeFile(path.join(dir, "helmfile.yaml"), helmfile);
  const releases = parseHelmfile(helmfile).value!.releases.filter((r) => !r.local);
  const charts = new Map<string, { repository: string; chart: string; version: string; digest: string }>();
  for (const r of releases) {
    const c = { repository: r.repoURL!, chart: r.chartName, version: r.version! };
    charts.set(`${c.chart}@${c.version}`, {
      ...c,
      digest: chartContentDigest(readFileSync(mirrorPackagePath(CHART_MIRROR, c))),
    });
  }
  await writeFile(path.join(dir, "charts.lock.yaml"), formatChartLock([...charts.values()]));
  result = await validateRepo(dir, {
    env: {
      VALIDATE_SCHEMA_ROOT: SCHEMA_ROOT,
      CHART_MIRROR,
      ISTIO_GITOPS_CHARTS_DIR: path.join(os.tmpdir(), "istio-gitops-charts-test"),
    },
    cacheRoot: path.join(os.tmpdir(), "istio-gitops-validate-cache-test"),
  });
}, 600_000);
afterAll(async () => rm(dir, { recursive: true, force: true }));

const hits = (rule: string, text: string) =>
  result.findings.filter((f) => f.rule === rule && `${f.file} ${f.message}`.includes(text));

describe(`the repository at ${OLD}, validated with the platform charts rendered`, () => {
  it("loses the remote istiod's EndpointSlice to Argo CD's default exclusions (chapter 19)", () => {
    const f = hits("argocd/resource-excluded", "EndpointSlice");
    expect(f.length).toBe(1);
    // A platform chart's object is rendered in memory only: at the release in helmfile.yaml.
    expect(f[0]!.file).toBe("helmfile.yaml");
    expect(f[0]!.rendered?.file).toContain("clusters/remote/rendered/platform/istiod/");
  });

  it("points tracing at a Service jaeger that chart 4.0.0 does not render (chapter 06 on)", () => {
    const f = hits("platform/service-not-found", "jaeger");
    // istiod's provider, Kiali's tracing URL and Grafana's datasource.
    expect(new Set(f.map((x) => x.rendered!.file.split("/platform/")[1]!.split("/")[0])).size).toBe(3);
  });

  it("orders the remote's istio-system metadata after istiod's remote install (chapter 19)", () => {
    const f = hits("argocd/namespace-metadata-order", "controlPlaneClusters");
    // Ahead of the pin: at the releases' entries in helmfile.yaml, the rendered Applications as detail.
    expect(f.map((x) => x.rendered?.file).sort()).toEqual([
      "clusters/remote/rendered/argocd/istio-eastwest.yaml",
      "clusters/remote/rendered/argocd/istiod.yaml",
    ]);
    expect(f.map((x) => x.file)).toEqual(["helmfile.yaml", "helmfile.yaml"]);
  });

  it("pulls app images nobody publishes", () => {
    expect(result.findings.filter((f) => f.rule === "k8s/image-not-published").length).toBeGreaterThan(0);
  });

  it("renders a random Grafana password and Kiali key on every render", () => {
    expect(hits("render/unstable-output", "grafana").length).toBeGreaterThan(0);
    expect(hits("render/unstable-output", "kiali").length).toBeGreaterThan(0);
  });
});
