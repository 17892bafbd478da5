/** `pnpm verify`'s report: pretty (a person), JSON (a script), JUnit (a CI's test view). */
import type { CheckResult } from "./cluster-checks.ts";

export type VerifyFormat = "pretty" | "json" | "junit";
export const VERIFY_FORMATS: VerifyFormat[] = ["pretty", "json", "junit"];

export interface VerifyReport {
  cluster: string;
  chapter: string;
  context: string;
  checks: CheckResult[];
  /** Explanations (a part not run, and why). */
  notes: string[];
  /** The chapter's expectations not sent, and why: neither passed nor failed (JUnit: skipped). */
  notSent?: Array<{ name: string; file: string; line: number; reason: string }>;
}

export function failedChecks(r: VerifyReport): CheckResult[] {
  return r.checks.filter((c) => !c.ok);
}

function xml(s: string): string {
  return s.replace(
    /[<>&"']/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!,
  );
}

export function formatVerify(r: VerifyReport, format: VerifyFormat): string {
  const failed = failedChecks(r);
  if (format === "json")
    return `${JSON.stringify({ ...r, summary: { checks: r.checks.length, failed: failed.length } }, null, 2)}\n`;
  if (format === "junit") {
    const groups = new Map<string, CheckResult[]>();
    for (const c of r.checks) {
      const kind = c.id.split("/")[0]!;
      groups.set(kind, [...(groups.get(kind) ?? []), c]);
    }
    const skipped = r.notSent ?? [];
    const suites = [...groups].map(([kind, list]) => {
      const cases = list
        .map((c) => {
          const attrs = `classname="verify.${xml(r.cluster)}.${xml(kind)}" name="${xml(c.id)}" time="${(c.seconds ?? 0).toFixed(3)}"`;
          return c.ok
            ? `    <testcase ${attrs}/>`
            : `    <testcase ${attrs}>\n      <failure message="${xml(c.message)}"/>\n    </testcase>`;
        })
        .join("\n");
      return `  <testsuite name="verify ${xml(r.cluster)} at ${xml(r.chapter)}: ${xml(kind)}" tests="${list.length}" failures="${list.filter((c) => !c.ok).length}">\n${cases}\n  </testsuite>`;
    });
    if (skipped.length)
      suites.push(
        `  <testsuite name="verify ${xml(r.cluster)} at ${xml(r.chapter)}: not sent" tests="${skipped.length}" failures="0" skipped="${skipped.length}">\n${skipped
          .map(
            (n) =>
              `    <testcase classname="verify.${xml(r.cluster)}.request" name="request/${xml(n.name)}">\n      <skipped message="${xml(n.reason)}"/>\n    </testcase>`,
          )
          .join("\n")}\n  </testsuite>`,
      );
    return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="pnpm verify" tests="${r.checks.length}" failures="${failed.length}">\n${suites.join("\n")}\n</testsuites>\n`;
  }
  const lines = [`verify: cluster ${r.cluster} at chapter ${r.chapter} (kube context ${r.context})`];
  for (const c of r.checks) lines.push(`  ${c.ok ? "ok  " : "FAIL"}  ${c.id}: ${c.message}`);
  for (const n of r.notSent ?? []) lines.push(`  --    request/${n.name}: not sent: ${n.reason}`);
  for (const n of r.notes) lines.push(`  note: ${n}`);
  lines.push(
    (failed.length
      ? `${failed.length} of ${r.checks.length} checks failed`
      : `all ${r.checks.length} checks passed`) +
      (r.notSent?.length ? `; ${r.notSent.length} expectations not sent` : ""),
  );
  return `${lines.join("\n")}\n`;
}
