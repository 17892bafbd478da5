import { execFile } from "node:child_process";
import { readFile, writeFile, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { diffTrees, readTree } from "../../scripts/lib/fs/tree.ts";
import type { FindingsError } from "../../scripts/lib/findings.ts";
import { renderClusters } from "../../scripts/lib/render/pipeline.ts";
import { FIXTURES, REPO_ROOT, tempCopy } from "../helpers/temp-repo.ts";

const run = promisify(execFile);
const TSX = path.join(REPO_ROOT, "node_modules/.bin/tsx");
const GOLDEN = path.join(FIXTURES, "render-golden");

async function renderCli(cwd: string, ...args: string[]) {
  try {
    const { stdout, stderr } = await run(TSX, [path.join(REPO_ROOT, "scripts/render.ts"), ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("render output details", () => {
  it("lets the AppProject allow the mesh Application's namespace even when no release lives there", async () => {
    const { dir, cleanup } = await tempCopy("repo-basic");
    try {
      const [primary] = await renderClusters(
        dir,
        { clusters: ["primary"], chapter: "0" },
        { templateLocalChart: async () => "" },
      );
      const project = parse(primary!.files.get("argocd/project.yaml")!);
      const mesh = parse(primary!.files.get("argocd/mesh.yaml")!);
      expect(mesh.spec.destination.namespace).toBe("istio-system");
      expect(project.spec.destinations).toContainEqual({ name: "in-cluster", namespace: "istio-system" });
    } finally {
      await cleanup();
    }
  });

  it("refuses a chart that renders one object twice instead of overwriting a file", async () => {
    const { dir, cleanup } = await tempCopy("repo-basic");
    const twice =
      "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n";
    try {
      const err = await renderClusters(
        dir,
        { clusters: ["primary"] },
        { templateLocalChart: async () => twice },
      ).catch((e: unknown) => e);
      expect((err as FindingsError).findings[0]).toMatchObject({
        rule: "render/duplicate-object",
        file: "helmfile.yaml",
      });
      expect((err as Error).message).toContain("renders ConfigMap 'demo/x' twice");
    } finally {
      await cleanup();
    }
  });

  it("quotes strings that YAML 1.1 (Kubernetes, Helm) would read as booleans", async () => {
    const { toYaml } = await import("../../scripts/lib/render/serialize.ts");
    expect(toYaml({ appendonly: "yes", enabled: true, flag: "on" })).toBe(
      'appendonly: "yes"\nenabled: true\nflag: "on"\n',
    );
  });
});

describe("render (real helm, fixture repository)", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempCopy("repo-basic"));
  });
  afterAll(async () => cleanup());

  it("matches the golden output for every cluster", async () => {
    const renders = await renderClusters(dir);
    for (const { cluster, files } of renders) {
      const goldenDir = path.join(GOLDEN, cluster.name);
      if (process.env.UPDATE_GOLDEN) {
        const { writeTreeAtomically } = await import("../../scripts/lib/fs/tree.ts");
        await writeTreeAtomically(goldenDir, files);
      }
      const golden = await readTree(goldenDir);
      expect([...files.keys()]).toEqual([...golden.keys()].sort());
      for (const [file, content] of files) expect(content, file).toBe(golden.get(file));
    }
  });

  it("a promotion changes only files whose objects change; the chapter is stated once", async () => {
    const [at1] = await renderClusters(dir, { clusters: ["primary"], chapter: "01-mesh" });
    const [at2] = await renderClusters(dir, { clusters: ["primary"], chapter: "02-split" });
    const diff = diffTrees(at1!.files, at2!.files);
    expect(diff.changed.length).toBeGreaterThan(0);
    // Comment-only changes (a per-file chapter header) would show up here as equal objects.
    for (const file of diff.changed)
      expect(
        parseAllDocuments(at1!.files.get(file)!).map((d) => d.toJS()),
        file,
      ).not.toEqual(parseAllDocuments(at2!.files.get(file)!).map((d) => d.toJS()));
    expect(diff.changed).toContain("helmfile-environment.yaml");
    expect(diff.changed).toContain("mesh/demo/virtualservice-hello.yaml");
    for (const [file, text] of at2!.files) expect(text, file).not.toMatch(/at chapter/);
  });

  it("renders what the chapters promise", async () => {
    const [primary, remote] = await renderClusters(dir);
    const p = primary!.files;
    // The local chart went through the real helm template, with the composed values.
    const deployment = parse(p.get("app/hello/demo/deployment-hello-v1.yaml")!);
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.spec.containers[0].env[0].value).toBe("hello from primary");
    expect(deployment.metadata.namespace).toBe("demo");
    // Patches of chapters 01 and 02 are applied, in order.
    const vs = parse(p.get("mesh/demo/virtualservice-hello.yaml")!);
    expect(vs.spec.http[0].route.map((r: { weight: number }) => r.weight)).toEqual([90, 10]);
    expect(parse(p.get("mesh/_cluster/namespace-demo.yaml")!).metadata.labels).toEqual({
      cluster: "primary",
      "istio-injection": "enabled",
    });
    // Platform releases become multi-source Applications with waves from `needs`.
    const istiod = parse(p.get("argocd/istiod.yaml")!);
    expect(istiod.metadata.annotations["argocd.argoproj.io/sync-wave"]).toBe("1");
    expect(istiod.spec.sources[0]).toMatchObject({ chart: "istiod", targetRevision: "1.30.3" });
    expect(istiod.spec.sources[0].helm.valueFiles).toEqual([
      "$values/clusters/primary/rendered/values/istiod.yaml",
    ]);
    expect(istiod.spec.sources[1]).toMatchObject({
      ref: "values",
      repoURL: "https://git.example.com/workshop.git",
    });
    expect(istiod.spec.ignoreDifferences[0].kind).toBe("ValidatingWebhookConfiguration");
    expect(parse(p.get("argocd/istio-base.yaml")!).spec.syncPolicy.syncOptions).toContain(
      "ServerSideApply=true",
    );
    expect(parse(p.get("argocd/mesh.yaml")!).spec.syncPolicy.syncOptions).toContain(
      "SkipDryRunOnMissingResource=true",
    );
    expect(parse(p.get("values/istiod.yaml")!)).toEqual({ global: { meshID: "mesh1" } });
    // The remote pins 01-mesh: no app (role), its own network, a server destination and revision.
    const r = remote!.files;
    expect([...r.keys()].some((k) => k.startsWith("app/"))).toBe(false);
    expect(parse(r.get("values/istiod.yaml")!)).toEqual({ global: { meshID: "mesh1", network: "network2" } });
    expect(r.has("mesh/demo/sidecar-default.yaml")).toBe(true);
    const root = parse(r.get("bootstrap/root.yaml")!);
    expect(root.spec.source).toMatchObject({
      path: "clusters/remote/rendered/argocd",
      targetRevision: "stable",
    });
    const project = parse(r.get("argocd/project.yaml")!);
    expect(project.spec.destinations).toContainEqual({
      server: "https://remote.example.com:6443",
      namespace: "istio-system",
    });
    expect(project.spec.sourceRepos).toEqual([
      "https://git.example.com/workshop.git",
      "https://istio-release.storage.googleapis.com/charts",
    ]);
  });

  it("is deterministic: two CLI runs give byte-identical trees", async () => {
    expect((await renderCli(dir)).code).toBe(0);
    const first = await readTree(path.join(dir, "clusters/primary/rendered"));
    expect((await renderCli(dir)).code).toBe(0);
    const second = await readTree(path.join(dir, "clusters/primary/rendered"));
    expect(first.size).toBeGreaterThan(5);
    expect(second).toEqual(first);
    expect([...first.values()].join("")).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
  });

  it("--check passes when fresh and fails with a per-file summary when stale", async () => {
    expect((await renderCli(dir)).code).toBe(0);
    const fresh = await renderCli(dir, "--check");
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toContain("primary: clusters/primary/rendered is up to date");
    const vsFile = path.join(dir, "clusters/primary/rendered/mesh/demo/virtualservice-hello.yaml");
    await writeFile(vsFile, (await readFile(vsFile, "utf8")).replace("weight: 90", "weight: 80"));
    await rm(path.join(dir, "clusters/primary/rendered/argocd/istiod.yaml"));
    await writeFile(path.join(dir, "clusters/primary/rendered/mesh/demo/leftover.yaml"), "x: 1\n");
    const stale = await renderCli(dir, "--check");
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain("changed  clusters/primary/rendered/mesh/demo/virtualservice-hello.yaml");
    expect(stale.stderr).toContain("missing  clusters/primary/rendered/argocd/istiod.yaml");
    expect(stale.stderr).toContain("extra    clusters/primary/rendered/mesh/demo/leftover.yaml");
    // --check writes nothing.
    expect(await readFile(vsFile, "utf8")).toContain("weight: 80");
  });

  it("--chapter overrides the pin without touching cluster.yaml, and --out writes elsewhere", async () => {
    const before = await readFile(path.join(dir, "clusters/primary/cluster.yaml"), "utf8");
    const out = path.join(dir, "out");
    const res = await renderCli(dir, "--cluster", "primary", "--chapter", "0", "--out", out);
    expect(res.code).toBe(0);
    const tree = await readTree(path.join(out, "primary"));
    expect(tree.has("argocd/istiod.yaml")).toBe(false);
    expect(parse(tree.get("app/hello/demo/deployment-hello-v1.yaml")!).spec.replicas).toBe(1);
    expect(await readFile(path.join(dir, "clusters/primary/cluster.yaml"), "utf8")).toBe(before);
  });

  it("refuses --chapter without --out (the committed render would get an unpinned chapter) unless --force", async () => {
    expect((await renderCli(dir)).code).toBe(0);
    const committed = await readTree(path.join(dir, "clusters/primary/rendered"));
    const refused = await renderCli(dir, "--cluster", "primary", "--chapter", "0");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("refused: --chapter 0 without --out would overwrite");
    expect(refused.stderr).toContain("--out DIR");
    expect(refused.stderr).toContain("--force");
    expect(await readTree(path.join(dir, "clusters/primary/rendered"))).toEqual(committed);
    const forced = await renderCli(dir, "--cluster", "primary", "--chapter", "0", "--force");
    expect(forced.code).toBe(0);
    expect(await readTree(path.join(dir, "clusters/primary/rendered"))).not.toEqual(committed);
    expect((await renderCli(dir)).code).toBe(0);
  });

  it("exits 1 with file:line findings on a broken chapter and 2 on a usage error", async () => {
    const file = path.join(dir, "chapters/02-split/chapter.yaml");
    await writeFile(file, (await readFile(file, "utf8")).replace("value: 100 }", "value: 55 }"));
    const broken = await renderCli(dir, "--cluster", "primary");
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(
      /chapters\/02-split\/chapter.yaml:\d+:\d+: error compose\/patch-failed: chapter 02-split, patch 1/,
    );
    const usage = await renderCli(dir, "--cluster", "nope");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("unknown cluster 'nope'");
  });
});
