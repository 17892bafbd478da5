/**
 * What `pnpm schemas` puts into the bundle: for every kind the repository's render contains (every
 * cluster at every chapter, the platform charts included), its schema at each cluster's
 * kubernetesVersion. Custom resources get theirs from the CRDs inside the render (the pinned chart
 * packages' CRDs), converted like openapi2jsonschema; built-in kinds are read from an
 * OpenAPI-derived schema source in kubeconform's layout (a folder, or kubeconform's upstream URL).
 * Descriptions are dropped: they are most of the bytes and validation never reads them.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import yaml from "js-yaml";
import { fillTemplate } from "./cel.ts";
import { crdSchemas } from "./crd-schema.ts";
import type { Scope } from "./engine.ts";
import { UnreachableError, unreachable } from "../net/reachable.ts";

/** kubeconform's `default` location, which holds the standalone-strict schemas of every release. */
export const UPSTREAM_K8S_SCHEMAS = "https://raw.githubusercontent.com/yannh/kubernetes-json-schema/master";

export const BUILTIN_TEMPLATE =
  "{{.NormalizedKubernetesVersion}}-standalone{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json";

export interface RenderedKind {
  apiVersion: string;
  kind: string;
  /** A file that contains it (for messages). */
  file: string;
}

function groupOf(apiVersion: string): string {
  return apiVersion.includes("/") ? apiVersion.split("/")[0]! : "";
}

/** Every distinct apiVersion + kind among the scopes' manifests, and the CRD objects among them. */
export function kindsOf(scopes: readonly Scope[]): { kinds: RenderedKind[]; crds: unknown[] } {
  const kinds = new Map<string, RenderedKind>();
  const crds = new Map<string, unknown>();
  const seen = new Set<string>();
  for (const s of scopes)
    for (const f of s.files) {
      if (f.kind !== "manifests" || seen.has(f.text)) continue;
      seen.add(f.text);
      for (const d of yaml.loadAll(f.text)) {
        const o = d as {
          apiVersion?: unknown;
          kind?: unknown;
          metadata?: { name?: unknown };
          items?: unknown;
        };
        if (typeof o?.apiVersion !== "string" || typeof o.kind !== "string") continue;
        const key = `${o.apiVersion} ${o.kind}`;
        if (!kinds.has(key)) kinds.set(key, { apiVersion: o.apiVersion, kind: o.kind, file: f.file });
        if (o.kind === "CustomResourceDefinition") crds.set(String(o.metadata?.name), o);
      }
    }
  return {
    kinds: [...kinds.values()].sort((a, b) =>
      `${a.apiVersion} ${a.kind}` < `${b.apiVersion} ${b.kind}` ? -1 : 1,
    ),
    crds: [...crds.keys()].sort().map((k) => crds.get(k)),
  };
}

function stripDescriptions(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDescriptions);
  if (typeof v !== "object" || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    // A string `description` is the keyword; a field named description is an object under properties.
    if (k === "description" && typeof x === "string") continue;
    out[k] = stripDescriptions(x);
  }
  return out;
}

async function readSource(source: string, rel: string): Promise<string | undefined> {
  if (/^https?:\/\//.test(source)) {
    const res = await fetch(`${source.replace(/\/+$/, "")}/${rel}`, { signal: AbortSignal.timeout(60_000) });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`${source}/${rel}: HTTP ${res.status}`);
    return res.text();
  }
  try {
    return await readFile(path.join(source, rel), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

export interface BundleFiles {
  files: Record<string, unknown>;
  /** Kinds neither the CRDs nor the source have a schema for. */
  missing: RenderedKind[];
}

export async function bundleFiles(
  kinds: readonly RenderedKind[],
  crds: readonly unknown[],
  k8sVersions: readonly string[],
  source: string,
): Promise<BundleFiles> {
  if (/^https?:\/\//.test(source)) {
    const down = await unreachable([source]);
    if (down.length)
      throw new UnreachableError(
        `the schema source ${source} is unreachable (${down[0]!.reason}); offline, run \`pnpm schemas --source <folder>\` with a folder in kubeconform's layout (e.g. ../shared/schemas/kubernetes)`,
      );
  }
  const files: Record<string, unknown> = {};
  const crdFiles = new Map<string, unknown>();
  for (const crd of crds) for (const f of crdSchemas(crd)) crdFiles.set(f.path, f.schema);
  const missing: RenderedKind[] = [];
  for (const k of kinds) {
    const r = { group: groupOf(k.apiVersion), kind: k.kind, apiVersion: k.apiVersion };
    const crdPath = fillTemplate("crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json", r, "0");
    if (r.group && crdPath && crdFiles.has(crdPath)) {
      files[crdPath] = stripDescriptions(crdFiles.get(crdPath));
      continue;
    }
    let found = true;
    for (const v of k8sVersions) {
      const rel = fillTemplate(BUILTIN_TEMPLATE, r, v)!;
      const text = await readSource(source, rel);
      if (text === undefined) {
        found = false;
        break;
      }
      files[`kubernetes/${rel}`] = stripDescriptions(JSON.parse(text));
    }
    if (!found) missing.push(k);
  }
  return { files, missing };
}
