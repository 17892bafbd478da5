/** Output formats of `pnpm validate`: pretty, json, sarif (2.1.0), github (annotations), junit. Pure: result in, text out. */
import { createHash } from "node:crypto";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { ValidationFinding, ValidationResult } from "./engine.ts";
import type { RuleMeta } from "./rule.ts";
import { anchorOf } from "./rules-doc.ts";

const RULES_URL =
  "https://github.com/istio-gitops-workshop/istio-gitops-workshop/blob/main/scripts/lib/validate/RULES.md";

/** Where a rule is documented: its RULES.md section (model/* and compose/* under repo/model). */
export function ruleHelpUri(code: string, documented: ReadonlySet<string>): string {
  if (documented.has(code)) return `${RULES_URL}#${anchorOf(code)}`;
  if (/^(model|compose)\//.test(code) && documented.has("repo/model"))
    return `${RULES_URL}#${anchorOf("repo/model")}`;
  return RULES_URL;
}

export const FORMATS = ["pretty", "json", "sarif", "github", "junit"] as const;
export type Format = (typeof FORMATS)[number];

export function format(
  kind: Format,
  result: ValidationResult,
  rules: readonly RuleMeta[],
  color = false,
): string {
  switch (kind) {
    case "json":
      return JSON.stringify({ findings: result.findings, summary: result.summary }, null, 2) + "\n";
    case "sarif":
      return JSON.stringify(toSarif(result, rules), null, 2) + "\n";
    case "github":
      return toGithub(result);
    case "junit":
      return toJunit(result);
    default:
      return toPretty(result, color);
  }
}

export function summaryLine(r: ValidationResult): string {
  const s = r.summary;
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
  return `${plural(s.errors, "error")}, ${plural(s.warnings, "warning")}, ${plural(s.infos, "info")} in ${plural(s.resources, "resource")} from ${plural(s.files, "file")}${s.suppressed ? ` (${s.suppressed} suppressed)` : ""} in ${(s.durationMs / 1000).toFixed(1)}s`;
}

function toPretty(result: ValidationResult, color: boolean): string {
  const paint = (code: string, s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const sev = { error: paint("31", "error"), warning: paint("33", "warning"), info: paint("36", "info") };
  const lines: string[] = [];
  let current = "";
  for (const f of result.findings) {
    if (f.file !== current) {
      if (current) lines.push("");
      current = f.file;
      lines.push(paint("1;4", f.file));
    }
    const anchors = f.anchors.length ? paint("2", ` [${f.anchors.join(", ")}]`) : "";
    lines.push(
      `  ${f.file}:${f.line}:${f.column}  ${sev[f.severity]}  ${paint("1", f.rule)}  ${f.message}${anchors}`,
    );
    if (f.hint) lines.push(paint("2", `      hint: ${f.hint}`));
    // The behaviour layer's hop trace: what each proxy did with the request.
    if (f.detail) for (const l of f.detail.split("\n")) lines.push(paint("2", `        ${l}`));
    if (f.context) lines.push(paint("2", `      in: ${f.context}`));
    if (f.rendered) lines.push(paint("2", `      rendered: ${renderedAt(f)}`));
  }
  if (lines.length) lines.push("");
  lines.push(summaryLine(result));
  return lines.join("\n") + "\n";
}

const SARIF_LEVEL = { error: "error", warning: "warning", info: "note" } as const;

export function toSarif(result: ValidationResult, rules: readonly RuleMeta[]): unknown {
  const used = new Set(result.findings.map((f) => f.rule));
  const seenPrints = new Map<string, number>();
  const fingerprint = (f: ValidationFinding): string => {
    const base = fingerprintOf(f);
    const n = (seenPrints.get(base) ?? 0) + 1;
    seenPrints.set(base, n);
    return n === 1 ? base : `${base}:${n}`;
  };
  const known = new Map(rules.map((r) => [r.code, r] as const));
  const documented = new Set(known.keys());
  const driverRules = [
    ...rules,
    ...[...used]
      .filter((c) => !known.has(c))
      .map((c) => ({
        code: c,
        title: c,
        description: c,
        hint: "",
        severity: "error" as const,
        anchors: [],
        layer: "repo" as const,
      })),
  ];
  const indexOf = new Map(driverRules.map((r, i) => [r.code, i] as const));
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "istio-gitops-validate",
            informationUri: RULES_URL,
            version: "0.1.0",
            rules: driverRules.map((r) => ({
              id: r.code,
              name: r.code.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) =>
                c ? c.toUpperCase() : "",
              ),
              shortDescription: { text: r.title },
              helpUri: ruleHelpUri(r.code, documented),
              fullDescription: { text: r.description || r.title },
              help: {
                text: `${r.description}\n\nFix: ${r.hint}`,
                markdown: `${r.description}\n\n**Fix:** ${r.hint}${r.anchors.length ? `\n\nSame as: ${r.anchors.join(", ")}` : ""}`,
              },
              defaultConfiguration: { level: SARIF_LEVEL[r.severity] },
              properties: { tags: [r.layer, ...r.anchors] },
            })),
          },
        },
        results: result.findings.map((f) => ({
          ruleId: f.rule,
          ruleIndex: indexOf.get(f.rule) ?? 0,
          level: SARIF_LEVEL[f.severity],
          message: {
            text: `${f.message}${f.detail ? `\n${f.detail}` : ""}${f.hint ? `\nFix: ${f.hint}` : ""}`,
          },
          locations: [
            {
              physicalLocation: {
                artifactLocation: artifactLocation(f.file),
                region: { startLine: f.line, startColumn: f.column },
              },
            },
          ],
          // The rendered file exists only in memory (a chapter ahead of the pin): a related location.
          ...(f.rendered
            ? {
                relatedLocations: [
                  {
                    id: 1,
                    message: { text: `rendered as ${renderedAt(f)}` },
                    physicalLocation: {
                      artifactLocation: artifactLocation(f.rendered.file),
                      region: { startLine: f.rendered.line, startColumn: f.rendered.column },
                    },
                  },
                ],
              }
            : {}),
          partialFingerprints: { primaryLocationLineHash: fingerprint(f) },
          ...(f.anchors.length || f.context
            ? { properties: { anchors: f.anchors, ...(f.context ? { context: f.context } : {}) } }
            : {}),
        })),
        columnKind: "unicodeCodePoints",
      },
    ],
  };
}

function renderedAt(f: ValidationFinding): string {
  return f.rendered ? `${f.rendered.file}:${f.rendered.line}:${f.rendered.column}` : "";
}

function sarifUri(file: string): string {
  if (file === "<stdin>") return "stdin";
  return file.split("/").map(encodeURIComponent).join("/");
}

/** Relative paths are relative to %SRCROOT%; an absolute path is a file: URI of its own. */
function artifactLocation(file: string): { uri: string; uriBaseId?: string } {
  if (path.isAbsolute(file)) return { uri: pathToFileURL(file).href };
  return { uri: sarifUri(file), uriBaseId: "%SRCROOT%" };
}

/**
 * Distinct for distinct findings (two findings of one rule on one resource must not be merged by
 * code scanning), stable when unrelated lines move: rule, file, resource and a hash of the message.
 */
function fingerprintOf(f: ValidationFinding): string {
  const where = f.resource ? `${f.resource.kind}/${f.resource.namespace ?? ""}/${f.resource.name}` : "";
  const hash = createHash("sha256").update(f.message).digest("hex").slice(0, 16);
  return `${f.rule}:${f.file}:${where}:${hash}`;
}

function escapeData(s: string): string {
  return s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
}

function toGithub(result: ValidationResult): string {
  const level = { error: "error", warning: "warning", info: "notice" } as const;
  const lines = result.findings.map(
    (f: ValidationFinding) =>
      `::${level[f.severity]} file=${escapeProperty(f.file)},line=${f.line},col=${f.column},title=${escapeProperty(f.rule)}::${escapeData(`${f.message}${f.hint ? ` (fix: ${f.hint})` : ""}${f.rendered ? ` (rendered as ${renderedAt(f)})` : ""}`)}`,
  );
  lines.push(summaryLine(result));
  return lines.join("\n") + "\n";
}

/** XML-escapes text and drops the control characters XML 1.0 does not allow. */
function xml(s: string): string {
  const allowed = [...s].filter((c) => {
    const code = c.charCodeAt(0);
    return code >= 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
  });
  return allowed
    .join("")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

function toJunit(result: ValidationResult): string {
  const byFile = new Map<string, ValidationFinding[]>();
  for (const f of result.findings) byFile.set(f.file, [...(byFile.get(f.file) ?? []), f]);
  const failures = result.findings.filter((f) => f.severity !== "info").length;
  const cases: string[] = [];
  for (const [file, list] of byFile) {
    for (const f of list) {
      const name = xml(`${f.rule} ${file}:${f.line}:${f.column}`);
      if (f.severity === "info") {
        cases.push(
          `    <testcase classname="${xml(file)}" name="${name}"><system-out>${xml(f.message)}</system-out></testcase>`,
        );
      } else {
        cases.push(
          `    <testcase classname="${xml(file)}" name="${name}">\n      <failure type="${xml(f.rule)}" message="${xml(f.message)}">${xml(`${f.severity}: ${f.message}\nhint: ${f.hint}\nat ${file}:${f.line}:${f.column}${f.rendered ? `\nrendered as ${renderedAt(f)}` : ""}`)}</failure>\n    </testcase>`,
        );
      }
    }
  }
  if (cases.length === 0) cases.push(`    <testcase classname="validate" name="all resources valid"/>`);
  const s = result.summary;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="pnpm validate" tests="${Math.max(1, result.findings.length)}" failures="${failures}" time="${(s.durationMs / 1000).toFixed(3)}">`,
    `  <testsuite name="validate" tests="${Math.max(1, result.findings.length)}" failures="${failures}" errors="0" skipped="0" time="${(s.durationMs / 1000).toFixed(3)}">`,
    ...cases,
    `  </testsuite>`,
    `</testsuites>`,
    "",
  ].join("\n");
}

export function listRules(rules: readonly RuleMeta[]): string {
  const w = Math.max(...rules.map((r) => r.code.length));
  return (
    rules
      .map(
        (r) =>
          `${r.code.padEnd(w)}  ${r.severity.padEnd(7)}  ${(r.anchors.join(",") || "-").padEnd(22)}  ${r.title}`,
      )
      .join("\n") + `\n\n${rules.length} rules; details and examples: scripts/lib/validate/RULES.md\n`
  );
}
