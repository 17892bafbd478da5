/** The CLI: exit codes, path mode (files, folders, stdin), rule selection, --list-rules, output formats. */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { format } from "../../scripts/lib/validate/format.ts";
import type { ValidationResult } from "../../scripts/lib/validate/engine.ts";
import { allRuleMetas } from "../../scripts/lib/validate/rules/index.ts";
import { REPO_ROOT, SCHEMA_ROOT, TSX } from "./helpers.ts";

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], stdin?: string): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(TSX, [path.join(REPO_ROOT, "scripts/validate.ts"), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, VALIDATE_SCHEMA_ROOT: SCHEMA_ROOT },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin ?? "");
  });
}

const BOOKINFO = "test/validate/fixtures/bookinfo";
const SCHEMA_ERRORS = "test/validate/fixtures/layers/schema-errors.yaml";
const WARNING_ONLY = "test/validate/fixtures/rules/authz/wrong-method/fail.yaml";

describe("pnpm validate (CLI)", () => {
  const runs: Record<string, Ran> = {};
  beforeAll(async () => {
    const jobs: Record<string, Promise<Ran>> = {
      clean: cli([BOOKINFO, "--format", "json"]),
      broken: cli([SCHEMA_ERRORS, "--format", "json"]),
      stdin: cli(["-", "--format", "json"], readFileSync(path.join(REPO_ROOT, SCHEMA_ERRORS), "utf8")),
      warnings: cli([WARNING_ONLY]),
      maxWarnings: cli([WARNING_ONLY, "--max-warnings", "0"]),
      disabled: cli([SCHEMA_ERRORS, "--disable", "schema/*", "--format", "json"]),
      badFormat: cli([BOOKINFO, "--format", "xml"]),
      badRule: cli([BOOKINFO, "--rule", "vs/nope"]),
      badPath: cli(["does/not/exist.yaml"]),
      list: cli(["--list-rules"]),
    };
    for (const [k, p] of Object.entries(jobs)) runs[k] = await p;
  }, 120_000);

  it("exits 0 on a clean mesh and prints JSON findings and summary", () => {
    expect(runs.clean!.code, runs.clean!.stderr).toBe(0);
    const out = JSON.parse(runs.clean!.stdout) as ValidationResult;
    expect(out.findings).toEqual([]);
    expect(out.summary).toMatchObject({ errors: 0, warnings: 0, resources: 37, files: 6 });
  });

  it("exits 1 on errors, from files and from standard input", () => {
    expect(runs.broken!.code).toBe(1);
    const out = JSON.parse(runs.broken!.stdout) as ValidationResult;
    expect(out.summary.errors).toBe(4);
    expect(runs.stdin!.code).toBe(1);
    const fromStdin = JSON.parse(runs.stdin!.stdout) as ValidationResult;
    expect(fromStdin.findings.map((f) => [f.file, f.line, f.rule])).toEqual(
      out.findings.map((f) => ["<stdin>", f.line, f.rule]),
    );
  });

  it("warnings alone pass, unless over --max-warnings", () => {
    expect(runs.warnings!.code).toBe(0);
    expect(runs.warnings!.stdout).toMatch(/warning\s+authz\/wrong-method/);
    expect(runs.maxWarnings!.code).toBe(1);
  });

  it("--disable drops a rule area", () => {
    expect(runs.disabled!.code).toBe(0);
    expect((JSON.parse(runs.disabled!.stdout) as ValidationResult).findings).toEqual([]);
  });

  it("exits 2 on usage errors", () => {
    for (const k of ["badFormat", "badRule", "badPath"]) {
      expect(runs[k]!.code, k).toBe(2);
      expect(runs[k]!.stderr, k).toMatch(/usage error/);
    }
  });

  it("--list-rules lists every rule", () => {
    expect(runs.list!.code).toBe(0);
    for (const r of allRuleMetas()) expect(runs.list!.stdout).toContain(r.code);
  });
});

describe("output formats", () => {
  const result: ValidationResult = {
    findings: [
      {
        file: "clusters/primary/rendered/mesh/workshop/virtualservice-a.yaml",
        line: 12,
        column: 9,
        rule: "vs/destination-host",
        severity: "error",
        anchors: ["IST0101", "KIA1101"],
        message:
          "VirtualService workshop/a routes to host 'b', which no Service or ServiceEntry defines, 100%, a:b",
        hint: "fix the host",
        resource: {
          apiVersion: "networking.istio.io/v1",
          kind: "VirtualService",
          namespace: "workshop",
          name: "a",
        },
      },
      {
        file: "x.yaml",
        line: 1,
        column: 1,
        rule: "svc/port-protocol",
        severity: "warning",
        anchors: [],
        message: "port <web> & more",
        hint: "",
      },
    ],
    summary: { errors: 1, warnings: 1, infos: 0, resources: 2, files: 2, durationMs: 10, suppressed: 0 },
  };
  const rules = allRuleMetas();

  it("sarif is 2.1.0 with rules (help text) and located results", () => {
    const sarif = JSON.parse(format("sarif", result, rules)) as {
      version: string;
      runs: Array<{
        tool: { driver: { rules: Array<{ id: string; help: { text: string } }> } };
        results: Array<{
          ruleId: string;
          ruleIndex: number;
          level: string;
          locations: Array<{
            physicalLocation: {
              artifactLocation: { uri: string };
              region: { startLine: number; startColumn: number };
            };
          }>;
        }>;
      }>;
    };
    expect(sarif.version).toBe("2.1.0");
    const run = sarif.runs[0]!;
    expect(run.tool.driver.rules.length).toBe(rules.length);
    for (const r of run.tool.driver.rules) expect(r.help.text.length).toBeGreaterThan(10);
    const first = run.results[0]!;
    expect(first.level).toBe("error");
    expect(run.tool.driver.rules[first.ruleIndex]!.id).toBe(first.ruleId);
    expect(first.locations[0]!.physicalLocation).toEqual({
      artifactLocation: {
        uri: "clusters/primary/rendered/mesh/workshop/virtualservice-a.yaml",
        uriBaseId: "%SRCROOT%",
      },
      region: { startLine: 12, startColumn: 9 },
    });
    expect(run.results[1]!.level).toBe("warning");
  });

  it("sarif rules link their RULES.md section (helpUri), anchors that exist in the page", () => {
    const modelFinding = { ...result.findings[0]!, rule: "model/invalid-chapter" };
    const sarif = JSON.parse(
      format("sarif", { ...result, findings: [...result.findings, modelFinding] }, rules),
    ) as { runs: Array<{ tool: { driver: { rules: Array<{ id: string; helpUri?: string }> } } }> };
    const page = readFileSync(path.join(REPO_ROOT, "scripts/lib/validate/RULES.md"), "utf8");
    // GitHub's heading slugs, computed here independently of the generator.
    const anchors = new Set(
      [...page.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\p{L}\p{N} _-]/gu, "")
          .replace(/ /g, "-"),
      ),
    );
    const driver = sarif.runs[0]!.tool.driver.rules;
    expect(driver.length).toBe(rules.length + 1);
    for (const r of driver) {
      const [base, anchor] = (r.helpUri ?? "").split("#");
      expect(base, r.id).toMatch(/^https:\/\/github\.com\/.+\/scripts\/lib\/validate\/RULES\.md$/);
      expect(anchors.has(anchor ?? ""), `${r.id}: #${anchor} is not a heading of RULES.md`).toBe(true);
    }
    expect(driver.find((r) => r.id === "vs/subset-not-found")!.helpUri).toMatch(/#vssubset-not-found$/);
    expect(driver.find((r) => r.id === "model/invalid-chapter")!.helpUri).toMatch(/#repomodel$/);
  });

  it("sarif fingerprints keep two findings of one rule on one resource apart; absolute paths are file: URIs", () => {
    const twin = {
      ...result.findings[0]!,
      line: 14,
      message: result.findings[0]!.message.replace("'b'", "'c'"),
    };
    const abs = { ...result.findings[1]!, file: "/tmp/some dir/x.yaml" };
    const sarif = JSON.parse(
      format("sarif", { ...result, findings: [result.findings[0]!, twin, abs, abs] }, rules),
    ) as {
      runs: Array<{
        results: Array<{
          partialFingerprints: Record<string, string>;
          locations: Array<{ physicalLocation: { artifactLocation: { uri: string; uriBaseId?: string } } }>;
        }>;
      }>;
    };
    const res = sarif.runs[0]!.results;
    const prints = res.map((r) => JSON.stringify(r.partialFingerprints));
    expect(new Set(prints).size).toBe(4);
    expect(res[2]!.locations[0]!.physicalLocation.artifactLocation).toEqual({
      uri: "file:///tmp/some%20dir/x.yaml",
    });
  });

  it("github prints escaped workflow annotations", () => {
    const lines = format("github", result, rules).split("\n");
    expect(lines[0]).toBe(
      "::error file=clusters/primary/rendered/mesh/workshop/virtualservice-a.yaml,line=12,col=9,title=vs/destination-host::VirtualService workshop/a routes to host 'b', which no Service or ServiceEntry defines, 100%25, a:b (fix: fix the host)",
    );
    expect(lines[1]).toMatch(/^::warning file=x\.yaml,line=1,col=1,title=svc\/port-protocol::/);
  });

  it("junit is well-formed XML with one failure per error or warning", () => {
    const xml = format("junit", result, rules);
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>/);
    expect(xml).toContain('failures="2"');
    expect(xml).toContain("port &lt;web&gt; &amp; more");
    expect(xml.match(/<failure /g)?.length).toBe(2);
    // Balanced tags (a cheap well-formedness check).
    for (const tag of ["testsuites", "testsuite", "testcase", "failure"]) {
      expect((xml.match(new RegExp(`<${tag}[ >]`, "g")) ?? []).length, tag).toBe(
        (xml.match(new RegExp(`</${tag}>`, "g")) ?? []).length,
      );
    }
  });

  it("pretty groups by file and ends with the summary", () => {
    const out = format("pretty", result, rules);
    expect(out).toContain(
      "clusters/primary/rendered/mesh/workshop/virtualservice-a.yaml:12:9  error  vs/destination-host",
    );
    expect(out.trim().split("\n").pop()).toMatch(/^1 error, 1 warning, 0 infos in 2 resources/);
  });
});
