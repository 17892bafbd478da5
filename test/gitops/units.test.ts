import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadRepoOrThrow } from "../../scripts/lib/model/repo.ts";
import { readClusterChapter, setClusterChapter } from "../../scripts/lib/gitops/cluster-yaml.ts";
import {
  compareUrl,
  createPullRequest,
  gitHubTarget,
  parseGitHubRemote,
} from "../../scripts/lib/gitops/github.ts";
import { planPromotion, assertPinsAfterMove } from "../../scripts/lib/gitops/plan.ts";
import { describeRenderedFile, resourceChanges } from "../../scripts/lib/gitops/resources.ts";
import {
  formatTagMessage,
  formatTagName,
  nextSeq,
  parseTagMessage,
  parseTagName,
  renderedHash,
  tagSuffix,
} from "../../scripts/lib/gitops/tags.ts";
import { tagBySteps } from "../../scripts/lib/gitops/rollback.ts";
import { validateStep } from "../../scripts/lib/gitops/validate-step.ts";
import { promotionBody } from "../../scripts/lib/gitops/messages.ts";
import { FIXTURE, fakeGitHub, NO_VALIDATOR, PROJECT_ROOT } from "./world.ts";

describe("cluster.yaml edits", () => {
  it("changes only the chapter value; every other byte, comments included, stays", async () => {
    const text = await readFile(path.join(FIXTURE, "clusters/primary/cluster.yaml"), "utf8");
    const next = setClusterChapter(text, "03-resilience");
    expect(readClusterChapter(next)).toBe("03-resilience");
    const at = text.indexOf("00-basics");
    expect(next.slice(0, at)).toBe(text.slice(0, at));
    expect(next.slice(at + "03-resilience".length)).toBe(text.slice(at + "00-basics".length));
    expect(next).toContain("chapter: 03-resilience # keep this comment\n");
  });

  it("keeps the quoting style, and works on the project's own cluster files", async () => {
    const quoted = await readFile(path.join(FIXTURE, "clusters/remote/cluster.yaml"), "utf8");
    expect(setClusterChapter(quoted, "01-mtls")).toBe(
      quoted.replace('chapter: "00-basics"', 'chapter: "01-mtls"'),
    );
    expect(setClusterChapter("name: x\nchapter: '00-a'\n", "01-b")).toBe("name: x\nchapter: '01-b'\n");
    for (const c of ["primary", "remote"]) {
      const real = await readFile(path.join(PROJECT_ROOT, `clusters/${c}/cluster.yaml`), "utf8");
      const current = readClusterChapter(real);
      const moved = setClusterChapter(real, "42-somewhere");
      expect(moved.replace("42-somewhere", current)).toBe(real);
    }
  });

  it("refuses what it cannot edit safely", () => {
    expect(() => setClusterChapter("chapter: 00-a\n", "bad name")).toThrow(/not a chapter folder name/);
    expect(() => setClusterChapter("name: x\n", "01-b")).toThrow(/no string `chapter:` value/);
    expect(() => setClusterChapter("chapter: [\n", "01-b")).toThrow(/does not parse/);
  });
});

describe("tag scheme", () => {
  it("formats, parses and numbers tags per cluster", () => {
    const name = formatTagName("primary", 7, "05-installing-istio");
    expect(name).toBe("mesh/primary/0007-05-installing-istio");
    const parsed = parseTagName(`refs/tags/${name}`)!;
    expect(parsed).toEqual({ name, cluster: "primary", seq: 7, chapter: "05-installing-istio" });
    expect(tagSuffix(parsed)).toBe("0007-05-installing-istio");
    expect(parseTagName("mesh/primary/7-05-x")).toBeUndefined();
    expect(parseTagName("v1.0.0")).toBeUndefined();
    expect(parseTagName("mesh/primary/12345-05-x")?.seq).toBe(12345);
    expect(nextSeq([])).toBe(1);
    expect(nextSeq([parsed, { ...parsed, seq: 2 }])).toBe(8);
  });

  it("round-trips the tag message and hashes the rendered tree independent of insertion order", () => {
    const record = {
      cluster: "primary",
      chapter: "01-mtls",
      date: "2030-01-01T00:00:00Z",
      commit: "a".repeat(40),
      renderedSha256: "b".repeat(64),
      files: 3,
      subject: "Merge pull request #4",
    };
    expect(parseTagMessage(formatTagMessage(record))).toEqual(record);
    const one = renderedHash(
      new Map([
        ["b.yaml", "2"],
        ["a.yaml", "1"],
      ]),
    );
    expect(
      renderedHash(
        new Map([
          ["a.yaml", "1"],
          ["b.yaml", "2"],
        ]),
      ),
    ).toBe(one);
    expect(
      renderedHash(
        new Map([
          ["a.yaml", "1"],
          ["b.yaml", "3"],
        ]),
      ),
    ).not.toBe(one);
  });

  it("--steps counts from the newest tag when the tree is at it, else from the current state", () => {
    const tree = new Map([["x.yaml", "x"]]);
    const tags = [3, 2, 1].map((seq) => ({
      name: `mesh/p/000${seq}-00-a`,
      cluster: "p",
      seq,
      chapter: "00-a",
      commit: String(seq).repeat(40),
      date: "",
      renderedSha256: seq === 3 ? renderedHash(tree) : `other${seq}`,
    }));
    expect(tagBySteps("p", 1, tags, tree).seq).toBe(2);
    expect(tagBySteps("p", 1, tags, new Map()).seq).toBe(3);
    expect(() => tagBySteps("p", 3, tags, tree)).toThrow(/cannot go back 3/);
    expect(() => tagBySteps("p", 0, tags, tree)).toThrow(/at least 1/);
    expect(() => tagBySteps("p", 1, [], tree)).toThrow(/no tags yet/);
  });
});

describe("GitHub", () => {
  it("recognises GitHub remotes in every URL form", () => {
    const want = { owner: "acme", repo: "workshop", serverUrl: "https://github.com" };
    for (const url of [
      "https://github.com/acme/workshop.git",
      "https://github.com/acme/workshop",
      "https://x-access-token:abc@github.com/acme/workshop.git",
      "git@github.com:acme/workshop.git",
      "ssh://git@github.com/acme/workshop.git",
    ]) {
      expect(parseGitHubRemote(url), url).toEqual(want);
    }
    expect(parseGitHubRemote("/tmp/origin.git")).toBeUndefined();
    expect(parseGitHubRemote("https://gitlab.com/acme/workshop.git")).toBeUndefined();
    expect(parseGitHubRemote("https://ghe.corp/acme/w.git", "https://ghe.corp")).toMatchObject({
      owner: "acme",
      repo: "w",
    });
  });

  it("takes the repository from GITHUB_REPOSITORY first, the API from GITHUB_API_URL, the token from GITHUB_TOKEN", () => {
    expect(gitHubTarget({}, "/tmp/x.git")).toBeUndefined();
    expect(gitHubTarget({}, "git@github.com:a/b.git")).toEqual({
      owner: "a",
      repo: "b",
      serverUrl: "https://github.com",
      apiUrl: "https://api.github.com",
    });
    expect(
      gitHubTarget(
        { GITHUB_REPOSITORY: "c/d", GITHUB_API_URL: "http://127.0.0.1:1/", GITHUB_TOKEN: "t" },
        "git@github.com:a/b.git",
      ),
    ).toEqual({
      owner: "c",
      repo: "d",
      serverUrl: "https://github.com",
      apiUrl: "http://127.0.0.1:1",
      token: "t",
    });
    expect(
      compareUrl({ owner: "a", repo: "b", serverUrl: "https://github.com" }, "main", "promote/p/01-x"),
    ).toBe("https://github.com/a/b/compare/main...promote/p/01-x?expand=1");
  });

  it("reports GitHub's error message when the pull request is refused", async () => {
    const gh = await fakeGitHub();
    try {
      const target = {
        owner: "a",
        repo: "b",
        serverUrl: "https://github.com",
        apiUrl: `${gh.url}/nope`,
        token: "t",
      };
      await expect(
        createPullRequest(target, { title: "t", head: "h", base: "main", body: "" }),
      ).rejects.toThrow(/answered 404 .*Not Found/);
      await expect(
        createPullRequest(
          { ...target, apiUrl: "http://127.0.0.1:9" },
          { title: "t", head: "h", base: "main", body: "" },
        ),
      ).rejects.toThrow(/could not reach/);
    } finally {
      await gh.close();
    }
  });
});

describe("plans, resources, validation fallback", () => {
  it("plans promotions and guards the remote-behind-primary rule", async () => {
    const model = await loadRepoOrThrow(FIXTURE);
    expect(planPromotion(model, "primary").to.dir).toBe("01-mtls");
    expect(planPromotion(model, "primary", "03-resilience").passed).toHaveLength(3);
    expect(() => planPromotion(model, "remote")).toThrow(/ahead of its primary/);
    expect(() => assertPinsAfterMove(model, "primary", "02-routing")).not.toThrow();
  });

  it("promotes a remote straight to its primary's chapter, not one step (chapter 19's `pnpm promote remote`)", async () => {
    const model = await loadRepoOrThrow(FIXTURE);
    const ahead = {
      ...model,
      clusters: model.clusters.map((c) => (c.name === "primary" ? { ...c, chapter: "02-routing" } : c)),
    };
    const plan = planPromotion(ahead, "remote");
    expect(plan.to.dir).toBe("02-routing");
    expect(plan.passed.map((c) => c.id)).toEqual([1, 2]);
    // --to still picks any chapter up to the primary's, and never past it.
    expect(planPromotion(ahead, "remote", "1").to.dir).toBe("01-mtls");
    // The primary itself still moves one chapter at a time.
    expect(planPromotion(ahead, "primary").to.dir).toBe("03-resilience");
    expect(() => planPromotion(ahead, "remote", "3")).toThrow(/ahead of its primary/);
  });

  it("describes rendered files as resources", () => {
    expect(describeRenderedFile("values/istiod.yaml", "x: 1")).toBe("Helm values of istiod");
    expect(describeRenderedFile("a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: w\n")).toBe(
      "Namespace w",
    );
    expect(
      describeRenderedFile(
        "a.yaml",
        "kind: A\nmetadata: {name: x, namespace: n}\n---\nkind: B\nmetadata: {name: y}\n",
      ),
    ).toBe("A n/x, B y");
    expect(describeRenderedFile("weird.yaml", ": : :")).toBe("weird.yaml");
    const changes = resourceChanges(
      new Map([
        ["old.yaml", "kind: Old\nmetadata: {name: o}\n"],
        ["same.yaml", "s"],
        ["comment.yaml", "# source: (cluster p at chapter 05)\nkind: C\nmetadata: {name: c}\n"],
        ["edited.yaml", "# a\nkind: E\nmetadata: {name: e}\nspec: {x: 1}\n"],
      ]),
      new Map([
        ["new.yaml", "kind: New\nmetadata: {name: n}\n"],
        ["same.yaml", "s"],
        ["comment.yaml", "# source: (cluster p at chapter 06)\nkind: C\nmetadata: {name: c}\n"],
        ["edited.yaml", "# a\nkind: E\nmetadata: {name: e}\nspec: {x: 2}\n"],
      ]),
    );
    // A comment-only change (a header naming the chapter) is not a change of the cluster.
    expect(changes).toEqual([
      { change: "changed", file: "edited.yaml", resource: "E e" },
      { change: "added", file: "new.yaml", resource: "New n" },
      { change: "removed", file: "old.yaml", resource: "Old o" },
    ]);
  });

  it("falls back to a render-only check while scripts/lib/validate does not exist, and says so", async () => {
    const ok = await validateStep(FIXTURE, { clusters: ["primary"], chapter: "3", modulePath: NO_VALIDATOR });
    expect(ok).toMatchObject({
      mode: "render-only",
      errors: 0,
      summary: "render-only check: 0 errors, 0 warnings",
    });
    expect(ok.notes[0]).toMatch(/not available yet/);
  });

  it("caps the resource table of a huge pull request body", async () => {
    const model = await loadRepoOrThrow(FIXTURE);
    const changes = Array.from({ length: 400 }, (_, i) => ({
      change: "added" as const,
      file: `f${i}.yaml`,
      resource: `R ${i}`,
    }));
    const body = promotionBody({
      cluster: "primary",
      from: model.chapters[0]!,
      to: model.chapters[1]!,
      passed: [model.chapters[1]!],
      changes,
      validation: {
        mode: "validate",
        errors: 0,
        warnings: 0,
        findings: [],
        notes: [],
        summary: "validate: 0 errors, 0 warnings",
      },
    });
    expect(body).toContain("| ... | 250 more | |");
    expect(body.length).toBeLessThan(65_536);
  });
});
