/**
 * One mistake, one finding (issue 16): on the fixture repository (real helm), a syntax error, a
 * chapter.yaml of the wrong shape and a misspelt release each give one root-cause finding, with
 * the cascades they cause suppressed and the clusters and chapters as structured context.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { validateRepo } from "../../scripts/lib/validate/index.ts";
import { tempCopy } from "../helpers/temp-repo.ts";
import { CHART_MIRROR, REPO_ROOT, SCHEMA_ROOT } from "./helpers.ts";

const CHARTS_DIR = path.join(os.tmpdir(), "istio-gitops-charts-test");

// The schema layer (kubeconform) sees none of these mistakes' cascades; the model and compose do.
const options = {
  env: { VALIDATE_SCHEMA_ROOT: SCHEMA_ROOT },
  platform: false,
  disable: ["schema/invalid", "schema/missing", "repo/rendered-stale"],
};

describe("one mistake, one finding", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, cleanup } = await tempCopy("../validate/fixtures/repo-mesh"));
  });
  afterEach(async () => cleanup());
  const edit = async (rel: string, from: string, to: string) => {
    const file = path.join(dir, rel);
    const text = await readFile(file, "utf8");
    expect(text).toContain(from);
    await writeFile(file, text.replace(from, to));
  };
  const lines = (r: Awaited<ReturnType<typeof validateRepo>>) =>
    r.findings.map((f) => `${f.rule} ${f.file}:${f.line}`);

  it("a YAML syntax error in a mesh file: one finding, no patch-target cascades, every chapter named", async () => {
    await edit("mesh/routing/shop.yaml", "kind: VirtualService", "kind: VirtualService\n  bad: [unclosed");
    const r = await validateRepo(dir, options);
    expect(lines(r)).toEqual(["yaml/syntax mesh/routing/shop.yaml:2"]);
    const f = r.findings[0]!;
    expect(f.message).toContain("more error(s) after it");
    // Seen on its own (no chapter) and from every chapter that adds it: no chapter list in the message.
    expect(f.message).not.toContain("[cluster");
    expect(f.context).toBe("cluster primary at chapters 01-mesh, 02-canary");
  });

  it("a wrong type in a chapter.yaml does not make it or later chapters 'missing'", async () => {
    await edit("chapters/01-mesh/chapter.yaml", "title: Mesh", "title: [1, 2]");
    const r = await validateRepo(dir, options);
    expect(lines(r)).toEqual(["model/chapter chapters/01-mesh/chapter.yaml:2"]);
  });

  it("an unknown release name: one finding listing the clusters and chapters, its `needs` cascade suppressed", async () => {
    await edit("chapters/01-mesh/chapter.yaml", "name: istiod", "name: istiodd");
    const r = await validateRepo(dir, options);
    expect(lines(r)).toEqual(["compose/unknown-release chapters/01-mesh/chapter.yaml:7"]);
    const f = r.findings[0]!;
    expect(f.message).toBe(
      "chapter 01-mesh refers to release 'istiodd', which helmfile.yaml does not declare",
    );
    expect(f.context).toBe(
      "cluster primary at chapters 01-mesh, 02-canary; cluster remote at chapters 01-mesh, 02-canary",
    );
  });

  it("root causes come first, before findings on files sorted earlier", async () => {
    await edit("mesh/routing/shop.yaml", "kind: VirtualService", "kind: VirtualService\n  bad: [unclosed");
    await edit("chapters/00-app/chapter.yaml", "name: shop", "name: shopp");
    const r = await validateRepo(dir, options);
    expect(lines(r)[0]).toBe("yaml/syntax mesh/routing/shop.yaml:2");
    expect(lines(r)).toContain("compose/unknown-release chapters/00-app/chapter.yaml:5");
  });
});

/** The three mistakes on this repository itself (platform charts from the mirror). */
describe("one mistake, one finding, on the workshop repository", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "one-finding-real-"));
    const archive = execFileSync("git", ["-C", REPO_ROOT, "archive", "--format=tar", "HEAD"], {
      maxBuffer: 256 * 1024 * 1024,
    });
    execFileSync("tar", ["-x", "-C", dir], { input: archive });
  }, 120_000);
  afterAll(async () => rm(dir, { recursive: true, force: true }));
  const errorsAfter = async (rel: string, from: RegExp, to: string) => {
    const file = path.join(dir, rel);
    const text = await readFile(file, "utf8");
    expect(text).toMatch(from);
    await writeFile(file, text.replace(from, to));
    try {
      const r = await validateRepo(dir, {
        env: { VALIDATE_SCHEMA_ROOT: SCHEMA_ROOT, CHART_MIRROR, ISTIO_GITOPS_CHARTS_DIR: CHARTS_DIR },
        cacheRoot: process.env.VALIDATE_CACHE_DIR!,
        // A broken route also breaks the lessons' promises: the behaviour layer reports each at its
        // own chapter.yaml line, on purpose (test/behaviour/e2e.test.ts); one mistake here is one rule.
        disable: ["behaviour/*"],
      });
      return r.findings.filter((f) => f.severity === "error");
    } finally {
      await writeFile(file, text);
    }
  };

  it("a syntax error in a mesh file: that error alone (no patch or peer cascades)", async () => {
    const errors = await errorsAfter(
      "mesh/routing/content-generator-routes.yaml",
      /kind: VirtualService/,
      "kind: VirtualService\n  bad: [unclosed",
    );
    expect(errors.map((f) => `${f.rule} ${f.file}`)).toEqual([
      "yaml/syntax mesh/routing/content-generator-routes.yaml",
    ]);
  }, 300_000);

  it("a syntax error in the app chart's values.yaml: that error alone (not helm's failure at every chapter)", async () => {
    const errors = await errorsAfter("apps/chart/values.yaml", /$/, "broken: [unclosed\n");
    expect(errors.map((f) => `${f.rule} ${f.file}`)).toEqual(["yaml/syntax apps/chart/values.yaml"]);
  }, 300_000);

  it("a wrong subset in a mesh file later chapters patch: one finding at its line, every chapter listed", async () => {
    const errors = await errorsAfter(
      "mesh/routing/content-generator-routes.yaml",
      /subset: v1/,
      "subset: v9",
    );
    expect(errors.map((f) => `${f.rule} ${f.file}:${f.line}`)).toEqual([
      "vs/subset-not-found mesh/routing/content-generator-routes.yaml:18",
    ]);
    expect(errors[0]!.context).toBe(
      "cluster primary at chapters 09-traffic-splitting-basic .. 19-multicluster (11), ahead of its pin",
    );
    expect(errors[0]!.rendered?.file).toBe(
      "clusters/primary/rendered/mesh/workshop/virtualservice-content-generator.yaml",
    );
  }, 300_000);

  it("a wrong type in chapter 09: that error alone (no 'chapter NN is missing')", async () => {
    const errors = await errorsAfter(
      "chapters/09-traffic-splitting-basic/chapter.yaml",
      /^title: .*$/m,
      "title: [1, 2]",
    );
    expect(errors.map((f) => `${f.rule} ${f.file}:${f.line}`)).toEqual([
      "model/chapter chapters/09-traffic-splitting-basic/chapter.yaml:3",
    ]);
  }, 300_000);

  it("an unknown release name: one finding listing the chapters it breaks", async () => {
    const errors = await errorsAfter(
      "chapters/09-traffic-splitting-basic/chapter.yaml",
      /- name: workshop-app$/m,
      "- name: workshop-ap",
    );
    expect(errors.map((f) => f.rule)).toEqual(["compose/unknown-release"]);
    expect(errors[0]!.context).toBe(
      "cluster primary at chapters 09-traffic-splitting-basic .. 19-multicluster (11), ahead of its pin",
    );
  }, 300_000);
});
