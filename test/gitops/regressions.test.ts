/**
 * Regression tests for defects found in review: each one fails on the code before its fix.
 * Real git only: a bare origin and clones in a temporary folder (see world.ts).
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { RefusalError } from "../../scripts/lib/cli/run-main.ts";
import { writeTreeAtomically } from "../../scripts/lib/fs/tree.ts";
import { createMeshTag } from "../../scripts/lib/gitops/mesh-tags.ts";
import { promote } from "../../scripts/lib/gitops/promote.ts";
import { rollback } from "../../scripts/lib/gitops/rollback.ts";
import { parseTagName } from "../../scripts/lib/gitops/tags.ts";
import { loadRepoOrThrow } from "../../scripts/lib/model/repo.ts";
import { renderClusters } from "../../scripts/lib/render/pipeline.ts";
import { freshness } from "../../scripts/lib/validate/repo-mode.ts";
import { worldPerTest, promoteAndMerge, PROJECT_ROOT, TSX, type Clone, type World } from "./world.ts";

const sh = promisify(execFile);

const newWorld = worldPerTest();
let world: World;

async function originTags(c: Clone): Promise<string[]> {
  const out = await c.git.out(["ls-remote", "--tags", "--refs", "origin", "refs/tags/mesh/*"]);
  return out
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split("\t")[1]!.replace(/^refs\/tags\//, ""))
    .sort();
}

describe("pnpm tag sequence numbers", () => {
  it("two runs tagging different states at the same time never get the same number", async () => {
    world = await newWorld();
    const { a, b } = world;
    const m1 = await promoteAndMerge(a, "primary");
    const m2 = await promoteAndMerge(a, "primary");
    await b.git.run(["pull", "--quiet", "--ff-only"]);
    let raced = false;
    // b has listed origin's tags and is re-rendering when a's `pnpm tag` (a real CLI run) finishes
    const r = await createMeshTag(b.git, {
      cluster: "primary",
      commit: m2,
      log: (line) => {
        if (raced || !line.startsWith("re-rendering")) return;
        raced = true;
        execFileSync(TSX, [path.join(PROJECT_ROOT, "scripts/tag.ts"), "primary", "--commit", m1], {
          cwd: a.dir,
          env: a.env,
          stdio: "pipe",
        });
      },
    });
    expect(raced).toBe(true);
    expect(r.created).toBe(true);
    const tags = await originTags(a);
    expect(tags).toEqual(["mesh/primary/0001-01-mtls", "mesh/primary/0002-02-routing"]);
    expect(new Set(tags.map((t) => parseTagName(t)!.seq)).size).toBe(tags.length);
    expect(r.tag.name).toBe("mesh/primary/0002-02-routing");
  }, 120_000);

  it("pushes a tag that an earlier --no-push run left only in this clone", async () => {
    world = await newWorld();
    const { a } = world;
    const local = await createMeshTag(a.git, { cluster: "primary", push: false });
    expect(local).toMatchObject({ created: true, pushed: false });
    expect(await originTags(a)).toEqual([]);
    const again = await createMeshTag(a.git, { cluster: "primary" });
    expect(again).toMatchObject({ created: false, pushed: true, tag: { name: local.tag.name } });
    expect(await originTags(a)).toEqual([local.tag.name]);
    // and now it is a plain no-op
    expect(await createMeshTag(a.git, { cluster: "primary" })).toMatchObject({
      created: false,
      pushed: false,
    });
  });
});

describe("the tag workflow", () => {
  it("tags every cluster whose newest state is untagged, not only those the push changed", async () => {
    world = await newWorld();
    const { a, b } = world;
    const wf = parse(await readFile(path.join(PROJECT_ROOT, ".github/workflows/tag.yaml"), "utf8")) as {
      jobs: { tag: { steps: Array<{ name?: string; run?: string; env?: Record<string, string> }> } };
    };
    const step = wf.jobs.tag.steps.find((s) => s.run?.includes("pnpm tag"))!;
    // `pnpm tag <cluster>` as the runner would run it, in this clone
    const bin = path.join(world.tmp, "bin");
    await mkdir(bin);
    await writeFile(
      path.join(bin, "pnpm"),
      `#!/bin/sh\n[ "$1" = tag ] || exit 64\nshift\nexec "${TSX}" "${path.join(PROJECT_ROOT, "scripts/tag.ts")}" "$@"\n`,
    );
    await chmod(path.join(bin, "pnpm"), 0o755);
    // neither cluster is tagged; the push being handled (a run for an earlier push was cancelled
    // while pending) changed only primary
    const before = await a.git.head();
    await promoteAndMerge(a, "primary");
    await b.git.run(["pull", "--quiet", "--ff-only"]);
    const after = await b.git.head();
    await sh("bash", ["-e", "-c", step.run!], {
      cwd: b.dir,
      env: { ...b.env, PATH: `${bin}:${b.env.PATH ?? ""}`, BEFORE: before, AFTER: after },
    });
    expect(await originTags(a)).toEqual(["mesh/primary/0001-01-mtls", "mesh/remote/0001-00-basics"]);
    // a second run is a no-op
    await sh("bash", ["-e", "-c", step.run!], {
      cwd: b.dir,
      env: { ...b.env, PATH: `${bin}:${b.env.PATH ?? ""}`, BEFORE: before, AFTER: after },
    });
    expect(await originTags(a)).toHaveLength(2);
  }, 120_000);
});

describe("repo/rendered-stale and rollbacks", () => {
  async function staleFindings(c: Clone) {
    const model = await loadRepoOrThrow(c.dir);
    const cluster = model.clusters.find((x) => x.name === "primary")!;
    const [r] = await renderClusters(c.dir, { clusters: ["primary"] }, undefined, model);
    return freshness(c.dir, cluster, cluster.chapter, r!.files);
  }

  it("is a warning for a verified restore (trailer + the tag's rendered hash), an error otherwise", async () => {
    world = await newWorld();
    const { a, b } = world;
    await createMeshTag(a.git, { cluster: "primary" });
    await promoteAndMerge(a, "primary");
    await promoteAndMerge(a, "primary");
    const good = await createMeshTag(a.git, { cluster: "primary" });
    // a bad mesh change inside the chapter, rendered, merged and tagged
    const mesh = path.join(a.dir, "mesh/routing/reviews.yaml");
    await writeFile(mesh, (await readFile(mesh, "utf8")).replace("subset: v1", "subset: v9"));
    for (const r of await renderClusters(a.dir))
      await writeTreeAtomically(path.join(a.dir, `clusters/${r.cluster.name}/rendered`), r.files);
    await a.git.run(["commit", "--quiet", "-am", "Route reviews to v9"]);
    await a.git.run(["push", "--quiet", "origin", "main"]);
    await createMeshTag(a.git, { cluster: "primary" });

    await b.git.run(["pull", "--quiet", "--ff-only"]);
    const rb = await rollback(b.dir, { cluster: "primary", to: good.tag.name, noPr: true, env: b.env });
    await b.git.run(["switch", "--quiet", rb.branch!]);
    const onBranch = await staleFindings(b);
    expect(onBranch.length).toBeGreaterThan(0);
    for (const f of onBranch) {
      expect(f).toMatchObject({ rule: "repo/rendered-stale", severity: "warning" });
      expect(f.message).toContain(`restored from ${good.tag.name}`);
    }
    expect(onBranch.map((f) => f.file)).toContain(
      "clusters/primary/rendered/mesh/workshop/virtualservice-reviews.yaml",
    );
    // the test merge a pull request is checked out as: the trailer is on HEAD^2
    await b.git.run(["switch", "--quiet", "--detach", "main"]);
    await b.git.run(["merge", "--quiet", "--no-ff", "-m", "Merge rollback", rb.branch!]);
    expect((await staleFindings(b)).every((f) => f.severity === "warning")).toBe(true);

    // the trailer without the tag's output proves nothing
    const vs = path.join(b.dir, "clusters/primary/rendered/mesh/workshop/virtualservice-reviews.yaml");
    await writeFile(vs, (await readFile(vs, "utf8")) + "# hand edit\n");
    await b.git.run(["commit", "--quiet", "-am", `Hand edit\n\nMesh-Restored-From: ${good.tag.name}`]);
    const forged = await staleFindings(b);
    expect(forged.length).toBeGreaterThan(0);
    expect(forged.every((f) => f.severity === "error")).toBe(true);
  }, 120_000);
});

describe("preflight: the base of a change is up to date", () => {
  it("compares with origin/<branch> when the branch has no upstream, and refuses without one", async () => {
    world = await newWorld();
    const { a, b } = world;
    await a.git.run(["branch", "--unset-upstream"]);
    await writeFile(path.join(b.dir, "README.md"), "b\n");
    await b.git.run(["add", "README.md"]);
    await b.git.run(["commit", "--quiet", "-m", "docs"]);
    await b.git.run(["push", "--quiet", "origin", "main"]);
    await expect(promote(a.dir, { cluster: "primary", env: a.env, noPr: true })).rejects.toThrow(
      /'main' is 1 commit\(s\) behind origin\/main/,
    );
    await a.git.run(["switch", "--quiet", "-c", "local-only"]);
    await expect(promote(a.dir, { cluster: "primary", env: a.env, noPr: true })).rejects.toThrow(
      /'local-only' has no upstream and origin has no branch 'local-only'/,
    );
    expect(await a.git.localBranchExists("promote/primary/01-mtls")).toBe(false);
  });

  it("fetches the upstream's own remote when it is not origin", async () => {
    world = await newWorld();
    const { a, b } = world;
    const fork = path.join(world.tmp, "fork.git");
    await sh("git", ["clone", "--quiet", "--bare", world.origin, fork], { env: a.env });
    await a.git.run(["remote", "add", "fork", fork]);
    await a.git.run(["fetch", "--quiet", "fork"]);
    await a.git.run(["branch", "--quiet", "-u", "fork/main"]);
    await b.git.run(["remote", "add", "fork", fork]);
    await writeFile(path.join(b.dir, "README.md"), "b\n");
    await b.git.run(["add", "README.md"]);
    await b.git.run(["commit", "--quiet", "-m", "docs"]);
    await b.git.run(["push", "--quiet", "fork", "main"]);
    await expect(promote(a.dir, { cluster: "primary", env: a.env, noPr: true })).rejects.toThrow(
      /'main' is 1 commit\(s\) behind fork\/main/,
    );
  });
});

describe("one open change per cluster and its paired clusters", () => {
  async function pushBranchFrom(c: Clone, branch: string) {
    await c.git.run(["push", "--quiet", "origin", `HEAD:refs/heads/${branch}`]);
  }

  it("promote refuses an open rollback of the cluster, and an open change of its primary", async () => {
    world = await newWorld();
    const { a, b } = world;
    await promoteAndMerge(a, "primary");
    await b.git.run(["pull", "--quiet", "--ff-only"]);
    await pushBranchFrom(b, "rollback/primary/0001-00-basics");
    await expect(promote(a.dir, { cluster: "primary", env: a.env, noPr: true })).rejects.toThrow(
      /origin already has 'rollback\/primary\/0001-00-basics'/,
    );
    await expect(promote(a.dir, { cluster: "remote", env: a.env, noPr: true })).rejects.toThrow(
      /origin already has 'rollback\/primary\/0001-00-basics'/,
    );
    expect(await a.git.dirtyFiles()).toEqual([]);
  });

  it("rollback refuses an open promotion of the cluster or of its remotes", async () => {
    world = await newWorld();
    const { a, b } = world;
    const first = await createMeshTag(a.git, { cluster: "primary" });
    await promoteAndMerge(a, "primary");
    await createMeshTag(a.git, { cluster: "primary" });
    await pushBranchFrom(b, "promote/remote/01-mtls");
    await expect(
      rollback(a.dir, { cluster: "primary", to: first.tag.name, env: a.env, noPr: true }),
    ).rejects.toThrow(/origin already has 'promote\/remote\/01-mtls'/);
    await b.git.run(["push", "--quiet", "origin", ":refs/heads/promote/remote/01-mtls"]);
    await pushBranchFrom(b, "promote/primary/02-routing");
    await expect(
      rollback(a.dir, { cluster: "primary", to: first.tag.name, env: a.env, noPr: true }),
    ).rejects.toThrow(/origin already has 'promote\/primary\/02-routing'/);
  });

  it("a competing change pushed meanwhile: the pushed branch is deleted again and the command refuses", async () => {
    world = await newWorld();
    const { a, b } = world;
    const run = promote(a.dir, {
      cluster: "primary",
      env: a.env,
      noPr: true,
      log: (line) => {
        if (line.startsWith("pushing promote/"))
          execFileSync(
            "git",
            ["push", "--quiet", "origin", "HEAD:refs/heads/rollback/primary/0001-00-basics"],
            {
              cwd: b.dir,
              env: b.env,
            },
          );
      },
    });
    await expect(run).rejects.toThrow(
      /another change appeared on origin while pushing: 'rollback\/primary\/0001-00-basics'/,
    );
    expect(await a.git.remoteBranches("origin", "promote/*")).toEqual([]);
    expect(await a.git.localBranchExists("promote/primary/01-mtls")).toBe(true);
    expect(await a.git.currentBranch()).toBe("main");
  });
});

describe("signals while a change is in progress", () => {
  it("SIGTERM during validation restores the files and the branch, and exits 143", async () => {
    world = await newWorld();
    const { a } = world;
    const marker = path.join(world.tmp, "validating");
    const validator = path.join(world.tmp, "slow-validator.mjs");
    await writeFile(
      validator,
      `import { writeFileSync } from "node:fs";
export async function validateRepo() {
  writeFileSync(${JSON.stringify(marker)}, "x");
  await new Promise((resolve) => setTimeout(resolve, 60_000));
  return { findings: [], summary: { errors: 0, warnings: 0 } };
}
`,
    );
    const head = await a.git.head();
    const child = spawn(TSX, [path.join(PROJECT_ROOT, "scripts/promote.ts"), "primary", "--no-pr"], {
      cwd: a.dir,
      env: { ...a.env, GITOPS_VALIDATOR_MODULE: validator },
      stdio: "pipe",
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    for (let i = 0; i < 600 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(marker), stderr).toBe(true);
    expect(await a.git.currentBranch()).toBe("promote/primary/01-mtls");
    expect((await a.git.dirtyFiles()).length).toBeGreaterThan(0);
    child.kill("SIGTERM");
    expect(await exited, stderr).toBe(143);
    expect(await a.git.currentBranch()).toBe("main");
    expect(await a.git.dirtyFiles()).toEqual([]);
    expect(await a.git.head()).toBe(head);
    expect(await a.git.localBranchExists("promote/primary/01-mtls")).toBe(false);
  }, 120_000);
});

describe("opening the pull request", () => {
  it("a failure while reading GitHub's answer falls back to the compare URL (a refusal, not a crash)", async () => {
    world = await newWorld();
    const { a } = world;
    const env = {
      ...a.env,
      GITHUB_TOKEN: "t",
      GITHUB_REPOSITORY: "acme/mesh",
      GITHUB_API_URL: "http://127.0.0.1:9",
    };
    const fetchImpl = (async () =>
      ({
        status: 201,
        text: () => Promise.reject(new Error("The operation was aborted due to timeout")),
      }) as unknown as Response) as typeof fetch;
    const err = await promote(a.dir, { cluster: "primary", env, fetchImpl }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusalError);
    expect((err as Error).message).toMatch(
      /opening the pull request failed[\s\S]*Open it by hand at https:\/\/github\.com\/acme\/mesh\/compare\//,
    );
  });
});
