/**
 * Repo mode on a small fixture repository (real helm, real kubeconform): every cluster at every
 * chapter, findings mapped to rendered files with their source and chapter, platform gateway
 * labels derived from the istio/gateway Helm releases, rendered output freshness.
 */
import { appendFile, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTreeAtomically } from "../../scripts/lib/fs/tree.ts";
import { renderClusters } from "../../scripts/lib/render/pipeline.ts";
import { validateRepo } from "../../scripts/lib/validate/index.ts";
import { tempCopy } from "../helpers/temp-repo.ts";
import { CHART_MIRROR, SCHEMA_ROOT } from "./helpers.ts";
import os from "node:os";

const env = { VALIDATE_SCHEMA_ROOT: SCHEMA_ROOT };
/** The same, with the Istio charts of the fixture's charts.lock.yaml from the offline mirror. */
const platformEnv = {
  ...env,
  CHART_MIRROR,
  ISTIO_GITOPS_CHARTS_DIR: path.join(os.tmpdir(), "istio-gitops-charts-test"),
};

describe("validateRepo (fixture repository)", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempCopy("../validate/fixtures/repo-mesh"));
    for (const { cluster, files } of await renderClusters(dir))
      await writeTreeAtomically(path.join(dir, `clusters/${cluster.name}/rendered`), files);
  });
  afterAll(async () => cleanup());

  it("validates every cluster at every chapter and says where a finding comes from", async () => {
    const r = await validateRepo(dir, { env: platformEnv });
    const summary = r.findings.map((f) => `${f.rule} ${f.file}:${f.line} @ ${f.context}`);
    // The mesh Application's Gateway needs istio-base's CRDs and istio-ingress's namespace; the
    // rendered Applications retry a failed sync, so argocd/cross-app-order has nothing to say.
    expect(summary).toEqual([
      // Ahead of the pin the rendered file exists only in memory: the finding is at the patch that adds the route.
      "vs/subset-not-found chapters/02-canary/chapter.yaml:22 @ cluster primary at chapter 02-canary, ahead of its pin",
    ]);
    const subset = r.findings.find((f) => f.rule === "vs/subset-not-found")!;
    expect(subset.message).toContain("subset 'v3'");
    expect(subset.rendered?.file).toBe("clusters/primary/rendered/mesh/shop/virtualservice-shop.yaml");
    expect(subset.message).toContain(
      "source: mesh/routing/shop.yaml (added in 01-mesh), chapters/02-canary/chapter.yaml (patches)",
    );
    expect(subset.message).toContain("chapter 02-canary, ahead of its pin");
    expect(subset.sources).toEqual([
      "mesh/routing/shop.yaml (added in 01-mesh)",
      "chapters/02-canary/chapter.yaml (patches)",
    ]);
    expect(r.summary.resources).toBeGreaterThan(40);
    expect(r.summary.errors).toBe(1);
  });

  it("derives the gateway pods' labels from the istio/gateway release (istio: ingress), values included", async () => {
    const gw = path.join(dir, "mesh/gateway/shop.yaml");
    const original = await readFile(gw, "utf8");
    await writeFile(gw, original.replace("istio: ingress", "istio: ingressgateway"));
    try {
      // Without the platform render (no chart packages), the gateway pods are modelled from values.
      const miss = await validateRepo(dir, { env, chapter: "01", rules: ["gw/*"], platform: false });
      expect(miss.findings.map((f) => f.rule)).toEqual(["gw/selector-no-workload"]);
      expect(miss.findings[0]!.message).toContain("istio=ingressgateway");
      expect(miss.findings[0]!.message).toContain(
        "gateway pods of Helm release istio-ingress (istio-ingress): app=istio-ingress,istio=ingress",
      );
      // With it, the gateway chart's own Deployment is what the selector must match.
      const rendered = await validateRepo(dir, { env: platformEnv, chapter: "01", rules: ["gw/*"] });
      expect(rendered.findings.map((f) => f.rule)).toEqual(["gw/selector-no-workload"]);
      expect(rendered.findings[0]!.message).toContain("istio=ingressgateway");
      const chapter = path.join(dir, "chapters/01-mesh/chapter.yaml");
      const before = await readFile(chapter, "utf8");
      await writeFile(
        chapter,
        before.replace(
          "  - name: istio-ingress\n    enabled: true\n",
          "  - name: istio-ingress\n    enabled: true\n    values: { labels: { istio: ingressgateway } }\n",
        ),
      );
      try {
        const hit = await validateRepo(dir, { env, chapter: "01", rules: ["gw/*"], platform: false });
        expect(hit.findings).toEqual([]);
        const real = await validateRepo(dir, { env: platformEnv, chapter: "01", rules: ["gw/*"] });
        expect(real.findings).toEqual([]);
      } finally {
        await writeFile(chapter, before);
      }
    } finally {
      await writeFile(gw, original);
    }
  });

  it("reports stale rendered output and broken repository YAML, for the selected cluster only", async () => {
    const vs = path.join(dir, "clusters/primary/rendered/mesh/shop/virtualservice-shop.yaml");
    const original = await readFile(vs, "utf8");
    await appendFile(vs, "# edited by hand\n");
    await writeFile(path.join(dir, "mesh/routing/broken.yaml"), "a: [1, 2\n");
    const r = await validateRepo(dir, { env, clusters: ["primary"], chapter: "01-mesh", platform: false });
    await writeFile(vs, original);
    // Root causes (a file that does not parse) first.
    expect(r.findings.map((f) => `${f.rule} ${f.file}`)).toEqual([
      "yaml/syntax mesh/routing/broken.yaml",
      "repo/rendered-stale clusters/primary/rendered/mesh/shop/virtualservice-shop.yaml",
    ]);
    expect(r.findings.every((f) => !f.file.startsWith("clusters/remote"))).toBe(true);
  });
});
