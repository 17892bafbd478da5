/** The one I/O step of rendering: the real `helm template` on a local chart. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { FindingsError } from "../findings.ts";
import type { HelmRelease } from "../model/helmfile.ts";
import { resolveTool } from "../tools/resolve.ts";
import type { RenderDeps } from "./render.ts";

export function helmTemplateDeps(repoRoot: string): RenderDeps {
  return {
    async templateLocalChart(release: HelmRelease, valuesYaml: string): Promise<string> {
      const helm = await resolveTool("helm");
      const dir = await mkdtemp(path.join(os.tmpdir(), "render-values-"));
      const valuesFile = path.join(dir, "values.yaml");
      try {
        await writeFile(valuesFile, valuesYaml);
        const chartDir = path.resolve(repoRoot, release.chart);
        const args = [
          "template",
          release.name,
          chartDir,
          "--namespace",
          release.namespace,
          "--values",
          valuesFile,
          "--skip-tests",
        ];
        const env = {
          ...process.env,
          HELM_CACHE_HOME: path.join(dir, "cache"),
          HELM_CONFIG_HOME: path.join(dir, "config"),
        };
        // zx is loaded when a chart is really rendered: most runs (path mode, a warm repo mode) never
        // do, and evaluating it costs every CLI start about 30 ms.
        const { $ } = await import("zx");
        const { stdout } = await $({ quiet: true, env })`${helm} ${args}`;
        return stdout;
      } catch (e) {
        const stderr = String((e as { stderr?: string }).stderr ?? (e as Error).message).trim();
        throw new FindingsError([
          {
            ...release.position,
            rule: "render/helm-template",
            severity: "error",
            anchors: [],
            message: `helm template of release '${release.name}' (${release.chart}) failed: ${stderr}`,
            hint: "fix the chart or the values the chapters give it (clusters/<name>/rendered/values/ shows the last good ones)",
          },
        ]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
