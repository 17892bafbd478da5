/**
 * Reading YAML for validation, fast: values come from js-yaml when it is installed (about ten
 * times faster than the `yaml` package here), and positions are computed lazily, with the `yaml`
 * package, only for files that have findings. Anything unusual (anchors, aliases, tags, merge
 * keys, a parse error, a duplicate key) goes through the hardened `parseYaml` path, which
 * reports the problem with its position. Without js-yaml every file takes that path.
 */
import type { Finding } from "../findings.ts";
import { parseYaml, type ParsedFile, type YamlLimits } from "../yaml-source.ts";
import type { SourceDoc } from "./resource.ts";

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
