/** The one I/O step of rendering: the real `helm template` on a local chart. */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { HelmRelease } from "../model/helmfile.ts";
import { resolveTool } from "../tools/resolve.ts";
import type { RenderDeps } from "./render.ts";

const run = promisify(execFile);

export function helmTemplateDeps(repoRoot: string): RenderDeps {
  return {
    async templateLocalChart(release: HelmRelease, valuesYaml: string): Promise<string> {
      const helm = await resolveTool("helm");
      const dir = await mkdtemp(path.join(os.tmpdir(), "render-values-"));
      const valuesFile = path.join(dir, "values.yaml");
      try {
        await writeFile(valuesFile, valuesYaml);
        const chartDir = path.resolve(repoRoot, release.chart);
        const { stdout } = await run(
          helm,
          [
            "template",
            release.name,
            chartDir,
            "--namespace",
            release.namespace,
            "--values",
            valuesFile,
            "--skip-tests",
          ],
          {
            maxBuffer: 64 * 1024 * 1024,
            env: {
              ...process.env,
              HELM_CACHE_HOME: path.join(dir, "cache"),
              HELM_CONFIG_HOME: path.join(dir, "config"),
            },
          },
        );
        return stdout;
      } catch (e) {
        const stderr = String((e as { stderr?: string }).stderr ?? (e as Error).message).trim();
        throw new Error(`helm template of release '${release.name}' (${release.chart}) failed:\n${stderr}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
