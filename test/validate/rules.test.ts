/**
 * Table-driven: every semantic rule has a failing and a passing fixture
 * (fixtures/rules/<rule>/{fail,pass}.yaml). The rules run in-process; one kubeconform run over all
 * fixtures checks that the fixtures themselves are valid manifests (so each fails for one reason).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SEMANTIC_RULES } from "../../scripts/lib/validate/rules/index.ts";
import { FIXTURE_REPO, FIXTURES, fileInput, filesUnder, pathScope, run } from "./helpers.ts";

const dir = (code: string) => path.join(FIXTURES, "rules", code);

/**
 * The scopes of a fixture: the fixture alone, or, when the rule's folder has a `peer.yaml` (rules
 * about the clusters of one mesh), the fixture and the peer file as two clusters of one mesh.
 */
function scopesOf(code: string, file: string) {
  const own = pathScope([fileInput(path.join(dir(code), file))], FIXTURE_REPO);
  const peer = path.join(dir(code), "peer.yaml");
  if (!existsSync(peer)) return [own];
  return [
    { ...own, peerGroup: "fixture-mesh" },
    { ...pathScope([fileInput(peer)], FIXTURE_REPO), peerGroup: "fixture-mesh" },
  ];
}
const isPeer = (file: string) => file.endsWith("peer.yaml");

describe("semantic rules: failing and passing fixtures", () => {
  it("every rule has both fixtures", () => {
    const missing = SEMANTIC_RULES.flatMap((r) =>
      ["fail.yaml", "pass.yaml"]
        .filter((f) => !existsSync(path.join(dir(r.code), f)))
        .map((f) => `${r.code}/${f}`),
    );
    expect(missing).toEqual([]);
  });

  for (const rule of SEMANTIC_RULES) {
    it(`${rule.code}: the failing fixture yields it, located; the passing one does not`, async () => {
      const fail = await run(scopesOf(rule.code, "fail.yaml"), { rules: [rule.code] });
      const hits = fail.findings.filter((f) => f.rule === rule.code && !isPeer(f.file));
      expect(hits.length, JSON.stringify(fail.findings, null, 1)).toBeGreaterThan(0);
      for (const f of hits) {
        expect(f.line).toBeGreaterThanOrEqual(1);
        expect(f.column).toBeGreaterThanOrEqual(1);
        expect(f.file).toContain(`rules/${rule.code}/fail.yaml`);
        expect(f.message.length).toBeGreaterThan(10);
        expect(f.hint).toBe(rule.hint);
        expect(f.resource?.kind).toBeTruthy();
        // A rule's findings carry codes from its own anchor list, and at least one when it has any.
        if (rule.anchors.length) {
          expect(f.anchors.length).toBeGreaterThan(0);
          expect(rule.anchors).toEqual(expect.arrayContaining(f.anchors));
        }
      }
      const pass = await run(scopesOf(rule.code, "pass.yaml"), { rules: [rule.code] });
      expect(pass.findings.filter((f) => f.rule === rule.code && !isPeer(f.file))).toEqual([]);
    });
  }

  it("fixtures are otherwise valid: no YAML, schema (real kubeconform) or CEL errors", async () => {
    const scopes = SEMANTIC_RULES.flatMap((r) =>
      ["fail.yaml", "pass.yaml", "peer.yaml"]
        .filter((f) => existsSync(path.join(dir(r.code), f)))
        .map((f) => pathScope([fileInput(path.join(dir(r.code), f))], FIXTURE_REPO)),
    );
    const result = await run(scopes, { rules: ["yaml/*", "schema/*", "cel/*"] });
    expect(result.findings).toEqual([]);
    expect(result.summary.resources).toBeGreaterThan(100);
  });

  // False positives matter as much as misses: Istio's own samples, as their READMEs apply them.
  for (const sample of ["bookinfo", "samples/helloworld", "samples/multicluster", "samples/gateway-api"]) {
    it(`every rule is quiet on Istio's ${sample} shape (no finding of any severity)`, async () => {
      const files = filesUnder(path.join(FIXTURES, sample));
      expect(files.length).toBeGreaterThan(1);
      const result = await run([pathScope(files.map((f) => fileInput(f)))]);
      expect(result.findings).toEqual([]);
      expect(result.summary.resources).toBeGreaterThan(5);
    });
  }
});
