/**
 * `helm template` results cached by everything they depend on: the helm binary (path, size,
 * modification time), every file of the chart, the release name and namespace, and the values.
 * Repo-mode validation renders the app chart for every cluster at every chapter; between two runs
 * the chart and most values are unchanged, and helm is the slow step (a process per render).
 * Only successful renders are kept.
 */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";
import type { HelmRelease } from "../model/helmfile.ts";
import { resolveTool } from "../tools/resolve.ts";
import { binaryIdentity, ContentCache } from "../fs/content-cache.ts";
import type { RenderDeps } from "./render.ts";

/** Rendered charts are tens of kilobytes each: a few thousand keep the file far below V8's string limit. */
const MAX_RENDERS = 2_000;

/**
 * Every file under the chart folder, hashed with its relative path, in a stable order. Symbolic
 * links are hashed by their target's name, not followed (a link loop must not hang validation).
 */
export function chartDigest(chartDir: string): string {
  const h = createHash("sha256");
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = lstatSync(p);
      const rel = path.relative(chartDir, p);
      if (st.isSymbolicLink()) h.update(rel).update("\0->").update(readlinkSync(p)).update("\0");
      else if (st.isDirectory()) walk(p);
      else h.update(rel).update("\0").update(readFileSync(p)).update("\0");
    }
  };
  walk(chartDir);
  return h.digest("hex");
}

export interface CachedRenderDeps extends RenderDeps {
  /** Writes what was rendered this run (a temp file renamed into place). */
  save(): Promise<void>;
}

export async function cachedHelmTemplate(
  inner: RenderDeps,
  repoRoot: string,
  cacheRoot: string,
): Promise<CachedRenderDeps> {
  const helm = await resolveTool("helm");
  const helmId = await binaryIdentity(helm);
  const cache = await ContentCache.open<string>(
    path.join(cacheRoot, "helm-template.json"),
    (v) => typeof v === "string",
    MAX_RENDERS,
  );
  const charts = new Map<string, string>();
  const keyOf = (release: HelmRelease, valuesYaml: string) => {
    const chartDir = path.resolve(repoRoot, release.chart);
    let digest = charts.get(chartDir);
    if (!digest) {
      digest = chartDigest(chartDir);
      charts.set(chartDir, digest);
    }
    return createHash("sha256")
      .update([helmId, digest, release.name, release.namespace, valuesYaml].join("\0"))
      .digest("hex");
  };
  return {
    async templateLocalChart(release, valuesYaml) {
      let key: string;
      try {
        key = keyOf(release, valuesYaml);
      } catch {
        // A chart folder that cannot be read: helm reports it, as an uncached run would.
        return inner.templateLocalChart(release, valuesYaml);
      }
      const hit = cache.get(key);
      if (hit !== undefined) return hit;
      const out = await inner.templateLocalChart(release, valuesYaml);
      cache.set(key, out);
      return out;
    },
    save: () => cache.save(),
  };
}
