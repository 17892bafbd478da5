import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { RefusalError } from "../../scripts/lib/cli/run-main.ts";
import { readTree, writeTreeAtomically } from "../../scripts/lib/fs/tree.ts";
import { createMeshTag, listClusterTags } from "../../scripts/lib/gitops/mesh-tags.ts";
import { rollback } from "../../scripts/lib/gitops/rollback.ts";
import { renderClusters } from "../../scripts/lib/render/pipeline.ts";
import { worldPerTest, promoteAndMerge, runCli, stubValidator, type Clone, type World } from "./world.ts";

const sh = promisify(execFile);

const newWorld = worldPerTest();
let world: World;

async function tag(c: Clone, cluster: string, commit?: string) {
  return createMeshTag(c.git, { cluster, ...(commit ? { commit } : {}) });
}

/** primary: 0001-00-basics (seed), 0002-01-mtls, 0003-02-routing; remote: 0001-00-basics. */
async function worldWithHistory(): Promise<World> {
  const w = await newWorld();
  await tag(w.a, "primary");
  await tag(w.a, "remote");
  await promoteAndMerge(w.a, "primary");
  await tag(w.a, "primary");
  await promoteAndMerge(w.a, "primary");
  await tag(w.a, "primary");
  return w;
}

const names = async (c: Clone, cluster: string) => (await listClusterTags(c.git, cluster)).map((t) => t.name);

describe("pnpm tag and pnpm history", () => {
  it("tags the commit that changed the cluster, records chapter, date and the rendered hash, and pushes", async () => {
    world = await newWorld();
    const { a, b } = world;
    const merge = await promoteAndMerge(a, "primary");
    // a later commit that does not touch the cluster does not move the default target
    await writeFile(path.join(a.dir, "README.md"), "notes\n");
    await a.git.run(["add", "README.md"]);
    await a.git.run(["commit", "--quiet", "-m", "docs"]);

    const r = await createMeshTag(a.git, {
      cluster: "primary",
      now: () => new Date("2030-01-02T03:04:05.678Z"),
    });
    expect(r.created).toBe(true);
    expect(r.pushed).toBe(true);
    expect(r.tag).toMatchObject({
      name: "mesh/primary/0001-01-mtls",
      commit: merge,
      chapter: "01-mtls",
      date: "2030-01-02T03:04:05Z",
    });
    expect(await a.git.out(["cat-file", "-t", "refs/tags/mesh/primary/0001-01-mtls"])).toBe("tag");
    const message = await a.git.out(["tag", "-l", "--format=%(contents)", "mesh/primary/0001-01-mtls"]);
    expect(message).toContain("chapter: 01-mtls");
    expect(message).toContain("date: 2030-01-02T03:04:05Z");
    expect(message).toContain(`commit: ${merge}`);
    // the documented shell pipeline gives the same hash
    const { stdout } = await sh(
      "bash",
      [
        "-c",
        "cd clusters/primary/rendered && find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum | sha256sum",
      ],
      { cwd: a.dir },
    );
    expect(message).toContain(`rendered-sha256: ${stdout.split(" ")[0]}`);
    expect(r.tag.renderedSha256).toBe(stdout.split(" ")[0]);
    // on origin, so the other clone sees it
    await b.git.run(["fetch", "--quiet", "origin", "refs/tags/mesh/*:refs/tags/mesh/*"]);
    expect(await names(b, "primary")).toEqual(["mesh/primary/0001-01-mtls"]);
  });

  it("is idempotent on an already tagged commit and never moves or deletes a tag", async () => {
    world = await newWorld();
    const { a, b } = world;
    const first = await tag(a, "primary");
    expect(first.created).toBe(true);
    const second = await tag(a, "primary");
    expect(second).toMatchObject({ created: false, tag: { name: first.tag.name } });
    expect(await names(a, "primary")).toEqual(["mesh/primary/0001-00-basics"]);

    // someone force-moves the tag on origin: our copy stays where it was, and the next tag number goes on
    await b.git.run(["fetch", "--quiet", "origin", "refs/tags/mesh/*:refs/tags/mesh/*"]);
    await writeFile(path.join(b.dir, "README.md"), "x\n");
    await b.git.run(["add", "README.md"]);
    await b.git.run(["commit", "--quiet", "-m", "unrelated"]);
    await b.git.run(["tag", "-f", "-a", "-m", "moved", first.tag.name, "HEAD"]);
    await b.git.run(["push", "--quiet", "--force", "origin", `refs/tags/${first.tag.name}`]);
    const object = await a.git.out(["rev-parse", `refs/tags/${first.tag.name}`]);
    const logs: string[] = [];
    const again = await createMeshTag(a.git, { cluster: "primary", log: (l) => logs.push(l) });
    expect(again.created).toBe(false);
    expect(await a.git.out(["rev-parse", `refs/tags/${first.tag.name}`])).toBe(object);
    expect(logs.join("\n")).toMatch(/could not fetch the mesh tags/);
  });

  it("refuses to tag a commit whose rendered output is not what its cluster.yaml renders", async () => {
    world = await newWorld();
    const { a } = world;
    const file = path.join(a.dir, "clusters/primary/rendered/values/istiod.yaml");
    await writeFile(file, (await readFile(file, "utf8")) + "hand: edited\n");
    await a.git.run(["commit", "--quiet", "-am", "hand edit"]);
    await expect(tag(a, "primary")).rejects.toThrow(
      /is not what its cluster\.yaml \(00-basics\) renders, nor the output of an earlier tag[\s\S]*changed {2}values\/istiod\.yaml/,
    );
    expect(await names(a, "primary")).toEqual([]);
    expect(await a.git.out(["ls-remote", "--tags", "origin"])).toBe("");
    await expect(tag(a, "primary", "no-such-rev")).rejects.toThrow(/'no-such-rev' is not a commit/);
  });

  it("history lists the tags newest first (CLI), and `pnpm tag` runs as a CLI", async () => {
    world = await worldWithHistory();
    const { a, b } = world;
    await b.git.run(["pull", "--quiet", "--ff-only"]);
    const cli = await runCli("tag.ts", ["remote"], b.dir, b.env);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/is already tagged mesh\/remote\/0001-00-basics; nothing to do/);

    const h = await runCli("history.ts", ["primary"], b.dir, b.env);
    expect(h.code, h.stderr).toBe(0);
    const lines = h.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^TAG\s+CHAPTER\s+DATE\s+COMMIT\s+SUBJECT$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([
      "mesh/primary/0003-02-routing",
      "mesh/primary/0002-01-mtls",
      "mesh/primary/0001-00-basics",
    ]);
    expect(lines[1]).toContain((await a.git.head()).slice(0, 12));
    expect(lines[1]).toContain("Merge pull request from promote/primary/02-routing");

    // A cluster that does not exist is a usage error, not an empty history.
    const nope = await runCli("history.ts", ["nope"], b.dir, b.env);
    expect(nope.code).toBe(2);
    expect(nope.stderr).toContain("unknown cluster 'nope'");
    expect(nope.stderr).toContain("declared: primary, remote");
    expect(nope.stdout).toBe("");
  });
});

describe("pnpm rollback", () => {
  it("restores the chapter and the rendered tree of a tag as a new commit on a rollback branch", async () => {
    world = await worldWithHistory();
    const { a } = world;
    const mainBefore = await a.git.head();
    const clusterYaml = await readFile(path.join(a.dir, "clusters/primary/cluster.yaml"), "utf8");
    const r = await rollback(a.dir, { cluster: "primary", to: "mesh/primary/0002-01-mtls", env: a.env });

    expect(r.branch).toBe("rollback/primary/0002-01-mtls");
    expect(r.fromChapter).toBe("02-routing");
    expect(r.toChapter.dir).toBe("01-mtls");
    expect(r.drift).toEqual([]);
    expect(await a.git.currentBranch()).toBe("main");
    expect(await a.git.head()).toBe(mainBefore);
    expect(await a.git.dirtyFiles()).toEqual([]);
    const commit = await a.git.out(["rev-parse", "origin/rollback/primary/0002-01-mtls"]);
    expect(commit).toBe(r.commit);
    expect(await a.git.out(["rev-parse", `${commit}^`])).toBe(mainBefore);
    expect(await a.git.showFile(commit, "clusters/primary/cluster.yaml")).toBe(
      clusterYaml.replace("chapter: 02-routing #", "chapter: 01-mtls #"),
    );
    const tagTree = await a.git.treeAt("mesh/primary/0002-01-mtls", "clusters/primary/rendered");
    expect(await a.git.treeAt(commit, "clusters/primary/rendered")).toEqual(tagTree);
    expect(r.changes.filter((c) => c.change === "removed").map((c) => c.resource)).toEqual([
      "DestinationRule workshop/reviews",
      "VirtualService workshop/reviews",
    ]);
    expect(r.body).toMatch(/roll-forward/);
    expect(await a.git.out(["log", "-1", "--format=%B", commit])).toMatch(
      /Mesh-Restored-From: mesh\/primary\/0002-01-mtls/,
    );
  });

  it("--steps K counts tagged states back from the current one", async () => {
    world = await worldWithHistory();
    const { a } = world;
    expect((await rollback(a.dir, { cluster: "primary", steps: 1, dryRun: true, env: a.env })).tag.name).toBe(
      "mesh/primary/0002-01-mtls",
    );
    expect((await rollback(a.dir, { cluster: "primary", steps: 2, dryRun: true, env: a.env })).tag.name).toBe(
      "mesh/primary/0001-00-basics",
    );
    await expect(rollback(a.dir, { cluster: "primary", steps: 3, env: a.env })).rejects.toThrow(
      /cannot go back 3 step\(s\): primary has 3 tag\(s\), and is at the newest/,
    );
    // an untagged promotion since the newest tag counts as the first step back
    await promoteAndMerge(a, "primary");
    expect((await rollback(a.dir, { cluster: "primary", steps: 1, dryRun: true, env: a.env })).tag.name).toBe(
      "mesh/primary/0003-02-routing",
    );
    const real = await rollback(a.dir, { cluster: "primary", steps: 2, env: a.env });
    expect(real.branch).toBe("rollback/primary/0002-01-mtls");
    expect(real.fromChapter).toBe("03-resilience");
  });

  it("undoes a mesh change within a chapter, --direct on main, and the result gets its own tag", async () => {
    world = await worldWithHistory();
    const { a, b } = world;
    // a bad mesh change: reviews routed to a subset that does not exist, rendered and merged
    const mesh = path.join(a.dir, "mesh/routing/reviews.yaml");
    await writeFile(mesh, (await readFile(mesh, "utf8")).replace("subset: v1", "subset: v9"));
    for (const r of await renderClusters(a.dir))
      await writeTreeAtomically(path.join(a.dir, `clusters/${r.cluster.name}/rendered`), r.files);
    await a.git.run(["commit", "--quiet", "-am", "Route reviews to v9"]);
    await a.git.run(["push", "--quiet", "origin", "main"]);
    const bad = await tag(a, "primary");
    expect(bad.tag.name).toBe("mesh/primary/0004-02-routing");

    await b.git.run(["pull", "--quiet", "--ff-only"]);
    const cli = await runCli("rollback.ts", ["primary", "--steps", "1", "--direct"], b.dir, b.env);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(
      /rolled back primary to mesh\/primary\/0003-02-routing: chapter 02-routing -> 02-routing/,
    );
    expect(cli.stdout).toMatch(/~ VirtualService workshop\/reviews/);
    expect(cli.stdout).toMatch(
      /differ from what today's sources render[\s\S]*mesh\/workshop\/virtualservice-reviews\.yaml/,
    );
    expect(cli.stdout).toMatch(/pushed; Argo CD picks it up/);
    const head = await b.git.head();
    expect(await b.git.out(["rev-parse", "origin/main"])).toBe(head);
    const vs = await readFile(
      path.join(b.dir, "clusters/primary/rendered/mesh/workshop/virtualservice-reviews.yaml"),
      "utf8",
    );
    expect(vs).toContain("subset: v1");

    // the restored output is not what today's sources render, but it is exactly tag 0003's: it gets a tag
    const t = await runCli("tag.ts", ["primary"], b.dir, b.env);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toContain(`tagged ${head.slice(0, 12)} as mesh/primary/0005-02-routing and pushed it`);
    const tags = await listClusterTags(b.git, "primary");
    expect(tags[0]).toMatchObject({
      name: "mesh/primary/0005-02-routing",
      commit: head,
      renderedSha256: tags[2]!.renderedSha256,
    });
    expect(tags[0]!.subject).toMatch(/\(output of mesh\/primary\/0003-02-routing\)$/);
  });

  it("demotes the validator's 'rendered output is stale' finding for the restored cluster, but blocks on real errors", async () => {
    world = await worldWithHistory();
    const { a } = world;
    const stale = path.join(world.tmp, "stale-validator.mjs");
    await writeFile(
      stale,
      `export async function validateRepo() {
  const f = { file: "clusters/primary/rendered/mesh/workshop/virtualservice-reviews.yaml", line: 1, column: 1, rule: "repo/rendered-fresh", severity: "error", anchors: [], message: "stale", hint: "render" };
  return { findings: [f], summary: { errors: 1, warnings: 0 } };
}
`,
    );
    const ok = await rollback(a.dir, {
      cluster: "primary",
      steps: 1,
      env: a.env,
      validatorPath: stale,
      noPr: true,
    });
    expect(ok.validation).toMatchObject({ mode: "validate", errors: 0, warnings: 1 });
    expect(ok.body).toMatch(/demoted to a warning/);

    // one open change per cluster: close the first rollback before the next one
    await a.git.run(["push", "--quiet", "origin", `:refs/heads/${ok.branch!}`]);
    const before = { head: await a.git.head(), branches: await a.git.out(["branch", "--list"]) };
    const failing = await stubValidator(world.tmp, 2);
    const err = await rollback(a.dir, {
      cluster: "primary",
      steps: 2,
      env: a.env,
      validatorPath: failing,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusalError);
    expect((err as Error).message).toMatch(/validation failed \(validate: 2 errors/);
    expect({ head: await a.git.head(), branches: await a.git.out(["branch", "--list"]) }).toEqual(before);
    expect(await a.git.dirtyFiles()).toEqual([]);
    expect((await readTree(path.join(a.dir, "clusters/primary/rendered/mesh/workshop"))).size).toBe(2);
  });

  it("refuses another cluster's tag, an unknown or non-mesh tag, and a rollback that leaves the remote ahead", async () => {
    world = await worldWithHistory();
    const { a } = world;
    await expect(
      rollback(a.dir, { cluster: "primary", to: "mesh/remote/0001-00-basics", env: a.env }),
    ).rejects.toThrow(/tag 'mesh\/remote\/0001-00-basics' belongs to cluster 'remote', not 'primary'/);
    await expect(
      rollback(a.dir, { cluster: "primary", to: "0099-03-resilience", env: a.env }),
    ).rejects.toThrow(/unknown tag 'mesh\/primary\/0099-03-resilience'/);
    await a.git.run(["tag", "v1"]);
    await expect(rollback(a.dir, { cluster: "primary", to: "v1", env: a.env })).rejects.toThrow(
      /'v1' is not a mesh tag/,
    );
    await expect(
      rollback(a.dir, { cluster: "primary", to: "mesh/primary/0003-02-routing", env: a.env }),
    ).rejects.toThrow(/already matches mesh\/primary\/0003-02-routing/);

    // the remote follows its primary to 01-mtls (--to); the primary may no longer go back to 00
    await promoteAndMerge(a, "remote", "01");
    await tag(a, "remote");
    const err = await rollback(a.dir, {
      cluster: "primary",
      to: "mesh/primary/0001-00-basics",
      env: a.env,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusalError);
    expect((err as Error).message).toMatch(
      /remote cluster 'remote' pins chapter 01-mtls, ahead of its primary 'primary' at 00-basics/,
    );
    // to 01-mtls is fine
    const ok = await rollback(a.dir, { cluster: "primary", to: "0002-01-mtls", dryRun: true, env: a.env });
    expect(ok.toChapter.dir).toBe("01-mtls");
    expect(await a.git.out(["branch", "--list"])).toBe("* main");
    expect(await a.git.dirtyFiles()).toEqual([]);

    const cli = await runCli("rollback.ts", ["primary", "--to", "mesh/remote/0001-00-basics"], a.dir, a.env);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^refused: tag 'mesh\/remote\/0001-00-basics' belongs to cluster 'remote'/m);
  });
});
