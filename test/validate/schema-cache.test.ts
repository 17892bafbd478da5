/**
 * The kubeconform verdict cache: unit behaviour on disk, then the real engine with the real
 * kubeconform behind a wrapper that records which files it was asked to check.
 */
import { existsSync, readdirSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeconformResult } from "../../scripts/lib/validate/kubeconform.ts";
import { resolveKubeconform } from "../../scripts/lib/validate/kubeconform.ts";
import { ContentCache } from "../../scripts/lib/fs/content-cache.ts";
import { configKey, isVerdict, SchemaVerdictCache } from "../../scripts/lib/validate/schema-cache.ts";
import { fastLoader, loadAllCached, readSourceCached } from "../../scripts/lib/validate/source.ts";
import { DEFAULT_YAML_LIMITS } from "../../scripts/lib/yaml-source.ts";
import { validatePaths } from "../../scripts/lib/validate/index.ts";
import { FIXTURES, REPO_ROOT, SCHEMA_ROOT } from "./helpers.ts";

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "schema-cache-test-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const invalid: KubeconformResult = {
  filename: "/somewhere/a.yaml",
  kind: "Deployment",
  name: "web",
  version: "apps/v1",
  status: "statusInvalid",
  msg: "problem validating schema",
  validationErrors: [{ path: "/spec/replicas", msg: "got string, want integer" }],
};

describe("SchemaVerdictCache", () => {
  it("keeps verdicts across open/save, without file names, and writes no temp files behind", async () => {
    const root = path.join(tmp, "unit");
    const c = await SchemaVerdictCache.open(root, "k1");
    c.set("hash-valid", []);
    c.set("hash-invalid", [invalid]);
    await c.save();
    expect(readdirSync(root)).toEqual(["kubeconform-k1.json"]);
    const again = await SchemaVerdictCache.open(root, "k1");
    expect(again.get("hash-valid")).toEqual([]);
    expect(again.get("hash-invalid")).toEqual(
      [{ ...invalid, filename: undefined }].map(({ filename: _f, ...r }) => r),
    );
    expect(again.get("unknown")).toBeUndefined();
    // Another configuration key is another cache.
    expect((await SchemaVerdictCache.open(root, "k2")).get("hash-valid")).toBeUndefined();
  });

  it("never keeps errors (a schema that could not be fetched may be there next time)", async () => {
    const error = { ...invalid, status: "statusError", msg: "could not find schema for Widget" };
    expect(isVerdict([invalid])).toBe(true);
    expect(isVerdict([invalid, error])).toBe(false);
    const c = await SchemaVerdictCache.open(path.join(tmp, "errors"), "k");
    c.set("h", [error]);
    expect(c.get("h")).toBeUndefined();
  });

  it("starts empty from a corrupt cache file, and a disabled cache remembers nothing", async () => {
    const root = path.join(tmp, "corrupt");
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, "kubeconform-k.json"), "{not json");
    const c = await SchemaVerdictCache.open(root, "k");
    expect(c.size).toBe(0);
    const off = SchemaVerdictCache.disabled();
    off.set("h", []);
    expect(off.get("h")).toBeUndefined();
    expect(off.enabled).toBe(false);
  });
});

describe("the parse cache", () => {
  const doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n";

  it("serves a clean file's values from the cache, with positions still found in the text", async () => {
    const loader = await fastLoader();
    expect(loader, "js-yaml is a dependency").not.toBeNull();
    const file = path.join(tmp, "parse", "parsed.json");
    const cache = await ContentCache.open<unknown[]>(file, Array.isArray);
    const first = readSourceCached(doc, "h1", DEFAULT_YAML_LIMITS, loader, cache);
    await cache.save();
    const reopened = await ContentCache.open<unknown[]>(file, Array.isArray);
    // A loader that throws proves the second read never parsed the YAML.
    const second = readSourceCached(
      doc,
      "h1",
      DEFAULT_YAML_LIMITS,
      () => {
        throw new Error("parsed again");
      },
      reopened,
    );
    expect(second.docs.map((d) => d.value)).toEqual(first.docs.map((d) => d.value));
    expect(second.docs[0]!.positionOf(["data", "k"], "value")).toMatchObject({ line: 6, column: 6 });
  });

  it("never caches files with findings, non-JSON values, or over the size limit", async () => {
    const loader = await fastLoader();
    const cache = await ContentCache.open<unknown[]>(path.join(tmp, "parse", "other.json"), Array.isArray);
    readSourceCached("a: 1\na: 2\n", "dup", DEFAULT_YAML_LIMITS, loader, cache);
    readSourceCached("x: .inf\n", "inf", DEFAULT_YAML_LIMITS, loader, cache);
    readSourceCached(doc, "big", { ...DEFAULT_YAML_LIMITS, maxBytes: 10 }, loader, cache);
    expect(cache.size).toBe(0);
    const dup = readSourceCached("a: 1\na: 2\n", "dup", DEFAULT_YAML_LIMITS, loader, cache);
    expect(dup.findings.map((f) => f.rule)).toContain("yaml/duplicate-key");
  });
});

describe("cache keys", () => {
  it("keeps verdicts against remote schema locations for one day only, local ones until they change", async () => {
    const bin = process.execPath;
    const remote = { schemaLocations: ["default"], kubernetesVersion: "1.36.0", skipKinds: [] };
    remote.schemaLocations = ["https://example.com/{{ .ResourceKind }}.json"];
    const local = { ...remote, schemaLocations: ["/schemas/{{ .ResourceKind }}.json"] };
    const day = 86_400_000;
    expect(await configKey(bin, remote, 10 * day)).not.toBe(await configKey(bin, remote, 11 * day));
    expect(await configKey(bin, remote, 10 * day)).toBe(await configKey(bin, remote, 10 * day + 5));
    expect(await configKey(bin, local, 10 * day)).toBe(await configKey(bin, local, 11 * day));
    expect(await configKey(bin, local)).not.toBe(
      await configKey(bin, { ...local, kubernetesVersion: "1.35.0" }),
    );
  });

  it("keeps trusted CRD values apart from manifests with the same bytes (which still get every YAML check)", async () => {
    const loader = (await fastLoader())!;
    const cache = await ContentCache.open<unknown[]>(path.join(tmp, "keys", "parsed.json"), Array.isArray);
    const aliases = `a: &x [1, 2]\n${Array.from({ length: 120 }, (_, i) => `k${i}: *x`).join("\n")}\n`;
    expect(loadAllCached(aliases, "crd:h", loader, cache)).toHaveLength(1);
    const asManifest = readSourceCached(aliases, "h", DEFAULT_YAML_LIMITS, loader, cache);
    expect(asManifest.findings.map((f) => f.rule)).toContain("yaml/alias-limit");
  });
});

describe("the engine with the cache", () => {
  let work: string;
  let log: string;
  const env = () => ({ ...process.env, VALIDATE_SCHEMA_ROOT: SCHEMA_ROOT });
  const calls = async () =>
    existsSync(log)
      ? (await readFile(log, "utf8"))
          .trim()
          .split("\n")
          .map((l) =>
            l
              .split(" ")
              .filter((a) => a.endsWith(".yaml"))
              .map((a) => path.basename(a)),
          )
      : [];

  beforeAll(async () => {
    work = path.join(tmp, "engine");
    await mkdir(path.join(work, "manifests"), { recursive: true });
    await writeFile(
      path.join(work, "manifests", "broken.yaml"),
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: demo}\nspec:\n  replicas: two\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: web:1, colour: blue}]}\n",
    );
    const bookinfo = path.join(FIXTURES, "bookinfo");
    await copyFile(
      path.join(bookinfo, readdirSync(bookinfo)[0]!),
      path.join(work, "manifests", "clean.yaml"),
    );
    // The real kubeconform, behind a wrapper that writes down each call's arguments.
    const real = await resolveKubeconform();
    log = path.join(work, "calls.log");
    const wrapper = path.join(work, "kubeconform");
    await writeFile(wrapper, `#!/bin/sh\necho "$@" >> "${log}"\nexec "${real}" "$@"\n`);
    await chmod(wrapper, 0o755);
    process.env.KUBECONFORM_BIN = wrapper;
  });
  afterAll(() => {
    delete process.env.KUBECONFORM_BIN;
  });

  it("sends only new or changed files to kubeconform, and reports cached findings at the same places", async () => {
    const cacheRoot = path.join(work, "cache");
    const opts = { configRoot: REPO_ROOT, env: env(), cacheRoot };
    const where = (r: Awaited<ReturnType<typeof validatePaths>>) =>
      r.findings
        .filter((f) => f.rule.startsWith("schema/"))
        .map((f) => `${path.basename(f.file)}:${f.line}:${f.column} ${f.message}`);

    const first = await validatePaths([path.join(work, "manifests")], opts);
    expect(where(first).length).toBeGreaterThan(1);
    expect(await calls()).toEqual([["broken.yaml", "clean.yaml"]]);

    const second = await validatePaths([path.join(work, "manifests")], opts);
    expect(where(second)).toEqual(where(first));
    expect((await calls()).length, "kubeconform ran again on unchanged files").toBe(1);

    // One file changes: only it goes to kubeconform.
    const clean = path.join(work, "manifests", "clean.yaml");
    await writeFile(clean, `${await readFile(clean, "utf8")}\n# touched\n`);
    const third = await validatePaths([path.join(work, "manifests")], opts);
    expect(where(third)).toEqual(where(first));
    expect((await calls())[1]).toEqual(["clean.yaml"]);

    // Without a cache folder (library default, or the CLI's --no-cache) every file goes again.
    await validatePaths([path.join(work, "manifests")], { configRoot: REPO_ROOT, env: env() });
    expect((await calls())[2]).toEqual(["broken.yaml", "clean.yaml"]);
  });
});
