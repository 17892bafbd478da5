/**
 * Every chapter, for every cluster: it renders, it has its lesson, and the chapter index lists it.
 * The chapter-specific substance lives in suites/, imported here so that all of it runs in one
 * worker and each cluster x chapter is rendered exactly once (rendering the demo app runs `helm
 * template`; the suites share the results through render-cache.ts).
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { lesson, shellCommands } from "./lesson.ts";
import { ROOT, renderAll, rendered, repoModel, type ClusterName } from "./render-cache.ts";
import "./suites/foundation.ts";
import "./suites/observability.ts";
import "./suites/traffic.ts";
import "./suites/security.ts";
import "./suites/multicluster.ts";

const CHAPTERS = Array.from({ length: 20 }, (_, i) => i);
const CLUSTERS: ClusterName[] = ["primary", "remote"];
const dirs = readdirSync(path.join(ROOT, "chapters"), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

// 40 renders; on a busy two-core machine this can take minutes, so the hook gets ten.
beforeAll(() => renderAll(CHAPTERS, CLUSTERS), 600_000);

/** The sections every lesson has, in this order. */
const SECTIONS = [
  "## Goal",
  "## What changes",
  "## Promote",
  "## Verify",
  "## Roll back",
  "## Further reading",
];

describe("the chapter set", () => {
  it("has the twenty workshop chapters, 00 to 19, named NN-slug", () => {
    expect(dirs.map((d) => Number(d.slice(0, 2)))).toEqual(CHAPTERS);
    for (const d of dirs) expect(d).toMatch(/^[0-9]{2}-[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  it("loads as a model with chapter ids matching the folders", async () => {
    const model = await repoModel();
    expect(model.chapters.map((c) => `${String(c.id).padStart(2, "0")}`)).toEqual(
      dirs.map((d) => d.slice(0, 2)),
    );
  });

  it.each(dirs)("%s/chapter.yaml starts with the schema modeline", (dir) => {
    const text = readFileSync(path.join(ROOT, "chapters", dir, "chapter.yaml"), "utf8");
    expect(text.split("\n")[0]).toBe(
      "# yaml-language-server: $schema=../../scripts/schemas/chapter.schema.json",
    );
  });

  it.each(dirs.filter((d) => !d.startsWith("00-")))("%s/README.md teaches with every section", (dir) => {
    const text = readFileSync(path.join(ROOT, "chapters", dir, "README.md"), "utf8");
    expect(text).toMatch(new RegExp(`^# ${dir.slice(0, 2)} `));
    let last = -1;
    for (const heading of SECTIONS) {
      const at = text.indexOf(`\n${heading}`);
      expect(at, `${dir}: missing "${heading}"`).toBeGreaterThan(last);
      last = at;
    }
    // Promotion and roll back name the real commands.
    expect(text).toContain("pnpm promote");
    expect(text).toContain("pnpm rollback");
  });

  it.each(dirs)("%s/README.md speaks to the learner, not to the repository's developers", (dir) => {
    const text = readFileSync(path.join(ROOT, "chapters", dir, "README.md"), "utf8");
    // Notes about who owns which piece of the tooling, or whether it exists yet, are for reviewers.
    expect(text).not.toMatch(/\bowned by the [a-z-]+ issue\b/i);
    expect(text).not.toMatch(/\bwhen it is available\b/i);
    expect(text).not.toMatch(/\b(TODO|FIXME|XXX)\b/);
  });

  it("uses only flags the workshop's CLIs declare, in every lesson's `pnpm` commands", () => {
    // Where each CLI declares its flags to parseCli (`name: { type: ... }`).
    const sources: Record<string, string> = {
      promote: "scripts/promote.ts",
      rollback: "scripts/rollback.ts",
      render: "scripts/render.ts",
      bootstrap: "scripts/bootstrap.ts",
      "cluster:register": "scripts/cluster-register.ts",
      perf: "scripts/lib/perf/scenario.ts",
    };
    const flags = (file: string) =>
      [
        ...readFileSync(path.join(ROOT, file), "utf8").matchAll(
          /^\s+"?([a-z][a-z-]*)"?: \{ type: "(?:string|boolean)"/gm,
        ),
      ].map((m) => m[1]!);
    let checked = 0;
    for (const dir of dirs) {
      for (const cmd of shellCommands(lesson(dir))) {
        const m = /^pnpm ([a-z:]+)\b(.*)$/.exec(cmd.replace(/\s+#.*$/, ""));
        if (!m || !(m[1]! in sources)) continue;
        const known = flags(sources[m[1]!]!);
        expect(known.length, sources[m[1]!]).toBeGreaterThan(0);
        for (const f of m[2]!.matchAll(/ --([a-z][a-z-]*)/g)) {
          expect(known, `${dir}: ${cmd}`).toContain(f[1]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it("chapters/README.md links every chapter's lesson", () => {
    const index = readFileSync(path.join(ROOT, "chapters", "README.md"), "utf8");
    for (const dir of dirs) expect(index).toContain(`(${dir}/README.md)`);
  });
});

describe.each(CHAPTERS)("chapter %i", (chapter) => {
  it.each(CLUSTERS)("renders for the %s cluster", async (cluster) => {
    const r = await rendered(cluster, chapter);
    expect(r.result.composition.chapter.id).toBe(chapter);
    // Every cluster gets its AppProject and root Application, whatever the chapter.
    expect(r.files.has("argocd/project.yaml")).toBe(true);
    expect(r.files.has("bootstrap/root.yaml")).toBe(true);
  });

  it("leaves the remote cluster empty until the multicluster chapter", async () => {
    const remote = await rendered("remote", chapter);
    if (chapter < 19) {
      expect(remote.releases()).toEqual([]);
      expect(remote.meshObjects()).toEqual([]);
    } else {
      expect(remote.releases().length).toBeGreaterThan(0);
    }
  });
});
