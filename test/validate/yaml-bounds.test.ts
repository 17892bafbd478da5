/**
 * YAML bounds that count what matters: the size a document reaches with its aliases expanded (not
 * just how many aliases it has), and the time a file takes to parse.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_YAML_LIMITS, parseYaml } from "../../scripts/lib/yaml-source.ts";

describe("YAML bounds", () => {
  it("refuses 99 aliases to one large string (under the alias count, gigabytes expanded), fast", () => {
    const big = "x".repeat(1024 * 1024);
    const text = `s: &s "${big}"\nl: [${Array(99).fill("*s").join(", ")}]\n---\nok: 1\n`;
    const started = performance.now();
    const r = parseYaml(text, "wide.yaml");
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(r.findings.map((f) => `${f.rule}@${f.line}`)).toEqual(["yaml/alias-limit@1"]);
    expect(r.findings[0]!.message).toMatch(/expanded/);
    // The other document of the file is still read.
    expect(r.documents.map((d) => d.value)).toEqual([{ ok: 1 }]);
  });

  it("keeps ordinary anchors and aliases, and honours a smaller expanded-size limit", () => {
    const text = "base: &b {a: 1, b: two}\nx: *b\ny: *b\n";
    expect(parseYaml(text, "ok.yaml").findings).toEqual([]);
    const tight = parseYaml(text, "ok.yaml", { ...DEFAULT_YAML_LIMITS, maxExpandedBytes: 10 });
    expect(tight.findings.map((f) => f.rule)).toEqual(["yaml/alias-limit"]);
  });

  it("stops reading a file past its parse-time budget, with a finding at the document it stopped at", () => {
    const text = "a: 1\n---\nb: 2\n";
    const r = parseYaml(text, "slow.yaml", { ...DEFAULT_YAML_LIMITS, maxParseMs: -1 });
    expect(r.findings.map((f) => `${f.rule}@${f.file}:${f.line}`)).toEqual(["yaml/too-slow@slow.yaml:1"]);
    expect(r.documents).toEqual([]);
  });
});
