/**
 * CRD schemas of the pinned chart packages, generated at run time into the validator's cache, one
 * folder per chart digest (`<cacheRoot>/crd-schemas/<chart>-<version>-<digest>/crds/<group>/...`),
 * from the CustomResourceDefinitions the platform render contains, converted like
 * openapi2jsonschema (crd-schema.ts). The digest names exactly the bytes of the chart, so a folder
 * never goes stale; it is written to a temp folder and renamed, so it is whole or absent. Repo mode
 * puts these locations before the committed bundle: a chart bumped in charts.lock.yaml is checked
 * against its own CRDs before `pnpm schemas` has been re-run.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import yaml from "js-yaml";
import { crdSchemas } from "./crd-schema.ts";

export interface ChartCrds {
  /** `<chart>-<version>-<first 16 hex of the digest>`. */
  key: string;
  /** Texts of the rendered files that hold CustomResourceDefinitions. */
  texts: string[];
}

export function chartKey(c: { chart: string; version: string; digest: string }): string {
  return `${c.chart}-${c.version}-${c.digest.replace(/^sha256:/, "").slice(0, 16)}`;
}

/** Writes (once per chart digest) and returns the CRD schema locations, in a stable order. */
export async function chartCrdSchemaLocations(
  cacheRoot: string,
  charts: readonly ChartCrds[],
): Promise<string[]> {
  const out: string[] = [];
  for (const c of [...charts].sort((a, b) => (a.key < b.key ? -1 : 1))) {
    const dir = path.join(cacheRoot, "crd-schemas", c.key);
    if (!existsSync(dir)) {
      const files = c.texts.flatMap((t) => yaml.loadAll(t).flatMap((d) => crdSchemas(d)));
      if (!files.length) continue;
      const staging = `${dir}.tmp-${randomBytes(4).toString("hex")}`;
      try {
        for (const f of files) {
          const target = path.join(staging, f.path);
          await mkdir(path.dirname(target), { recursive: true });
          await writeFile(target, JSON.stringify(f.schema));
        }
        await mkdir(path.dirname(dir), { recursive: true });
        // A concurrent run wrote the same digest's folder: identical content.
        await rename(staging, dir).catch((e: NodeJS.ErrnoException) => {
          if (!existsSync(dir)) throw e;
        });
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    }
    out.push(path.join(dir, "crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"));
  }
  return out;
}
