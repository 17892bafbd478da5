/**
 * Validation with no network and no schema mirror: the pinned schema bundle (pnpm schemas), the
 * CRD conversion it is built with, and failing fast on unreachable remote schema locations.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../scripts/lib/validate/config.ts";
import { crdSchemas } from "../../scripts/lib/validate/crd-schema.ts";
import { collectRepo } from "../../scripts/lib/validate/repo-mode.ts";
import { BUNDLE_FILE, decodeBundle, encodeBundle } from "../../scripts/lib/validate/schema-bundle.ts";
import { bundleFiles, BUILTIN_TEMPLATE, kindsOf } from "../../scripts/lib/validate/schema-bundle-gen.ts";
import { fillTemplate } from "../../scripts/lib/validate/cel.ts";
import { loadRepo } from "../../scripts/lib/model/repo.ts";
import { openPlatform } from "../../scripts/lib/render/platform-input.ts";
import { helmTemplateDeps } from "../../scripts/lib/render/helm-template.ts";
import { probe, unreachable } from "../../scripts/lib/net/reachable.ts";
import { CHART_MIRROR, REPO_ROOT, SCHEMA_ROOT } from "./helpers.ts";
import { stderrProgress } from "../../scripts/lib/cli/progress.ts";
import { validateRepo } from "../../scripts/lib/validate/index.ts";
import { readdir } from "node:fs/promises";
import { resolveConfig, UPSTREAM_SCHEMA_LOCATIONS } from "../../scripts/lib/validate/config.ts";
import { effectiveSchemaLocations } from "../../scripts/lib/validate/schema-sources.ts";

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; stdout: string; stderr: string; ms: number }>((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [path.join(REPO_ROOT, "scripts/launch.mjs"), ...args], {
      cwd,
      env,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
  });
}

/** The environment of a machine without the mirror: no VALIDATE_SCHEMA_ROOT / VALIDATE_CRD_DIR. */
function bareEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.VALIDATE_SCHEMA_ROOT;
  delete env.VALIDATE_CRD_DIR;
  return env;
}

describe("fail fast on unreachable schema locations", () => {
  it("pnpm validate exits 2 in seconds, naming the location, the file and the offline alternative", async () => {
    const port = await closedPort();
    const dir = await mkdtemp(path.join(os.tmpdir(), "validate-offline-"));
    try {
      await writeFile(
        path.join(dir, ".validate.yaml"),
        `schemaLocations:\n  - "http://127.0.0.1:${port}/{{.ResourceKind}}.json"\n  - "https://127.0.0.1:${port}/crds/{{.Group}}/{{.ResourceKind}}.json"\n`,
      );
      await writeFile(
        path.join(dir, "cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x, namespace: default }\n",
      );
      const r = await run(
        [path.join(REPO_ROOT, "scripts/validate.ts"), "cm.yaml"],
        dir,
        bareEnv({ VALIDATE_CACHE_DIR: dir }),
      );
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`http://127.0.0.1:${port}/`);
      expect(r.stderr).toContain("connection refused");
      expect(r.stderr).toContain("cm.yaml");
      expect(r.stderr).toContain("VALIDATE_SCHEMA_ROOT");
      expect(r.stderr).toContain("schemaLocations in .validate.yaml");
      // ONE error, not one per resource or per retry.
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.ms).toBeLessThan(10_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it("probe: refused at once, a listening port answers, one probe per host", async () => {
    const port = await closedPort();
    expect(await probe("127.0.0.1", port)).toBe("connection refused");
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const open = (server.address() as net.AddressInfo).port;
    try {
      expect(await probe("127.0.0.1", open)).toBeUndefined();
      const down = await unreachable([
        `http://127.0.0.1:${port}/a/{{.Kind}}`,
        `http://127.0.0.1:${port}/b`,
        `http://127.0.0.1:${open}/c`,
      ]);
      expect(down).toEqual([{ url: `http://127.0.0.1:${port}/a/{{.Kind}}`, reason: "connection refused" }]);
    } finally {
      server.close();
    }
  });
});

describe("CRD to JSON schema (openapi2jsonschema)", () => {
  const crd = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "widgets.example.com" },
    spec: {
      group: "example.com",
      names: { kind: "Widget" },
      versions: [
        { name: "v1alpha1", served: false, schema: { openAPIV3Schema: { type: "object" } } },
        {
          name: "v1",
          served: true,
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: {
                spec: {
                  type: "object",
                  "x-kubernetes-validations": [{ rule: "self.size > 0", message: "m" }],
                  properties: {
                    port: {
                      "x-kubernetes-int-or-string": true,
                      anyOf: [{ type: "integer" }, { type: "string" }],
                    },
                    target: { type: "string", format: "int-or-string" },
                    note: { type: "string", nullable: true },
                    free: {
                      type: "object",
                      "x-kubernetes-preserve-unknown-fields": true,
                      properties: { a: {} },
                    },
                    labels: { type: "object", additionalProperties: { type: "string" } },
                    properties: { type: "object", properties: { x: { type: "string" } } },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
  const [file, ...rest] = crdSchemas(crd);
  const spec = (file!.schema.properties as Record<string, Record<string, unknown>>).spec!;
  const props = spec.properties as Record<string, Record<string, unknown>>;

  it("one file per served version, in the CRDs-catalog layout", () => {
    expect(rest).toEqual([]);
    expect(file!.path).toBe("crds/example.com/widget_v1.json");
  });
  it("closes objects below the root, not the root, not preserve-unknown-fields ones", () => {
    expect(file!.schema.additionalProperties).toBeUndefined();
    expect(spec.additionalProperties).toBe(false);
    expect(props.free!.additionalProperties).toBeUndefined();
    expect(props.labels!.additionalProperties).toEqual({ type: "string" });
    // A field named `properties` is a field, and its object is closed like any other.
    expect(props.properties!.additionalProperties).toBe(false);
  });
  it("int-or-string in both spellings, nullable, CEL rules kept", () => {
    expect(props.target).toEqual({ oneOf: [{ type: "string" }, { type: "integer" }] });
    expect(props.port!.oneOf).toEqual([{ type: "string" }, { type: "integer" }]);
    expect(props.note!.type).toEqual(["string", "null"]);
    expect(spec["x-kubernetes-validations"]).toEqual([{ rule: "self.size > 0", message: "m" }]);
  });
});

describe("the pinned schema bundle", () => {
  let kinds: ReturnType<typeof kindsOf>;
  let committed: Buffer;
  beforeAll(async () => {
    const config = loadConfig(REPO_ROOT, bareEnv({ CHART_MIRROR }));
    const loaded = await loadRepo(REPO_ROOT);
    const input = await openPlatform(REPO_ROOT, { mirror: CHART_MIRROR });
    const { scopes, findings } = await collectRepo(
      REPO_ROOT,
      config,
      {},
      helmTemplateDeps(REPO_ROOT),
      loaded,
      input,
    );
    expect(findings.filter((f) => f.rule === "charts/not-validated")).toEqual([]);
    kinds = kindsOf(scopes);
    committed = await readFile(path.join(REPO_ROOT, BUNDLE_FILE));
  }, 180_000);

  it("has a schema for every kind the render contains (platform charts included)", () => {
    const files = decodeBundle(committed).files;
    const lacking = kinds.kinds.filter((k) => {
      const group = k.apiVersion.includes("/") ? k.apiVersion.split("/")[0]! : "";
      const r = { group, kind: k.kind, apiVersion: k.apiVersion };
      const crd = fillTemplate("crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json", r, "0")!;
      const builtin = `kubernetes/${fillTemplate(BUILTIN_TEMPLATE, r, "1.36.0")!}`;
      return !(crd in files) && !(builtin in files);
    });
    expect(lacking.map((k) => `${k.apiVersion} ${k.kind} (${k.file})`)).toEqual([]);
    // Not vacuous: the mesh, Argo CD and the platform charts' kinds are all there.
    expect(kinds.kinds.length).toBeGreaterThan(30);
    expect(Object.keys(files)).toEqual(
      expect.arrayContaining([
        "crds/networking.istio.io/virtualservice_v1.json",
        "crds/argoproj.io/application_v1alpha1.json",
        "crds/monitoring.coreos.com/servicemonitor_v1.json",
        "kubernetes/v1.36.0-standalone-strict/deployment-apps-v1.json",
      ]),
    );
  });

  it("is what `pnpm schemas` generates from the pinned inputs, byte for byte (run it when this fails)", async () => {
    const { files, missing } = await bundleFiles(
      kinds.kinds,
      kinds.crds,
      ["1.36.0"],
      path.join(SCHEMA_ROOT, "kubernetes"),
    );
    expect(missing).toEqual([]);
    const regenerated = encodeBundle({ ...decodeBundle(committed), files });
    expect(regenerated.equals(committed)).toBe(true);
    // Small enough to commit.
    expect(committed.length).toBeLessThan(500_000);
  }, 60_000);
});

describe("progress on stderr", () => {
  it("a step says nothing when short, what and how far when long, and when it is done", async () => {
    const lines: string[] = [];
    const p = stderrProgress({ write: (l) => lines.push(l), afterMs: 100, everyMs: 50 });
    p.start("quick").end();
    const long = p.start("rendering 2 cluster(s) x 3 chapter(s)", 6);
    long.tick(2);
    await new Promise((r) => setTimeout(r, 180));
    long.tick(6);
    await new Promise((r) => setTimeout(r, 80));
    long.end();
    expect(lines.some((l) => l.includes("quick"))).toBe(false);
    expect(lines[0]).toMatch(/^progress: rendering 2 cluster\(s\) x 3 chapter\(s\): 2\/6 \(0\.\ds\)$/);
    expect(lines).toContainEqual(expect.stringMatching(/: 6\/6 /));
    expect(lines.at(-1)).toMatch(/: done in \d+\.\ds$/);
  });

  const repoRun = (args: string[]) =>
    run(
      [
        path.join(REPO_ROOT, "scripts/validate.ts"),
        "--cluster",
        "remote",
        "--chapter",
        "02",
        "--format",
        "json",
        ...args,
      ],
      REPO_ROOT,
      bareEnv({ CHART_MIRROR, VALIDATE_PROGRESS_AFTER_MS: "0" }),
    );

  it("--progress reports the render on stderr and keeps the JSON on stdout clean; without it, nothing", async () => {
    const [withProgress, without] = await Promise.all([repoRun(["--progress"]), repoRun([])]);
    expect(withProgress.code, withProgress.stderr).toBe(0);
    expect(withProgress.stderr).toMatch(
      /^progress: rendering 1 cluster\(s\) x 1 chapter\(s\), platform charts included: 0\/1/m,
    );
    expect(withProgress.stderr).toMatch(/: done in \d+\.\ds$/m);
    expect(() => JSON.parse(withProgress.stdout)).not.toThrow();
    expect(withProgress.stdout).not.toContain("progress:");
    // stderr is a pipe here, not a terminal.
    expect(without.code, without.stderr).toBe(0);
    expect(without.stderr).not.toContain("progress:");
  }, 60_000);
});

describe("CRD schemas from the pinned charts, by digest", () => {
  it("are generated into the cache and consulted before the bundle in repo mode", async () => {
    const cacheRoot = await mkdtemp(path.join(os.tmpdir(), "validate-crds-"));
    try {
      const options = {
        env: bareEnv({ CHART_MIRROR }),
        cacheRoot,
        clusters: ["primary"],
        chapter: "19",
        rules: ["schema/*"],
      };
      const first = await validateRepo(REPO_ROOT, options);
      expect(first.summary.errors, JSON.stringify(first.findings.slice(0, 3))).toBe(0);
      const charts = await readdir(path.join(cacheRoot, "crd-schemas"));
      const base = charts.find((c) => /^base-1\.30\.3-[0-9a-f]{16}$/.test(c));
      expect(charts, "one folder per chart digest").toContain(base);
      expect(charts.some((c) => c.startsWith("cert-manager-v1.21.1-"))).toBe(true);
      const vsFile = path.join(
        cacheRoot,
        "crd-schemas",
        base!,
        "crds/networking.istio.io/virtualservice_v1.json",
      );
      const vs = JSON.parse(await readFile(vsFile, "utf8")) as {
        properties: { spec: Record<string, unknown> };
      };
      expect(vs.properties.spec.additionalProperties).toBe(false);
      // Prove the location is used: a schema there that rejects everything turns every
      // VirtualService into a schema error (verdicts not cached: their cache files removed).
      for (const f of await readdir(cacheRoot))
        if (f !== "crd-schemas" && f !== "schema-bundles")
          await rm(path.join(cacheRoot, f), { recursive: true });
      await writeFile(vsFile, JSON.stringify({ not: {} }));
      const second = await validateRepo(REPO_ROOT, options);
      const invalid = second.findings.filter((f) => f.rule === "schema/invalid");
      expect(invalid.length).toBeGreaterThan(0);
      expect(invalid.every((f) => f.message.startsWith("VirtualService "))).toBe(true);
    } finally {
      await rm(cacheRoot, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("which schema locations a run uses", () => {
  it("bundle by default; upstreams after it in path mode only when opted in; configured ones as given", async () => {
    const cache = await mkdtemp(path.join(os.tmpdir(), "validate-locs-"));
    try {
      const def = resolveConfig(REPO_ROOT, {}, {});
      const repo = await effectiveSchemaLocations(def, "repo", cache, true);
      expect(repo).toHaveLength(2);
      expect(repo.every((l) => l.startsWith(path.join(cache, "schema-bundles")))).toBe(true);
      expect(await effectiveSchemaLocations(def, "paths", cache)).toEqual(repo);
      expect(await effectiveSchemaLocations(def, "paths", cache, true)).toEqual([
        ...repo,
        ...UPSTREAM_SCHEMA_LOCATIONS,
      ]);
      const optedIn = resolveConfig(REPO_ROOT, { remoteSchemas: true }, {});
      expect(await effectiveSchemaLocations(optedIn, "paths", cache)).toEqual([
        ...repo,
        ...UPSTREAM_SCHEMA_LOCATIONS,
      ]);
      const configured = resolveConfig(REPO_ROOT, { schemaLocations: ["https://example.invalid/x"] }, {});
      expect(await effectiveSchemaLocations(configured, "repo", cache)).toEqual([
        "https://example.invalid/x",
      ]);
      expect(() => resolveConfig(REPO_ROOT, { remoteSchemas: "yes" }, {})).toThrow(
        /remoteSchemas must be true or false/,
      );
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});
