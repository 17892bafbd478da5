/**
 * The I/O of the platform render: the real `helm template` on a locked chart package, run twice
 * to catch output that changes between renders, and the cache of processed renders (keyed by
 * everything the output depends on: helm binary, package digest, release, namespace, values,
 * Kubernetes and API versions).
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { binaryIdentity } from "../fs/content-cache.ts";
import { resolveTool } from "../tools/resolve.ts";
import type {
  ChartTemplateRequest,
  ChartTemplateResult,
  PlatformDeps,
  ReleaseCache,
  ReleaseObjects,
} from "./platform.ts";
import { splitManifests } from "./render.ts";

async function helmTemplate(helm: string, req: ChartTemplateRequest): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "platform-values-"));
  try {
    const values = path.join(dir, "values.yaml");
    await writeFile(values, req.valuesYaml);
    const args = [
      "template",
      req.release.name,
      req.packagePath,
      "--namespace",
      req.release.namespace,
      "--values",
      values,
      "--include-crds",
      "--skip-tests",
      "--kube-version",
      req.kubeVersion,
      ...(req.apiVersions.length ? ["--api-versions", req.apiVersions.join(",")] : []),
    ];
    const env = {
      ...process.env,
      HELM_CACHE_HOME: path.join(dir, "cache"),
      HELM_CONFIG_HOME: path.join(dir, "config"),
      HELM_DATA_HOME: path.join(dir, "data"),
    };
    const { $ } = await import("zx");
    try {
      const { stdout } = await $({ quiet: true, env, timeout: "120s" })`${helm} ${args}`;
      return stdout;
    } catch (e) {
      throw new Error(String((e as { stderr?: string }).stderr ?? (e as Error).message).trim());
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Objects present in both renders whose content differs, with the template that made them. */
export function unstableObjects(
  a: string,
  b: string,
  namespace: string,
): NonNullable<ChartTemplateResult["unstable"]> {
  const index = (out: string) =>
    new Map(
      splitManifests(out, namespace).map(({ object, source }) => [
        `${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`,
        { object, source, json: JSON.stringify(object) },
      ]),
    );
  const first = index(a);
  const second = index(b);
  const diff: NonNullable<ChartTemplateResult["unstable"]> = [];
  for (const [key, x] of first) {
    const y = second.get(key);
    if (y && y.json !== x.json)
      diff.push({
        apiVersion: x.object.apiVersion,
        kind: x.object.kind,
        namespace: x.object.metadata.namespace ?? "",
        name: x.object.metadata.name,
        template: x.source,
      });
  }
  return diff;
}

export function helmPlatformDeps(): PlatformDeps {
  return {
    async templateChart(req) {
      const helm = await resolveTool("helm");
      const [a, b] = await Promise.all([helmTemplate(helm, req), helmTemplate(helm, req)]);
      const unstable = a === b ? [] : unstableObjects(a, b, req.release.namespace);
      return { output: a, ...(unstable.length ? { unstable } : {}) };
    },
  };
}

/**
 * Processed platform renders by request, in memory for the run and, with a folder, on disk (one
 * file per render: charts with CRDs render megabytes). Keys include the helm binary, so a new
 * helm renders afresh.
 */
export async function openReleaseCache(cacheRoot?: string): Promise<ReleaseCache> {
  const memory = new Map<string, ReleaseObjects>();
  const helmId = cacheRoot ? await binaryIdentity(await resolveTool("helm")) : "";
  const dir = cacheRoot ? path.join(cacheRoot, "platform") : undefined;
  const fileOf = (key: string) =>
    path.join(dir!, `${createHash("sha256").update(`${helmId}\0${key}`).digest("hex")}.json`);
  return {
    async get(key) {
      const hit = memory.get(key);
      if (hit || !dir) return hit;
      try {
        const v = JSON.parse(await readFile(fileOf(key), "utf8")) as ReleaseObjects;
        if (!Array.isArray(v.files) || !Array.isArray(v.crdApiVersions) || !Array.isArray(v.unstable))
          return undefined;
        memory.set(key, v);
        return v;
      } catch {
        return undefined;
      }
    },
    async set(key, value) {
      memory.set(key, value);
      if (!dir) return;
      try {
        await mkdir(dir, { recursive: true });
        const file = fileOf(key);
        const tmp = `${file}.tmp-${randomBytes(4).toString("hex")}`;
        await writeFile(tmp, JSON.stringify(value));
        await rename(tmp, file);
      } catch {
        // A cache that cannot be written costs speed, not correctness.
      }
    },
  };
}
