/** `helm template` results cached by helm, chart content, release and values: the real helm, a copied chart. */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HelmRelease } from "../../scripts/lib/model/helmfile.ts";
import { helmTemplateDeps } from "../../scripts/lib/render/helm-template.ts";
import { cachedHelmTemplate, chartDigest } from "../../scripts/lib/render/helm-template-cache.ts";
import type { RenderDeps } from "../../scripts/lib/render/render.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

describe("cachedHelmTemplate", () => {
  let tmp: string;
  let calls: string[];
  let counting: RenderDeps;
  const release: HelmRelease = {
    name: "workshop",
    namespace: "workshop",
    chart: "./chart",
    chartName: "./chart",
    local: true,
    needs: [],
    position: { file: "helmfile.yaml", line: 1, column: 1 },
  };

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "helm-cache-test-"));
    await cp(path.join(ROOT, "apps/chart"), path.join(tmp, "chart"), { recursive: true });
    const real = helmTemplateDeps(tmp);
    calls = [];
    counting = {
      async templateLocalChart(r, values) {
        calls.push(values);
        return real.templateLocalChart(r, values);
      },
    };
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it("runs helm once per chart, release and values, across processes (a saved cache)", async () => {
    const cacheRoot = path.join(tmp, "cache");
    const first = await cachedHelmTemplate(counting, tmp, cacheRoot);
    const a = await first.templateLocalChart(release, "");
    expect(a).toContain("kind: Deployment");
    expect(await first.templateLocalChart(release, "")).toBe(a);
    expect(calls).toHaveLength(1);
    await first.save();

    const second = await cachedHelmTemplate(counting, tmp, cacheRoot);
    expect(await second.templateLocalChart(release, "")).toBe(a);
    expect(calls).toHaveLength(1);
    // Another namespace is another render.
    const other = await second.templateLocalChart({ ...release, namespace: "elsewhere" }, "");
    expect(other).toContain("namespace: elsewhere");
    expect(calls).toHaveLength(2);
  });

  it("renders again when any chart file changes, and never keeps a failed render", async () => {
    const cacheRoot = path.join(tmp, "cache-2");
    const before = chartDigest(path.join(tmp, "chart"));
    const deps = await cachedHelmTemplate(counting, tmp, cacheRoot);
    await deps.templateLocalChart(release, "");
    const n = calls.length;
    const chartYaml = path.join(tmp, "chart", "Chart.yaml");
    await writeFile(chartYaml, `${await readFile(chartYaml, "utf8")}\n# changed\n`);
    expect(chartDigest(path.join(tmp, "chart"))).not.toBe(before);
    const again = await cachedHelmTemplate(counting, tmp, cacheRoot);
    await again.templateLocalChart(release, "");
    expect(calls.length).toBe(n + 1);

    // A chart folder that is not there: helm's own finding, as without the cache.
    await expect(again.templateLocalChart({ ...release, chart: "./no-such-chart" }, "")).rejects.toThrow(
      /helm template of release 'workshop' \(\.\/no-such-chart\) failed/,
    );

    const broken = "replicas: [not, a, number]\n";
    await expect(again.templateLocalChart(release, broken)).rejects.toThrow(
      /helm template of release 'workshop'/,
    );
    await expect(again.templateLocalChart(release, broken)).rejects.toThrow(/helm template/);
    expect(calls.filter((c) => c === broken)).toHaveLength(2);
  });
});
