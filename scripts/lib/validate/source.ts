/**
 * Reading YAML for validation, fast: values come from js-yaml when it is installed (the 4.x line,
 * which parses manifests three times faster than 5.x and ten times faster than the `yaml`
 * package), and positions are computed lazily, with the `yaml` package, only for files that have
 * findings. Anything unusual (anchors, aliases, tags, merge
 * keys, a parse error, a duplicate key) goes through the hardened `parseYaml` path, which
 * reports the problem with its position. Without js-yaml every file takes that path.
 */
import { createRequire } from "node:module";
import type { Finding } from "../findings.ts";
import { parseYaml, type ParsedFile, type YamlLimits } from "../yaml-source.ts";
import type { SourceDoc } from "./resource.ts";
import type { ContentCache } from "../fs/content-cache.ts";

export interface SourceFile {
  docs: SourceDoc[];
  findings: Finding[];
  parser: "js-yaml" | "yaml";
}

type LoadAll = (text: string) => unknown[];

let fast: LoadAll | null | undefined;

/** Sets (or, with null, disables) the fast loader; tests use it to exercise both paths. */
export function useFastLoader(loader: LoadAll | null): void {
  fast = loader;
}

/**
 * Resolves js-yaml once (VALIDATE_FAST_YAML may name another module specifier or path, e.g. to
 * try a copy that is not a dependency yet); null when it is not installed.
 */
export async function fastLoader(env: NodeJS.ProcessEnv = process.env): Promise<LoadAll | null> {
  if (fast !== undefined) return fast;
  try {
    const spec = env.VALIDATE_FAST_YAML || "js-yaml";
    const m = (await import(spec)) as { default?: unknown };
    const y = (m.default ?? m) as {
      loadAll(t: string, it: undefined, o: object): unknown[];
      CORE_SCHEMA: unknown;
    };
    fast = (text) => y.loadAll(text, undefined, { schema: y.CORE_SCHEMA, json: false });
  } catch {
    fast = null;
  }
  return fast;
}

/**
 * What the parse cache is keyed by: the fast parser and its version (another version may read
 * some YAML differently). `none` without js-yaml.
 */
export function fastLoaderId(env: NodeJS.ProcessEnv = process.env): string {
  const spec = env.VALIDATE_FAST_YAML || "js-yaml";
  try {
    const pkg = createRequire(import.meta.url)(`${spec}/package.json`) as { name?: string; version?: string };
    return `${pkg.name ?? spec}@${pkg.version ?? "unknown"}`;
  } catch {
    return spec === "js-yaml" ? "none" : spec.replace(/[^\w.@-]+/g, "_");
  }
}

/** Features the fast path leaves to the hardened parser: anchors, aliases, tags, merge keys. */
const UNUSUAL = /(^|[\s[{,:-])[&*!][^\s]|<<\s*:/m;

function fromParsed(parsed: ParsedFile): SourceFile {
  return { docs: parsed.documents, findings: parsed.findings, parser: "yaml" };
}

export function readSource(text: string, limits: YamlLimits, loader: LoadAll | null): SourceFile {
  if (!loader || UNUSUAL.test(text) || Buffer.byteLength(text, "utf8") > limits.maxBytes)
    return fromParsed(parseYaml(text, "", limits));
  let values: unknown[];
  try {
    values = loader(text);
  } catch {
    return fromParsed(parseYaml(text, "", limits));
  }
  return fromValues(text, values, limits);
}

/** A fast-path SourceFile: values as parsed, positions from the `yaml` package when first asked. */
function fromValues(text: string, values: readonly unknown[], limits: YamlLimits): SourceFile {
  let slow: ParsedFile | undefined;
  const located = (index: number) => {
    slow ??= parseYaml(text, "", limits);
    return slow.documents.find((d) => d.index === index);
  };
  return {
    parser: "js-yaml",
    findings: [],
    docs: values.map((value, index) => ({
      index,
      value: value ?? undefined,
      positionOf: (path, which) =>
        located(index)?.positionOf(path, which) ?? { file: "", line: 1, column: 1 },
    })),
  };
}

/** Only plain JSON survives the cache unchanged (YAML's .inf and .nan do not). */
function jsonSafe(v: unknown): boolean {
  if (typeof v === "number") return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(jsonSafe);
  if (v && typeof v === "object") return Object.values(v).every(jsonSafe);
  return true;
}

/**
 * readSource with a cache of parsed values keyed by the text's hash: a file that parsed cleanly
 * on the fast path before is read from the cache (JSON.parse is several times faster than YAML).
 * Files with findings or unusual YAML always take the full path.
 */
export function readSourceCached(
  text: string,
  contentHash: string,
  limits: YamlLimits,
  loader: LoadAll | null,
  cache: ContentCache<unknown[]>,
): SourceFile {
  const hit =
    loader && Buffer.byteLength(text, "utf8") <= limits.maxBytes ? cache.get(contentHash) : undefined;
  if (hit) return fromValues(text, hit, limits);
  const parsed = readSource(text, limits, loader);
  if (cache.enabled && parsed.parser === "js-yaml" && parsed.findings.length === 0) {
    const values = parsed.docs.map((d) => d.value ?? null);
    if (jsonSafe(values)) cache.set(contentHash, values);
  }
  return parsed;
}

/**
 * Plain values of a trusted file (the CRDs the CEL layer reads), through the same cache: no
 * positions and no hardening detour for anchors, since nothing is reported against these files.
 * Callers key these entries apart (`crd:<hash>`): the same bytes given as a manifest must still
 * take readSourceCached's checks.
 */
export function loadAllCached(
  text: string,
  contentHash: string,
  loader: LoadAll,
  cache: ContentCache<unknown[]>,
): unknown[] {
  const hit = cache.get(contentHash);
  if (hit) return hit;
  const values = loader(text);
  if (jsonSafe(values)) cache.set(contentHash, values);
  return values;
}
