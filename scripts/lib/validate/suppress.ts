/**
 * Suppressions, each with a reason: the `validate.istio-gitops.dev/ignore` annotation on a
 * resource ("<rule>: <reason>", one per line), and `suppressions:` in .validate.yaml.
 */
import type { Finding } from "../findings.ts";
import { asObj, type Resource } from "./resource.ts";
import type { Suppression } from "./config.ts";

export const IGNORE_ANNOTATION = "validate.istio-gitops.dev/ignore";

export interface Suppressible {
  finding: Finding;
  resource?: Resource;
}

export interface AnnotationEntry {
  rule: string;
  reason: string;
}

/** Parses the annotation; entries without a reason come back with an empty reason. */
export function parseIgnoreAnnotation(value: string): AnnotationEntry[] {
  return value
    .split(/\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const i = l.indexOf(":");
      return i < 0 ? { rule: l, reason: "" } : { rule: l.slice(0, i).trim(), reason: l.slice(i + 1).trim() };
    });
}

export function ruleMatches(pattern: string, code: string): boolean {
  return (
    pattern === code || pattern === "*" || (pattern.endsWith("/*") && code.startsWith(pattern.slice(0, -1)))
  );
}

export function globMatches(pattern: string, value: string): boolean {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      re += ".*";
      i++;
      if (pattern[i + 1] === "/") i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`).test(value);
}

function resourceMatches(pattern: string, f: Finding): boolean {
  const r = f.resource;
  if (!r) return false;
  const parts = pattern.split("/");
  const [kind, a, b] = parts as [string, string | undefined, string | undefined];
  const ns = parts.length === 3 ? a : undefined;
  const name = parts.length === 3 ? b : a;
  return (
    globMatches(kind, r.kind) &&
    (ns === undefined || globMatches(ns, r.namespace ?? "")) &&
    name !== undefined &&
    globMatches(name, r.name)
  );
}

export function applySuppressions<T extends Suppressible>(
  drafts: T[],
  config: readonly Suppression[],
): { kept: T[]; suppressed: T[] } {
  const kept: T[] = [];
  const suppressed: T[] = [];
  const warned = new Set<Resource>();
  for (const d of drafts) {
    const f = d.finding;
    const ann = d.resource
      ? asObj(asObj(d.resource.object.metadata).annotations)[IGNORE_ANNOTATION]
      : undefined;
    if (typeof ann === "string" && d.resource) {
      const entries = parseIgnoreAnnotation(ann);
      const bad = entries.filter((e) => !e.reason);
      if (bad.length && !warned.has(d.resource)) {
        warned.add(d.resource);
        const pos = d.resource.doc.positionOf(["metadata", "annotations", IGNORE_ANNOTATION]);
        kept.push({
          ...d,
          finding: {
            file: f.file,
            line: pos.line,
            column: pos.column,
            rule: "validate/suppression",
            severity: "error",
            anchors: [],
            message: `suppression of ${bad.map((e) => e.rule).join(", ")} has no reason, so it is not applied`,
            hint: `write "<rule>: <reason>", one per line, in ${IGNORE_ANNOTATION}`,
            resource: f.resource,
          },
        } as T);
      }
      if (entries.some((e) => e.reason && ruleMatches(e.rule, f.rule))) {
        suppressed.push(d);
        continue;
      }
    }
    const byConfig = config.some(
      (s) =>
        ruleMatches(s.rule, f.rule) &&
        (s.file === undefined || globMatches(s.file, f.file)) &&
        (s.resource === undefined || resourceMatches(s.resource, f)),
    );
    if (byConfig) {
      suppressed.push(d);
      continue;
    }
    kept.push(d);
  }
  return { kept, suppressed };
}
