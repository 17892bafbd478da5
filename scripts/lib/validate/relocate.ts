/**
 * Findings at the file the user edits. A finding on a chapter other than a cluster's pin is found
 * in a rendered file that exists only in memory; this module points it at the source the object
 * came from (the `# source:` lines of the render name them): the mesh/ file's node, the chapter.yaml
 * patch that changed that node, the helmfile.yaml release of an Application, the chart template.
 * Pure: the file reader is passed in.
 */
import { isDeepStrictEqual } from "node:util";
import type { SourcePosition } from "../findings.ts";
import {
  parseYaml,
  pointerToPath,
  type ParsedDocument,
  type ParsedFile,
  type YamlPath,
} from "../yaml-source.ts";
import { asArray, asObj, isObj, type Resource } from "./resource.ts";

export type ReadSource = (rel: string) => string | undefined;

/** Parsed sources by file and content: a run relocates many findings into the same few files. */
const parsed = new Map<string, ParsedFile>();
function parse(text: string, file: string): ParsedFile {
  const key = `${file}\0${text}`;
  let p = parsed.get(key);
  if (!p) {
    if (parsed.size > 256) parsed.clear();
    p = parseYaml(text, file);
    parsed.set(key, p);
  }
  return p;
}

/** Whether a repo-mode context is a chapter other than the cluster's pin (its rendered files are virtual). */
export function offPin(context: string | undefined): boolean {
  return !!context && /\((ahead|behind) of its pin\)$/.test(context);
}

function valueAt(v: unknown, path: YamlPath): unknown {
  let cur = v;
  for (const seg of path) {
    if (Array.isArray(cur) && typeof seg === "number") cur = cur[seg];
    else if (isObj(cur)) cur = cur[String(seg)];
    else return undefined;
  }
  return cur;
}

/**
 * A path in `root` with the keys of `path` (list indices free) whose value is `wanted`, or
 * undefined when there is none or more than one (then it is not known which).
 */
export function sameShapePath(root: unknown, path: YamlPath, wanted: unknown): YamlPath | undefined {
  if (wanted === undefined) return undefined;
  const found: YamlPath[] = [];
  const walk = (v: unknown, i: number, at: Array<string | number>) => {
    if (found.length > 1) return;
    if (i === path.length) {
      if (isDeepStrictEqual(v, wanted)) found.push([...at]);
      return;
    }
    const seg = path[i]!;
    if (typeof seg === "number") {
      if (Array.isArray(v)) v.forEach((item, k) => walk(item, i + 1, [...at, k]));
    } else if (isObj(v) && seg in v) walk(v[seg], i + 1, [...at, seg]);
  };
  walk(root, 0, []);
  return found.length === 1 ? found[0] : undefined;
}

function prefixOf(a: YamlPath, b: YamlPath): boolean {
  return a.length <= b.length && a.every((s, i) => String(s) === String(b[i]));
}

type Target = Pick<Resource, "apiVersion" | "kind" | "name" | "namespace">;

function sameTarget(t: unknown, r: Target): boolean {
  const o = asObj(t);
  return (
    o.kind === r.kind &&
    o.name === r.name &&
    (o.apiVersion === undefined || o.apiVersion === r.apiVersion) &&
    (o.namespace === undefined || r.namespace === undefined || o.namespace === r.namespace)
  );
}

/** The document of `file` that defines the object: same kind and name, else the only one of that kind. */
function documentOf(docs: readonly ParsedDocument[], r: Target): ParsedDocument | undefined {
  const ofKind = docs.filter((d) => asObj(d.value).kind === r.kind);
  return (
    ofKind.find((d) => asObj(asObj(d.value).metadata).name === r.name) ??
    (ofKind.length === 1 ? ofKind[0] : undefined)
  );
}

/** The patch (and, when one matches, the operation) of a chapter.yaml that changed `path` of the object. */
function patchPosition(
  text: string,
  file: string,
  r: Target,
  path: YamlPath,
): { pos: SourcePosition; exact: boolean } | undefined {
  const doc = parse(text, file).documents[0];
  if (!doc) return undefined;
  let fallback: SourcePosition | undefined;
  const patches = asArray(asObj(doc.value).patches);
  for (let i = patches.length - 1; i >= 0; i--) {
    const p = asObj(patches[i]);
    if (!sameTarget(p.target, r)) continue;
    const ops = asArray(p.patch);
    for (let j = ops.length - 1; j >= 0; j--) {
      const op = asObj(ops[j]);
      if (typeof op.path !== "string" || op.op === "test") continue;
      const opPath = pointerToPath(op.path).map((s) => (s === "-" ? Number.NaN : s));
      // `/spec/http/0/route/-` appends: any index under that list matches.
      const norm = opPath.map((s, k) => (Number.isNaN(s) ? (path[k] ?? s) : s));
      // Inside the added or replaced value when the path goes deeper, else the operation.
      if (prefixOf(norm, path) && "value" in op)
        return {
          pos: doc.positionOf(["patches", i, "patch", j, "value", ...path.slice(norm.length)]),
          exact: true,
        };
      // An operation at the finding's node or above it wrote it; one below it (the finding is on
      // an ancestor, the whole object say) only changed part of it: not the place.
      if (prefixOf(norm, path)) return { pos: doc.positionOf(["patches", i, "patch", j]), exact: true };
    }
    fallback ??= doc.positionOf(["patches", i]);
  }
  return fallback ? { pos: fallback, exact: false } : undefined;
}

/**
 * Where in the repository's sources the node at `path` of a rendered object comes from, or
 * undefined when the sources do not say (then the rendered location stays).
 */
export function sourcePosition(
  r: Target & { object: unknown },
  path: YamlPath,
  sources: readonly string[],
  read: ReadSource,
): SourcePosition | undefined {
  const entries = sources.map((s) => {
    const m = /^(\S+) \((added in \S+|patches)\)$/.exec(s);
    return { file: m?.[1] ?? s, how: m?.[2] ?? "" };
  });
  const added = entries.find((e) => e.how.startsWith("added in"));
  const patchedBy = entries.filter((e) => e.how === "patches").reverse();
  if (added) {
    const text = read(added.file);
    const doc = text === undefined ? undefined : documentOf(parse(text, added.file).documents, r);
    const inSource = doc ? valueAt(doc.value, path) : undefined;
    // Unpatched, or the patch left this node as the file has it: the mesh file is the place.
    if (
      doc &&
      (!patchedBy.length || (inSource !== undefined && isDeepStrictEqual(inSource, valueAt(r.object, path))))
    )
      return doc.positionOf(path, "key");
    let loose: SourcePosition | undefined;
    for (const p of patchedBy) {
      const t = read(p.file);
      const hit = t === undefined ? undefined : patchPosition(t, p.file, r, path);
      if (hit?.exact) return hit.pos;
      loose ??= hit?.pos;
    }
    // No patch wrote this node: it is the file's, at another list index when patches inserted
    // items before it (a route added at the top). The same keys with the same value find it.
    const moved = doc ? sameShapePath(doc.value, path, valueAt(r.object, path)) : undefined;
    if (moved) return doc!.positionOf(moved, "key");
    // Otherwise the object's own file, where it is defined, before a patch that touched other parts.
    return doc?.positionOf(path, "key") ?? loose;
  }
  for (const e of entries) {
    if (e.file.endsWith("/")) continue;
    const file = e.file.replace(/^\.\//, "");
    const text = read(file);
    if (text === undefined) continue;
    // An Application named <cluster>-<release>: the release's entry.
    if (file === "helmfile.yaml")
      return releasePosition(text, (name) => r.name === name || r.name.endsWith(`-${name}`));
    // A chart template (not YAML until helm runs): the line that declares the kind.
    const lines = text.split("\n");
    const at = lines.findIndex((l) => new RegExp(`^kind:\\s*${r.kind}\\s*$`).test(l));
    return { file, line: at >= 0 ? at + 1 : 1, column: 1 };
  }
  return undefined;
}

/** The helmfile.yaml entry of the release `matches` accepts (the longest name wins), else line 1. */
function releasePosition(text: string, matches: (name: string) => boolean): SourcePosition {
  // helmfile.yaml may have several documents (environments first): the one with releases.
  const doc = parse(text, "helmfile.yaml").documents.find((d) => Array.isArray(asObj(d.value).releases));
  const releases = asArray(asObj(doc?.value).releases);
  let best = -1;
  releases.forEach((rel, i) => {
    const name = asObj(rel).name;
    if (typeof name !== "string" || !matches(name)) return;
    if (best < 0 || name.length > String(asObj(releases[best]).name).length) best = i;
  });
  if (doc && best >= 0) return doc.positionOf(["releases", best]);
  return { file: "helmfile.yaml", line: 1, column: 1 };
}

/**
 * A platform chart's object (clusters/<c>/rendered/platform/<release>/...: rendered in memory from
 * the upstream chart, never committed): what the user edits is the release in helmfile.yaml.
 */
export function platformPosition(renderedFile: string, read: ReadSource): SourcePosition | undefined {
  const release = /^clusters\/[^/]+\/rendered\/platform\/([^/]+)\//.exec(renderedFile)?.[1];
  const text = release ? read("helmfile.yaml") : undefined;
  return text === undefined ? undefined : releasePosition(text, (name) => name === release);
}
