/**
 * RULES.md, generated from the rule registry (and the rules' failing fixtures as examples), so it
 * cannot go stale: test/validate/rules-doc.test.ts fails when the committed page differs.
 * Regenerate with `UPDATE_RULES_DOC=1 pnpm exec vitest run test/validate/rules-doc.test.ts`.
 */
import type { RuleMeta } from "./rule.ts";

export interface RuleExample {
  fail: string;
  pass: string;
}

const LAYERS: Array<[RuleMeta["layer"], string]> = [
  ["yaml", "Layer 1: YAML"],
  ["schema", "Layer 2: schema (kubeconform)"],
  ["cel", "Layer 3: CEL"],
  ["semantic", "Layer 4: semantics across resources"],
  ["server", "The real API server (--server)"],
  ["behaviour", "Layer 5: behaviour (the lessons' promises, through Istio's own config generation)"],
  ["repo", "Repository and configuration"],
];

export function renderRulesDoc(
  rules: readonly RuleMeta[],
  examples: ReadonlyMap<string, RuleExample>,
): string {
  const out: string[] = [
    "# Validation rules",
    "",
    "<!-- Generated from scripts/lib/validate/rules/ by test/validate/rules-doc.test.ts; do not edit. -->",
    "",
    `\`pnpm validate\` checks ${rules.length} rules in five layers. Each finding names its rule, severity, the codes of the tools that report the same problem (anchors: \`IST\` codes of \`istioctl analyze\`, \`KIA\` codes of Kiali, \`kubeconform\`, \`CEL\`), file, line and column, and a fix hint. Select rules with \`--rule\`, skip them with \`--disable\` (\`area/*\` works for both), list them with \`--list-rules\`. Suppress a finding with the annotation \`validate.istio-gitops.dev/ignore: "<rule>: <reason>"\` on the resource, or an entry under \`suppressions:\` in \`.validate.yaml\`; a reason is required.`,
    "",
    "| rule | severity | anchors | checks |",
    "| --- | --- | --- | --- |",
    ...rules.map(
      (r) =>
        `| [\`${r.code}\`](#${anchorOf(r.code)}) | ${r.severity} | ${r.anchors.join(", ") || "-"} | ${r.title} |`,
    ),
    "",
  ];
  for (const [layer, title] of LAYERS) {
    const list = rules.filter((r) => r.layer === layer);
    if (!list.length) continue;
    out.push(`## ${title}`, "");
    for (const r of list) {
      out.push(
        `### ${r.code}`,
        "",
        `**${r.severity}**${r.anchors.length ? ` · same as ${r.anchors.join(", ")}` : ""} · ${r.title}`,
        "",
        r.description,
        "",
        `Fix: ${r.hint}`,
        "",
      );
      const ex = examples.get(r.code);
      if (ex) {
        out.push(
          "Fails:",
          "",
          "```yaml",
          ex.fail.trimEnd(),
          "```",
          "",
          "Passes:",
          "",
          "```yaml",
          ex.pass.trimEnd(),
          "```",
          "",
        );
      }
    }
  }
  return out.join("\n");
}

/** GitHub's anchor of the `### <code>` heading: lower case, punctuation other than - dropped. */
export function anchorOf(code: string): string {
  return code.toLowerCase().replace(/[^a-z0-9 -]/g, "");
}
