import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as prettier from "prettier";
import { describe, expect, it } from "vitest";
import { allRuleMetas } from "../../scripts/lib/validate/rules/index.ts";
import { renderRulesDoc, type RuleExample } from "../../scripts/lib/validate/rules-doc.ts";
import {
  coverageRows,
  PEER_CODES,
  renderCoverage,
  withCoverage,
} from "../../scripts/lib/validate/coverage.ts";
import { FIXTURES, REPO_ROOT, SHARED_DIR } from "./helpers.ts";

const DOC = path.join(REPO_ROOT, "scripts/lib/validate/RULES.md");
const README = path.join(REPO_ROOT, "scripts/lib/validate/README.md");
const REFERENCE = path.join(SHARED_DIR, "reference");

/** code -> name of the peers' reference tables (istioctl's and Kiali's). */
function referenceCodes(): Map<string, string> {
  return new Map(
    ["istioctl-analyze-codes.tsv", "kiali-validation-codes.tsv"].flatMap((f) =>
      readFileSync(path.join(REFERENCE, f), "utf8")
        .split("\n")
        .slice(1)
        .filter((l) => l.trim())
        .map((l) => {
          const [code = "", name = ""] = l.split("\t");
          return [code, name] as [string, string];
        }),
    ),
  );
}

describe("RULES.md", () => {
  it("is generated from the registry and up to date (UPDATE_RULES_DOC=1 regenerates it)", async () => {
    const examples = new Map<string, RuleExample>();
    for (const r of allRuleMetas()) {
      const dir = path.join(FIXTURES, "rules", r.code);
      if (existsSync(path.join(dir, "fail.yaml"))) {
        examples.set(r.code, {
          fail: readFileSync(path.join(dir, "fail.yaml"), "utf8"),
          pass: readFileSync(path.join(dir, "pass.yaml"), "utf8"),
        });
      }
    }
    // Formatted the way `pnpm lint` (prettier --check) wants it, so the generated page passes lint.
    const options = (await prettier.resolveConfig(DOC)) ?? {};
    const generated = await prettier.format(renderRulesDoc(allRuleMetas(), examples), {
      ...options,
      filepath: DOC,
    });
    if (process.env.UPDATE_RULES_DOC) writeFileSync(DOC, generated);
    expect(existsSync(DOC), "RULES.md missing: run with UPDATE_RULES_DOC=1").toBe(true);
    expect(readFileSync(DOC, "utf8")).toBe(generated);
    for (const r of allRuleMetas()) expect(generated).toContain(`### ${r.code}`);
  });

  it("documents every rule with a title, description and hint, under a unique code", () => {
    const metas = allRuleMetas();
    expect(new Set(metas.map((m) => m.code)).size).toBe(metas.length);
    for (const m of metas) {
      expect(m.code).toMatch(/^[a-z0-9]+\/[a-z0-9-]+$/);
      expect(m.title.length, m.code).toBeGreaterThan(5);
      expect(m.description.length, m.code).toBeGreaterThan(20);
      expect(m.hint.length, m.code).toBeGreaterThan(5);
      for (const a of m.anchors) expect(a).toMatch(/^(IST\d{4}|KIA\d{4}|kubeconform|CEL)$/);
    }
  });

  it("anchors only codes that exist in istioctl's and Kiali's tables", () => {
    const ref = path.join(SHARED_DIR, "reference");
    const codes = new Set(
      ["istioctl-analyze-codes.tsv", "kiali-validation-codes.tsv"].flatMap((f) =>
        readFileSync(path.join(ref, f), "utf8")
          .split("\n")
          .map((l) => l.split("\t")[0]),
      ),
    );
    for (const m of allRuleMetas())
      for (const a of m.anchors) if (/^(IST|KIA)/.test(a)) expect(codes.has(a), `${m.code}: ${a}`).toBe(true);
  });
});

describe("coverage table in README.md", () => {
  it("is generated from coverage.ts and the registry, and up to date (UPDATE_RULES_DOC=1 regenerates it)", async () => {
    const options = (await prettier.resolveConfig(README)) ?? {};
    const current = readFileSync(README, "utf8");
    const generated = await prettier.format(withCoverage(current, renderCoverage(allRuleMetas())), {
      ...options,
      filepath: README,
    });
    if (process.env.UPDATE_RULES_DOC) writeFileSync(README, generated);
    expect(readFileSync(README, "utf8")).toBe(generated);
  });

  it("lists every IST and KIA code of the reference tables, under the same name", () => {
    const ref = referenceCodes();
    expect(ref.size).toBeGreaterThan(100);
    expect(Object.keys(PEER_CODES).sort()).toEqual([...ref.keys()].sort());
    for (const [code, [name]] of Object.entries(PEER_CODES)) expect(name, code).toBe(ref.get(code));
  });

  it("gives every code a rule or a reason, never both (a stale reason is an error)", () => {
    for (const row of coverageRows(allRuleMetas())) {
      if (row.rules.length)
        expect(row.reason, `${row.code} has a rule (${row.rules.join(", ")}): drop its reason`).toBe("");
      else
        expect(row.reason.length, `${row.code}: no rule anchors it, so give the reason`).toBeGreaterThan(20);
    }
  });
});
