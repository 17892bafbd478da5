/**
 * YAML parsing that keeps positions, so that every error can name file, line and column.
 * Hardened against hostile input: duplicate keys are errors and alias expansion is bounded
 * (a "billion laughs" file fails fast instead of eating memory).
 */
import {
  LineCounter,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseAllDocuments,
  type Document,
  type Node,
} from "yaml";
import type { Finding, SourcePosition } from "./findings.ts";

export type YamlPath = ReadonlyArray<string | number>;

export interface YamlLimits {
  /** Largest file accepted, in bytes. */
  maxBytes: number;
  /** Upper bound on alias dereferences per document (yaml's own guard against alias bombs). */
  maxAliasCount: number;
  /**
   * Upper bound on a document's size with every alias expanded, in bytes of scalar text: counting
   * aliases is not enough (99 aliases to one 50 MB string are "99" to yaml, and gigabytes after).
   */
  maxExpandedBytes?: number;
  /** Parse time per file, in ms: past it the remaining documents are not read (a finding says so). */
  maxParseMs?: number;
}

export const DEFAULT_YAML_LIMITS: YamlLimits = {
  maxBytes: 8 * 1024 * 1024,
  maxAliasCount: 100,
  maxExpandedBytes: 32 * 1024 * 1024,
  maxParseMs: 10_000,
};

/**
 * The scalar text a node amounts to with aliases expanded, computed once per node (so the walk is
 * linear in the document, whatever the expansion); Infinity for an alias cycle.
 */
export function expandedSize(root: unknown, doc: Document.Parsed, limit: number): number {
  const memo = new Map<unknown, number>();
  const active = new Set<unknown>();
  const size = (node: unknown): number => {
    if (node === null || node === undefined) return 0;
    const known = memo.get(node);
    if (known !== undefined) return known;
    if (active.has(node)) return Infinity;
    active.add(node);
    let n = 0;
    if (isAlias(node)) n = size(node.resolve(doc));
    else if (isScalar(node)) n = String(node.value ?? "").length;
    else if (isMap(node) || isSeq(node)) {
      for (const item of node.items as unknown[]) {
        n += isPair(item) ? size(item.key) + size(item.value) + 1 : size(item) + 1;
        // Stop early: the exact size of a bomb does not matter, only that it is over.
        if (n > limit) break;
      }
    }
    active.delete(node);
    memo.set(node, n);
    return n;
  };
  return size(root);
}

export interface ParsedDocument {
  file: string;
  /** 0-based index of the document in its file. */
  index: number;
  doc: Document.Parsed;
  /** The plain JS value, or undefined for an empty document. */
  value: unknown;
  positionOf(path: YamlPath, which?: "key" | "value"): SourcePosition;
}

export interface ParsedFile {
  file: string;
  documents: ParsedDocument[];
  findings: Finding[];
}

function yamlFinding(
  file: string,
  pos: { line: number; col: number },
  message: string,
  hint: string,
): Finding {
  return {
    file,
    line: pos.line,
    column: pos.col,
    rule: "yaml/syntax",
    severity: "error",
    anchors: [],
    message,
    hint,
  };
}

/** A file that was not read at all (not a regular file, a symlink loop, over the size limit). */
export function unreadableFinding(file: string, reason: string, hint: string): Finding {
  return {
    ...yamlFinding(file, { line: 1, col: 1 }, `${file} ${reason}`, hint),
    rule: /bytes/.test(reason) ? "yaml/too-large" : "yaml/unreadable",
  };
}

export function parseYaml(text: string, file: string, limits: YamlLimits = DEFAULT_YAML_LIMITS): ParsedFile {
  const size = Buffer.byteLength(text, "utf8");
  if (size > limits.maxBytes) {
    return {
      file,
      documents: [],
      findings: [
        {
          ...yamlFinding(
            file,
            { line: 1, col: 1 },
            `file is ${size} bytes, over the limit of ${limits.maxBytes}`,
            "",
          ),
          rule: "yaml/too-large",
          hint: "split the file, or raise the limit in the validation config if it is really meant to be this big",
        },
      ],
    };
  }
  const started = performance.now();
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const findings: Finding[] = [];
  const documents: ParsedDocument[] = [];
  const list = Array.isArray(docs) ? docs : [];
  if (!Array.isArray(docs)) {
    // An EmptyStream: nothing but comments or whitespace.
    return { file, documents, findings };
  }
  const maxMs = limits.maxParseMs ?? DEFAULT_YAML_LIMITS.maxParseMs!;
  const maxExpanded = limits.maxExpandedBytes ?? DEFAULT_YAML_LIMITS.maxExpandedBytes!;
  let overTime = false;
  list.forEach((doc, index) => {
    if (overTime) return;
    const elapsed = performance.now() - started;
    if (elapsed > maxMs) {
      overTime = true;
      const pos = lineCounter.linePos(doc.range[0]);
      findings.push({
        ...yamlFinding(
          file,
          pos,
          `parsing took ${Math.round(elapsed)} ms, over the limit of ${maxMs} ms; documents from here on were not read`,
          "",
        ),
        rule: "yaml/too-slow",
        hint: "split the file, or simplify it (deep nesting, many aliases); the limit is limits.maxParseMs in the validation config",
      });
      return;
    }
    // The parser's errors after the first syntax error of a document mostly follow from it (one
    // unclosed bracket gives three); one mistake, one finding: the first, with a count of the rest.
    const syntax = doc.errors.filter((e) => e.code !== "DUPLICATE_KEY");
    const more =
      syntax.length > 1
        ? ` (${syntax.length - 1} more error(s) after it in this document, most likely caused by it)`
        : "";
    for (const err of doc.errors) {
      const duplicate = err.code === "DUPLICATE_KEY";
      if (!duplicate && err !== syntax[0]) continue;
      const pos = lineCounter.linePos(err.pos[0]);
      findings.push({
        ...yamlFinding(
          file,
          pos,
          duplicate ? firstLine(err.message) : `YAML syntax error: ${firstLine(err.message)}${more}`,
          duplicate
            ? "remove one of the two keys; YAML keeps only the last and silently drops the other"
            : "fix the YAML syntax at this position",
        ),
        rule: duplicate ? "yaml/duplicate-key" : "yaml/syntax",
      });
    }
    if (doc.errors.length > 0) return;
    const expanded = expandedSize(doc.contents, doc, maxExpanded);
    if (expanded > maxExpanded) {
      const pos = lineCounter.linePos(doc.range[0]);
      findings.push({
        ...yamlFinding(
          file,
          pos,
          Number.isFinite(expanded)
            ? `with its aliases expanded this document is over ${maxExpanded} bytes`
            : "this document has an alias that refers to itself",
          "",
        ),
        rule: "yaml/alias-limit",
        hint: "this document expands aliases excessively (a YAML bomb?); write the values out or reduce the aliases",
      });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: limits.maxAliasCount });
    } catch (e) {
      const pos = lineCounter.linePos(doc.range[0]);
      findings.push({
        ...yamlFinding(file, pos, `alias expansion stopped: ${firstLine((e as Error).message)}`, ""),
        rule: "yaml/alias-limit",
        hint: "this document expands aliases excessively (a YAML bomb?); write the values out or reduce the aliases",
      });
      return;
    }
    documents.push({
      file,
      index,
      doc,
      value: value ?? undefined,
      positionOf: (path, which = "key") => positionIn(doc, lineCounter, file, path, which),
    });
  });
  return { file, documents, findings };
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}

/** Position of the node at `path`, or of the deepest existing ancestor when the path does not exist. */
function positionIn(
  doc: Document.Parsed,
  lineCounter: LineCounter,
  file: string,
  path: YamlPath,
  which: "key" | "value",
): SourcePosition {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? doc.range[0];
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment),
      );
      if (!pair) break;
      const keyNode = pair.key as Node;
      const valueNode = pair.value as Node | null;
      offset =
        last && which === "key"
          ? (keyNode.range?.[0] ?? offset)
          : (valueNode?.range?.[0] ?? keyNode.range?.[0] ?? offset);
      node = valueNode;
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  const pos = lineCounter.linePos(offset);
  return { file, line: pos.line, column: pos.col };
}

/** Splits a JSON Pointer (RFC 6901) into path segments; numeric segments become numbers. */
export function pointerToPath(pointer: string): Array<string | number> {
  if (pointer === "" || pointer === "/") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}
