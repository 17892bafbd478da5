/** Layers 1-3: YAML hardening, kubeconform (real, offline schemas) mapped to lines, CEL rules. */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CelValidator } from "../../scripts/lib/validate/cel.ts";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { readSource, useFastLoader } from "../../scripts/lib/validate/source.ts";
import { DEFAULT_YAML_LIMITS } from "../../scripts/lib/yaml-source.ts";
import { loadConfig, resolveConfig, UPSTREAM_SCHEMA_LOCATIONS } from "../../scripts/lib/validate/config.ts";
import type { ValidationResult } from "../../scripts/lib/validate/engine.ts";
import {
  CRD_DIR,
  FIXTURES,
  REPO_ROOT,
  SCHEMA_ROOT,
  SHARED_DIR,
  fileInput,
  pathScope,
  run,
  testConfig,
} from "./helpers.ts";

const layers = (f: string) => fileInput(path.join(FIXTURES, "layers", f));
const at = (r: ValidationResult, rule: string) =>
  r.findings.filter((f) => f.rule === rule).map((f) => `${path.basename(f.file)}:${f.line}:${f.column}`);
const text = (file: string, body: string) => ({ file, text: body, kind: "manifests" as const });

describe("layer 1: YAML", () => {
  it("reports syntax errors, duplicate keys and non-objects with their position; reads every document", async () => {
    const r = await run(
      [
        pathScope([
          text("syntax.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n data: [unclosed\n"),
          text("dup.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n"),
          text(
            "multi.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n---\n# just a comment\n---\n- not\n- an object\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\n",
          ),
          text("values.yaml", "replicas: 2\nimage: {tag: x}\n"),
          text("half.yaml", "apiVersion: v1\nmetadata: {name: no-kind}\n"),
        ]),
      ],
      { rules: ["yaml/*"] },
    );
    expect(at(r, "yaml/syntax")[0]).toMatch(/^syntax\.yaml:5:/);
    expect(at(r, "yaml/duplicate-key")).toEqual(["dup.yaml:5:3"]);
    const notResource = r.findings.filter((f) => f.rule === "yaml/not-a-resource");
    expect(notResource.map((f) => [path.basename(f.file), f.line, f.severity])).toEqual([
      ["half.yaml", 1, "error"],
      ["multi.yaml", 7, "error"],
      ["values.yaml", 1, "info"],
    ]);
    expect(r.summary.resources).toBe(2); // the two ConfigMaps of multi.yaml; dup.yaml is refused as a whole
  });

  it("stops a billion-laughs file fast with a clear error", async () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(",")}]`,
      );
    const started = performance.now();
    const r = await run([
      pathScope([
        text(
          "bomb.yaml",
          `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  ${lines.join("\n  ")}\n`,
        ),
      ]),
    ]);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(r.findings.map((f) => f.rule)).toEqual(["yaml/alias-limit"]);
    expect(r.findings[0]!.message).toMatch(/alias/i);
  });

  it("refuses files over the size limit before parsing them", async () => {
    const r = await run(
      [
        pathScope([
          text(
            "big.yaml",
            `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {x: "${"y".repeat(2048)}"}\n`,
          ),
        ]),
      ],
      {},
      testConfig({ limits: { maxBytes: 1024 } }),
    );
    expect(r.findings.map((f) => `${f.rule}@${f.line}`)).toEqual(["yaml/too-large@1"]);
  });
});

describe("layers 2 and 3: kubeconform and CEL in one run", () => {
  let r: ValidationResult;
  beforeAll(async () => {
    r = await run([
      pathScope([layers("schema-errors.yaml"), layers("cel-errors.yaml"), layers("cel-valid.yaml")]),
    ]);
  });

  it("maps kubeconform errors to the offending line and column", () => {
    expect(at(r, "schema/invalid")).toEqual([
      "schema-errors.yaml:11:7",
      "schema-errors.yaml:12:7",
      "schema-errors.yaml:25:11",
    ]);
    const f = r.findings.find((x) => x.rule === "schema/invalid" && x.line === 12)!;
    expect(f.message).toContain("'protcol' not allowed");
    expect(f.resource).toEqual({ apiVersion: "v1", kind: "Service", namespace: "demo", name: "api" });
    expect(f.anchors).toContain("kubeconform");
  });

  it("locates errors of generateName resources and List items on their own document, never on another", async () => {
    const g = await run([pathScope([layers("schema-generate-name.yaml")])], { rules: ["schema/*"] });
    expect(at(g, "schema/invalid")).toEqual([
      "schema-generate-name.yaml:14:1",
      "schema-generate-name.yaml:25:5",
    ]);
    const gen = g.findings.find((f) => f.line === 14)!;
    expect(gen.resource).toMatchObject({ kind: "ConfigMap", name: "gen-" });
    const item = g.findings.find((f) => f.line === 25)!;
    expect(item.resource).toMatchObject({ kind: "List" });
    expect(item.message).toContain("ConfigMap inlist");
  });

  it("reports a schema error it cannot locate at the file's first line, saying so", async () => {
    // A kubeconform that reports a resource no document of the file has: no silent fallback.
    const dir = mkdtempSync(path.join(os.tmpdir(), "fake-kc-"));
    const fake = path.join(dir, "kubeconform");
    writeFileSync(
      fake,
      `#!/bin/sh\nfor f; do last="$f"; done\nprintf '{"resources":[{"filename":"%s","kind":"ConfigMap","name":"ghost","version":"v1","status":"statusInvalid","msg":"x","validationErrors":[{"path":"/data","msg":"bad"}]}]}' "$last"\n`,
    );
    chmodSync(fake, 0o755);
    const saved = process.env.KUBECONFORM_BIN;
    process.env.KUBECONFORM_BIN = fake;
    let g: ValidationResult;
    try {
      g = await run([
        pathScope([
          text(
            "odd.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: demo}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: demo}\n",
          ),
        ]),
      ]);
    } finally {
      if (saved === undefined) delete process.env.KUBECONFORM_BIN;
      else process.env.KUBECONFORM_BIN = saved;
      rmSync(dir, { recursive: true, force: true });
    }
    const f = g.findings.filter((x) => x.rule === "schema/invalid");
    expect(f.map((x) => x.line)).toEqual([1]);
    expect(f[0]!.message).toMatch(/could not be located/);
    expect(f[0]!.resource).toBeUndefined();
  });

  it("reports a kind without schema as an error", () => {
    expect(at(r, "schema/missing")).toEqual(["schema-errors.yaml:28:1"]);
  });

  it("evaluates the CRDs' CEL rules with their own messages, located", () => {
    const cel = r.findings.filter((f) => f.rule === "cel/rule");
    const lines = cel.map((f) => `${f.line}:${f.message.split(" (")[0]!.split(": ").slice(1).join(": ")}`);
    expect(lines).toEqual([
      "6:NONE mode cannot set endpoints",
      "7:hostname cannot be wildcard",
      "11:port number cannot be duplicated",
      "23:url must have scheme http:// or https://",
      "35:must be a valid duration greater than 1ms",
      "38:must be a valid duration greater than 1ms",
      "45:portLevelMtls requires selector",
      "55:url must have schema one of [http, https, file, oci]",
    ]);
    for (const f of cel) expect(f.anchors).toEqual(["CEL"]);
    expect(
      r.findings.filter((f) => f.file.endsWith("cel-valid.yaml") && /^(cel|schema|yaml)\//.test(f.rule)),
    ).toEqual([]);
  });

  it("skips a kind only when the configuration says so, with a reason", async () => {
    const skipped = await run(
      [pathScope([layers("schema-errors.yaml")])],
      { rules: ["schema/*"] },
      testConfig({ skipKinds: [{ kind: "Widget", reason: "example CRD without a public schema" }] }),
    );
    expect(at(skipped, "schema/missing")).toEqual([]);
    expect(() => testConfig({ skipKinds: [{ kind: "Widget" }] })).toThrow(/reason/);
  });

  it("reads CEL rules from CRD YAML files (VALIDATE_CRD_DIR) when the schemas are elsewhere", async () => {
    const config = resolveConfig(
      REPO_ROOT,
      { schemaLocations: ["/nonexistent/{{.Group}}/{{.ResourceKind}}.json"] },
      { VALIDATE_CRD_DIR: CRD_DIR },
    );
    const only = await run([pathScope([layers("cel-errors.yaml")])], { rules: ["cel/*"] }, config);
    expect(only.findings.filter((f) => f.rule === "cel/rule").length).toBe(8);
  });
});

describe("configuration", () => {
  it("defaults to the public upstreams; VALIDATE_SCHEMA_ROOT switches to the mirror, relative to the root", () => {
    expect(resolveConfig(REPO_ROOT, {}, {}).schemaLocations).toEqual(UPSTREAM_SCHEMA_LOCATIONS);
    const c = resolveConfig(REPO_ROOT, {}, { VALIDATE_SCHEMA_ROOT: path.relative(REPO_ROOT, SCHEMA_ROOT) });
    expect(c.schemaLocations[0]).toBe(
      path.join(
        SCHEMA_ROOT,
        "kubernetes/{{.NormalizedKubernetesVersion}}-standalone{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json",
      ),
    );
    expect(c.schemaLocations[1]).toBe(
      path.join(SCHEMA_ROOT, "crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"),
    );
  });

  it("loads the repository's .validate.yaml (no schemaLocations: the pinned bundle; suppressions, if any, with reasons)", () => {
    const c = loadConfig(REPO_ROOT, {});
    // "default" means the pinned bundle (schema-sources.ts); the upstreams only by opt-in.
    expect(c.schemaSource).toBe("default");
    expect(c.remoteSchemas).toBe(false);
    expect(c.schemaLocations).toEqual(UPSTREAM_SCHEMA_LOCATIONS);
    expect(c.kubernetesVersion).toBe("1.36.0");
    for (const s of c.suppressions) expect(s.reason.length).toBeGreaterThan(20);
  });

  it("rejects unknown keys and suppressions without a reason", () => {
    expect(() => testConfig({ suppressions: [{ rule: "vs/zero-weight", file: "x.yaml" }] })).toThrow(
      /reason/,
    );
    expect(() => testConfig({ suppressions: [{ rule: "vs/zero-weight", reason: "because" }] })).toThrow(
      /file or a resource/,
    );
  });
});

describe("fast path: values first, positions on demand", () => {
  // A stand-in for js-yaml (not a dependency yet): any loader that returns the documents' values.
  const loader = (t: string) => parseAllDocuments(t).map((d) => d.toJS() as unknown);
  afterEach(() => useFastLoader(null));

  it("locates findings exactly like the full parser", async () => {
    const files = () => [pathScope([layers("schema-errors.yaml"), layers("cel-errors.yaml")])];
    useFastLoader(null);
    const slow = await run(files());
    useFastLoader(loader);
    const fast = await run(files());
    expect(fast.findings).toEqual(slow.findings);
    expect(fast.findings.length).toBeGreaterThan(10);
  });

  it("leaves anchors, aliases, tags, duplicate keys and broken files to the hardened parser", () => {
    const fastOne = readSource("a: 1\n---\nb: [2]\n", DEFAULT_YAML_LIMITS, loader);
    expect(fastOne.parser).toBe("js-yaml");
    expect(fastOne.docs.map((d) => d.value)).toEqual([{ a: 1 }, { b: [2] }]);
    expect(fastOne.docs[1]!.positionOf(["b", 0])).toMatchObject({ line: 3, column: 5 });
    for (const text of ["a: &x 1\nb: *x\n", "a: !!str 1\n", "<<: {a: 1}\n", "a: 1\na: 2\n", "a: [1\n"]) {
      const throwing = (t: string) => {
        const docs = parseAllDocuments(t);
        for (const d of docs) if (d.errors.length) throw new Error("bad");
        return docs.map((d) => d.toJS() as unknown);
      };
      expect(readSource(text, DEFAULT_YAML_LIMITS, throwing).parser, text).toBe("yaml");
    }
  });
});

describe("CEL environment", () => {
  it("compiles every rule of Istio's CRDs and of the mirrored CRD schemas (none skipped)", () => {
    const tsv = readFileSync(path.join(SHARED_DIR, "reference/istio-crd-cel-rules.tsv"), "utf8")
      .split("\n")
      .slice(1)
      .filter(Boolean);
    const cel = new CelValidator([], "1.36.0");
    const rules = tsv.map((l) => l.split("\t")[3]!);
    expect(rules.length).toBeGreaterThan(100);
    expect(
      cel.tree({ "x-kubernetes-validations": rules.map((rule) => ({ rule, message: "m" })) })?.rules.length,
    ).toBe(rules.length);
    const crds = path.join(SCHEMA_ROOT, "crds");
    let schemas = 0;
    for (const group of readdirSync(crds)) {
      for (const f of readdirSync(path.join(crds, group))) {
        cel.tree(JSON.parse(readFileSync(path.join(crds, group, f), "utf8")));
        schemas++;
      }
    }
    expect(schemas).toBeGreaterThan(50);
    expect([...cel.skipped]).toEqual([]);
    // Only Gateway API's dyn-heavy HTTPRoute rules defeat the type check (they still evaluate).
    for (const r of cel.unchecked) expect(r).toMatch(/matches/);
    expect(
      new CelValidator([], "1.36.0").tree({ "x-kubernetes-validations": [{ rule: "fooBar(self)" }] }),
    ).toBeDefined();
  });

  it("never turns a function the environment lacks into a finding", () => {
    const cel = new CelValidator([], "1.36.0");
    cel.addCrd({
      kind: "CustomResourceDefinition",
      spec: {
        group: "example.com",
        names: { kind: "Widget" },
        versions: [
          {
            name: "v1",
            schema: {
              openAPIV3Schema: {
                properties: {
                  spec: {
                    "x-kubernetes-validations": [
                      { rule: "fooBar(self)", message: "never" },
                      { rule: "size(self) < 2", message: "too big" },
                    ],
                  },
                },
              },
            },
          },
        ],
      },
    });
    const widget = {
      group: "example.com",
      apiVersion: "example.com/v1",
      kind: "Widget",
      object: { spec: { a: 1, b: 2 } },
    };
    expect(
      cel.validate(widget as unknown as Parameters<CelValidator["validate"]>[0]).map((p) => p.message),
    ).toEqual(["too big"]);
  });
});
