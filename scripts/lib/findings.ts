/**
 * The one shape every problem the tooling reports takes: model errors, composition errors,
 * render errors and validation findings. A finding always points at a file, line and column.
 */
export type Severity = "error" | "warning" | "info";

export interface SourcePosition {
  file: string;
  /** 1-based */
  line: number;
  /** 1-based */
  column: number;
}

export interface ResourceRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface Finding extends SourcePosition {
  /** Stable rule code, for example `model/unknown-key` or `vs-destination-host`. */
  rule: string;
  severity: Severity;
  /** Codes of the tools that report the same problem: IST0101, KIA1101, kubeconform, CEL. */
  anchors: string[];
  message: string;
  /** What to do about it. */
  hint: string;
  resource?: ResourceRef;
}

/** Thrown by the pure core when it cannot go on; CLIs print the findings and exit non-zero. */
export class FindingsError extends Error {
  constructor(readonly findings: Finding[]) {
    super(findings.map(formatFindingLine).join("\n"));
    this.name = "FindingsError";
  }
}

export function formatFindingLine(f: Finding): string {
  return `${f.file}:${f.line}:${f.column}: ${f.severity} ${f.rule}: ${f.message}${f.hint ? ` (${f.hint})` : ""}`;
}

export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === "error");
}

export function compareFindings(a: Finding, b: Finding): number {
  return (
    a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.rule.localeCompare(b.rule)
  );
}
