/**
 * One mistake, one finding (issue 16): on the fixture repository (real helm), a syntax error, a
 * chapter.yaml of the wrong shape and a misspelt release each give one root-cause finding, with
 * the cascades they cause suppressed and the clusters and chapters as structured context.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { validateRepo } from "../../scripts/lib/validate/index.ts";
import { tempCopy } from "../helpers/temp-repo.ts";
import { SCHEMA_ROOT } from "./helpers.ts";

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
