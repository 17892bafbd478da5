import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { RefusalError } from "../../scripts/lib/cli/run-main.ts";
import { readTree } from "../../scripts/lib/fs/tree.ts";
import { promote } from "../../scripts/lib/gitops/promote.ts";
import {
  fakeGitHub,
  PROJECT_ROOT,
  worldPerTest,
  runCli,
  stubValidator,
  type Clone,
  type World,
} from "./world.ts";

const newWorld = worldPerTest();
let world: World;

async function snapshot(c: Clone) {
  return {
    branch: await c.git.currentBranch(),
    head: await c.git.head(),
    dirty: await c.git.dirtyFiles(),
    branches: (await c.git.out(["branch", "--format=%(refname:short)"])).split("\n").sort(),
  };
}

async function chapterOnBranch(c: Clone, rev: string, cluster = "primary"): Promise<string | undefined> {
  return /^chapter: "?([^"\s]+)"?/m.exec(
    (await c.git.showFile(rev, `clusters/${cluster}/cluster.yaml`)) ?? "",
  )?.[1];
}

describe("pnpm promote", () => {
  it("promotes one step on a branch, keeps cluster.yaml's comments, pushes and returns to main", async () => {
    world = await newWorld();
    const { a } = world;
    const before = await readFile(path.join(a.dir, "clusters/primary/cluster.yaml"), "utf8");
    const mainBefore = await a.git.head();

    const r = await promote(a.dir, { cluster: "primary", env: a.env });

    expect(r.plan.to.dir).toBe("01-mtls");
    expect(r.branch).toBe("promote/primary/01-mtls");
    expect(r.publish?.pushed).toBe(true);
    expect(r.publish?.next).toMatch(/open a pull request into 'main'/);
    // back on main, untouched
    expect(await snapshot(a)).toMatchObject({ branch: "main", head: mainBefore, dirty: [] });
    // the branch carries exactly the promotion
    const commit = await a.git.out(["rev-parse", "origin/promote/primary/01-mtls"]);
    expect(commit).toBe(r.commit);
    expect(await a.git.out(["log", "-1", "--format=%s", commit])).toBe(
      "Promote primary to chapter 01-mtls (Mutual TLS)",
    );
    const changed = (await a.git.out(["diff", "--name-only", `${mainBefore}..${commit}`])).split("\n");
    expect(changed.every((f) => f.startsWith("clusters/primary/"))).toBe(true);
    expect(changed).toContain("clusters/primary/rendered/mesh/istio-system/peerauthentication-default.yaml");
    const after = (await a.git.showFile(commit, "clusters/primary/cluster.yaml"))!;
    expect(after).toBe(
      before.replace("chapter: 00-basics # keep this comment", "chapter: 01-mtls # keep this comment"),
    );
    expect(r.changes).toContainEqual({
      change: "added",
      file: "mesh/istio-system/peerauthentication-default.yaml",
      resource: "PeerAuthentication istio-system/default",
    });
    expect(r.validation.mode).toBe("render-only");
    expect(r.body).toContain("Sidecars talk mutual TLS");
  });

  it("promotes several chapters with --to, and the remote cluster up to its primary", async () => {
    world = await newWorld();
    const { a } = world;
    // With the chart mirror the body also says what the platform Applications will apply.
    const mirror = process.env.CHART_MIRROR ?? path.join(PROJECT_ROOT, "../shared/charts");
    const r = await promote(a.dir, { cluster: "primary", to: "3", env: { ...a.env, CHART_MIRROR: mirror } });
    expect(r.plan.passed.map((c) => c.dir)).toEqual(["01-mtls", "02-routing", "03-resilience"]);
    expect(r.body).toContain("## What the platform Applications apply");
    const ingress = r.body.split("\n").find((l) => l.startsWith("| istio-ingress |"));
    expect(ingress).toContain("`istio-ingress/deployment-istio-ingress`");
    expect(ingress).toMatch(/^\| istio-ingress \| [1-9]\d* /);
    expect(await chapterOnBranch(a, r.commit!)).toBe("03-resilience");
    expect(r.body).toContain("## The chapters (3)");
    for (const s of ["Sidecars talk mutual TLS", "A VirtualService routes", "Timeouts and retries"])
      expect(r.body).toContain(s);
    expect(r.changes.map((c) => c.resource)).toEqual(
      expect.arrayContaining([
        "VirtualService workshop/reviews",
        "DestinationRule workshop/reviews",
        "Helm values of istio-ingress",
      ]),
    );
    // the rendered tree on the branch is what the chapter renders
    const files = await a.git.treeAt(r.commit!, "clusters/primary/rendered");
    expect(files.get("mesh/workshop/virtualservice-reviews.yaml")).toMatch(/timeout: 2s/);
  });

  it("--dry-run writes nothing and creates no branch", async () => {
    world = await newWorld();
    const { a } = world;
    const before = await snapshot(a);
    const tree = await readTree(a.dir + "/clusters/primary");
    const r = await promote(a.dir, { cluster: "primary", to: "02-routing", dryRun: true, env: a.env });
    expect(r.dryRun).toBe(true);
    expect(r.changes.length).toBeGreaterThan(0);
    expect(await snapshot(a)).toEqual(before);
    expect(await readTree(a.dir + "/clusters/primary")).toEqual(tree);
    expect(await a.git.remoteBranches("origin", "promote/*")).toEqual([]);
  });

  it("refuses a dirty tree, a branch behind its upstream, an open promotion, a remote ahead of its primary", async () => {
    world = await newWorld();
    const { a, b } = world;

    await writeFile(path.join(a.dir, "notes.txt"), "wip\n");
    await expect(promote(a.dir, { cluster: "primary", env: a.env })).rejects.toThrow(
      /uncommitted changes[\s\S]*notes\.txt/,
    );
    await a.git.run(["clean", "-fdq"]);

    // b pushes a commit to main: a is now behind once it fetches
    await writeFile(path.join(b.dir, "README.md"), "hello\n");
    await b.git.run(["add", "README.md"]);
    await b.git.run(["commit", "--quiet", "-m", "docs"]);
    await b.git.run(["push", "--quiet", "origin", "main"]);
    await expect(promote(a.dir, { cluster: "primary", env: a.env })).rejects.toThrow(
      /1 commit\(s\) behind origin\/main/,
    );
    await a.git.run(["pull", "--quiet", "--ff-only"]);
    // an unpushed local commit would ride along in the pull request
    await a.git.run(["commit", "--quiet", "--allow-empty", "-m", "local only"]);
    await expect(promote(a.dir, { cluster: "primary", env: a.env })).rejects.toThrow(
      /1 commit\(s\) that are not on origin\/main/,
    );
    await a.git.run(["reset", "--quiet", "--hard", "origin/main"]);

    await promote(b.dir, { cluster: "primary", env: b.env });
    const err = await promote(a.dir, { cluster: "primary", to: "2", env: a.env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusalError);
    expect((err as Error).message).toMatch(/origin already has 'promote\/primary\/01-mtls'/);

    // remote may not pass its primary (which is still at 00 on main)
    await expect(promote(a.dir, { cluster: "remote", env: a.env })).rejects.toThrow(
      /ahead of its primary 'primary'/,
    );
    // refusals left nothing behind
    expect(await snapshot(a)).toMatchObject({ branch: "main", dirty: [], branches: ["main"] });
  });

  it("refuses at the last chapter and backwards --to", async () => {
    world = await newWorld();
    const { a } = world;
    await expect(promote(a.dir, { cluster: "primary", to: "0", env: a.env })).rejects.toThrow(
      /already at 00-basics/,
    );
    await expect(promote(a.dir, { cluster: "nope", env: a.env })).rejects.toThrow(/unknown cluster 'nope'/);
    await expect(promote(a.dir, { cluster: "primary", to: "9", env: a.env })).rejects.toThrow(
      /unknown chapter '9'/,
    );
  });

  it("when validation fails, restores the files, returns to main and deletes the branch", async () => {
    world = await newWorld();
    const { a } = world;
    const before = await snapshot(a);
    const failing = await stubValidator(world.tmp, 1);
    const err = await promote(a.dir, { cluster: "primary", env: a.env, validatorPath: failing }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RefusalError);
    expect((err as Error).message).toMatch(
      /validation failed \(validate: 1 error, 0 warnings\); the promotion was not committed[\s\S]*test\/broken/,
    );
    expect(await snapshot(a)).toEqual(before);
    expect(existsSync(path.join(a.dir, "clusters/primary/rendered/mesh"))).toBe(false);
    expect(await a.git.remoteBranches("origin", "promote/*")).toEqual([]);
  });

  it("opens the pull request through the GitHub REST API", async () => {
    world = await newWorld();
    const { a } = world;
    const gh = await fakeGitHub();
    try {
      const env = {
        ...a.env,
        GITHUB_API_URL: gh.url,
        GITHUB_TOKEN: "t0ken",
        GITHUB_REPOSITORY: "acme/workshop",
      };
      const passing = await stubValidator(world.tmp, 0);
      const r = await promote(a.dir, { cluster: "primary", to: "02", env, validatorPath: passing });
      expect(r.publish?.pullRequest).toEqual({
        number: 42,
        url: "https://github.example/acme/workshop/pull/42",
      });
      expect(gh.requests).toHaveLength(1);
      const req = gh.requests[0]!;
      expect(req.method).toBe("POST");
      expect(req.url).toBe("/repos/acme/workshop/pulls");
      expect(req.headers.authorization).toBe("Bearer t0ken");
      expect(req.headers.accept).toBe("application/vnd.github+json");
      const body = JSON.parse(req.body) as { title: string; head: string; base: string; body: string };
      expect(body.title).toBe("Promote primary to chapter 02-routing (Routing)");
      expect(body.head).toBe("promote/primary/02-routing");
      expect(body.base).toBe("main");
      expect(body.body).toContain("Sidecars talk mutual TLS; the mesh starts in PERMISSIVE mode.");
      expect(body.body).toContain("A VirtualService routes the reviews service; mTLS becomes STRICT.");
      expect(body.body).toContain(
        "| added | VirtualService workshop/reviews | `mesh/workshop/virtualservice-reviews.yaml` |",
      );
      expect(body.body).toContain("| added | PeerAuthentication istio-system/default |");
      expect(body.body).toContain("validate: 0 errors, 0 warnings");
    } finally {
      await gh.close();
    }
  });

  it("a promotion raced by a second clone: the loser's push is refused and nothing is lost", async () => {
    world = await newWorld();
    const { a, b } = world;
    const hook = "__gitopsRaceHook";
    const racing = await stubValidator(world.tmp, 0, hook);
    let winner: string | undefined;
    // Bob has passed every check and is validating when Alice's promotion lands on origin.
    (globalThis as Record<string, unknown>)[hook] = async () => {
      delete (globalThis as Record<string, unknown>)[hook];
      winner = (await promote(a.dir, { cluster: "primary", env: a.env })).commit;
    };
    const bobMain = await b.git.head();
    const err = await promote(b.dir, { cluster: "primary", env: b.env, validatorPath: racing }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RefusalError);
    expect((err as Error).message).toMatch(
      /origin refused the push of 'promote\/primary\/01-mtls'[\s\S]*Nothing is lost/,
    );
    expect(winner).toBeDefined();
    expect(await b.git.out(["ls-remote", "origin", "refs/heads/promote/primary/01-mtls"])).toMatch(
      new RegExp(`^${winner}`),
    );
    // Bob: back on main, clean, main unchanged, his commit kept on the local branch
    expect(await snapshot(b)).toMatchObject({ branch: "main", head: bobMain, dirty: [] });
    const bobs = await b.git.out(["rev-parse", "promote/primary/01-mtls"]);
    expect(bobs).not.toBe(winner);
    expect(await b.git.out(["log", "-1", "--format=%an %s", bobs])).toBe(
      "Bob Promote primary to chapter 01-mtls (Mutual TLS)",
    );
    expect(await chapterOnBranch(b, bobs)).toBe("01-mtls");
  });

  it("runs as a CLI: --dry-run, a real promotion with the compare URL, and a refusal (exit 1)", async () => {
    world = await newWorld();
    const { a } = world;
    const env = { ...a.env, GITHUB_REPOSITORY: "acme/workshop" }; // no token: prints the compare URL

    const dry = await runCli("promote.ts", ["primary", "--dry-run"], a.dir, env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/\[dry run\] would promote primary: 00-basics -> 01-mtls/);
    expect(dry.stdout).toContain("+ PeerAuthentication istio-system/default");

    const real = await runCli("promote.ts", ["primary"], a.dir, env);
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toContain("promoted primary: 00-basics -> 01-mtls");
    expect(real.stdout).toContain(
      "https://github.com/acme/workshop/compare/main...promote/primary/01-mtls?expand=1 (set GITHUB_TOKEN",
    );

    const again = await runCli("promote.ts", ["primary"], a.dir, env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^refused: origin already has 'promote\/primary\/01-mtls'/m);

    const usage = await runCli("promote.ts", [], a.dir, env);
    expect(usage.code).toBe(2);
  });
});
