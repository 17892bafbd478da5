/**
 * The unit every validation layer works on: one Kubernetes object from one YAML document, with
 * the means to point back at its file, line and column.
 */
import type { ResourceRef, SourcePosition } from "../findings.ts";
import type { SourcePosition as Pos } from "../findings.ts";
import type { YamlPath } from "../yaml-source.ts";
import { CLUSTER_SCOPED_KINDS } from "../kube/kinds.ts";

/** One YAML document: its value and a way to locate nodes in it (possibly computed lazily). */
export interface SourceDoc {
  /** 0-based index of the document in its file. */
  index: number;
  value: unknown;
  positionOf(path: YamlPath, which?: "key" | "value"): Pos;
}

export type Obj = Record<string, unknown>;

export interface Resource {
  /** Sequence number, unique within one validation run. */
  id: number;
  apiVersion: string;
  kind: string;
  /** API group ("" for the core group). */
  group: string;
  name: string;
  /** metadata.namespace as written (undefined for cluster-scoped or unset). */
  namespace?: string;
  /** Effective namespace: metadata.namespace, else `default` (empty for cluster-scoped kinds). */
  ns: string;
  object: Obj;
  /** File shown to the user (relative to the repo root or as given on the command line). */
  file: string;
  doc: SourceDoc;
  /** `# source:` lines of a rendered file: the mesh/chapter/chart file it came from. */
  sources: string[];
  /** In repo mode: "cluster primary at chapter 07-x"; absent in path mode. */
  context?: string;
  /**
   * Registry-only resources (for example the other clusters of the same mesh) are looked up by
   * the rules but never reported on.
   */
  peer?: boolean;
}

export { CLUSTER_SCOPED_KINDS };

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function asObj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function asString(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

export function asStringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(asObj(v)))
    if (val !== null && val !== undefined) out[k] = String(val);
  return out;
}

/** Whether a parsed document is a Kubernetes object at all (apiVersion and kind are strings). */
/** `metadata.labels` of a resource (empty when it has none). */
export function labelsOf(r: Resource): Record<string, string> {
  return asStringMap(asObj(r.object.metadata).labels);
}

export function looksLikeResource(v: unknown): v is Obj {
  return isObj(v) && typeof v.apiVersion === "string" && typeof v.kind === "string";
}

export function toResource(
  id: number,
  doc: SourceDoc,
  file: string,
  extra: { sources?: string[]; context?: string; peer?: boolean } = {},
): Resource {
  const object = doc.value as Obj;
  const apiVersion = String(object.apiVersion);
  const kind = String(object.kind);
  const meta = asObj(object.metadata);
  const name =
    typeof meta.name === "string"
      ? meta.name
      : typeof meta.generateName === "string"
        ? meta.generateName
        : "";
  const namespace = typeof meta.namespace === "string" && meta.namespace ? meta.namespace : undefined;
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.lastIndexOf("/")) : "";
  return {
    id,
    apiVersion,
    kind,
    group,
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    ns: CLUSTER_SCOPED_KINDS.has(kind) ? "" : (namespace ?? "default"),
    object,
    file,
    doc,
    sources: extra.sources ?? [],
    ...(extra.context !== undefined ? { context: extra.context } : {}),
    ...(extra.peer ? { peer: true } : {}),
  };
}

export function refOf(r: Resource): ResourceRef {
  return {
    apiVersion: r.apiVersion,
    kind: r.kind,
    ...(r.namespace ? { namespace: r.namespace } : {}),
    name: r.name,
  };
}

export function positionOf(r: Resource, path: YamlPath = [], which: "key" | "value" = "key"): SourcePosition {
  const p = r.doc.positionOf(path, which);
  return { file: r.file, line: Math.max(1, p.line), column: Math.max(1, p.column) };
}

/**
 * The namespaces an Istio resource is exported to: `exportTo` of its spec (VirtualService,
 * ServiceEntry, DestinationRule) or the `networking.istio.io/exportTo` annotation of a Service.
 * `all` for `*` or nothing set (the default); `.` is its own namespace; `~` exports it nowhere.
 */
export function exportScope(r: Resource): { all: boolean; namespaces: Set<string> } {
  let list: string[] | undefined;
  if (r.kind === "Service") {
    const ann = asObj(asObj(r.object.metadata).annotations)["networking.istio.io/exportTo"];
    if (typeof ann === "string")
      list = ann
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean);
  } else {
    const raw = asObj(r.object.spec).exportTo;
    if (Array.isArray(raw)) list = raw.filter((x): x is string => typeof x === "string");
  }
  if (!list || list.length === 0 || list.includes("*")) return { all: true, namespaces: new Set() };
  return {
    all: false,
    namespaces: new Set(list.filter((x) => x !== "~").map((x) => (x === "." ? r.ns : x))),
  };
}

/** Whether a resource is visible in namespace `ns` (its exportTo). */
export function visibleIn(r: Resource, ns: string): boolean {
  const s = exportScope(r);
  return s.all || s.namespaces.has(ns);
}

/** `kind ns/name` for messages. */
export function describe(r: Resource): string {
  return `${r.kind} ${r.ns ? `${r.ns}/` : ""}${r.name}`;
}

/** The `# source:` header lines of a rendered file. */
export function sourceHeader(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n", 12)) {
    const m = /^#\s*source:\s*(.+)$/.exec(line);
    if (m?.[1]) out.push(m[1].trim());
    else if (!line.startsWith("#")) break;
  }
  return out;
}

/**
 * Rendered in memory from an upstream platform chart (repo mode's `rendered/platform/` files, or
 * any object Argo CD tracks by annotation): its shape is the chart's, not the repository's.
 */
export function fromUpstreamChart(r: Resource): boolean {
  return /(^|\/)rendered\/platform\//.test(r.file);
}
