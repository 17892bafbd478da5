/**
 * Nothing trusted that should not be, nothing deleted that was not ours: rollback only restores
 * annotated tags on merged commits whose record matches, promote keeps (refuses over) ignored
 * files under rendered/, and concurrent `pnpm tag` runs tag a commit once. Real git only.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { RefusalError } from "../../scripts/lib/cli/run-main.ts";
import { readTree } from "../../scripts/lib/fs/tree.ts";
import { createMeshTag, listClusterTags } from "../../scripts/lib/gitops/mesh-tags.ts";
import { promote } from "../../scripts/lib/gitops/promote.ts";
import { rollback } from "../../scripts/lib/gitops/rollback.ts";
import { formatTagMessage, renderedHash } from "../../scripts/lib/gitops/tags.ts";
import { worldPerTest, promoteAndMerge, type Clone, type World } from "./world.ts";

const sh = promisify(execFile);
const newWorld = worldPerTest();
let world: World;

const tag = (c: Clone, cluster: string, extra: { push?: boolean } = {}) =>
  createMeshTag(c.git, { cluster, ...extra });

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RefusalError) return e.message;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("promote and ignored files under rendered/", () => {
  it("refuses while rendered/ holds ignored files, and leaves them where they are", async () => {
    world = await newWorld();
    const { a } = world;
    await appendFile(path.join(a.dir, ".git/info/exclude"), "*.local\n");
    const notes = path.join(a.dir, "clusters/primary/rendered/my-notes.local");
    await writeFile(notes, "kept\n");
    expect(await a.git.dirtyFiles()).toEqual([]);
    const message = await refusal(promote(a.dir, { cluster: "primary", env: a.env, noPr: true }));
    expect(message).toMatch(/ignored files.*\n.*clusters\/primary\/rendered\/my-notes\.local/);
    expect(await readFile(notes, "utf8")).toBe("kept\n");
    expect(await a.git.localBranchExists("promote/primary/01-mtls")).toBe(false);
  }, 60_000);
});

describe("rollback trusts only the tags pnpm tag made on merged commits", () => {
  it("refuses a tag moved to a commit that never reached main, even with a recomputed hash", async () => {
    world = await newWorld();
    const { a } = world;
    await tag(a, "primary");
    await promoteAndMerge(a, "primary");
    await tag(a, "primary");
    const [newest, seed] = await listClusterTags(a.git, "primary");
    // An attacker's commit on a side branch: an allow-all policy in istio-system.
    await a.git.run(["switch", "--quiet", "-c", "evil", seed!.commit]);
    const evil = path.join(a.dir, "clusters/primary/rendered/evil.yaml");
    await writeFile(
      evil,
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: allow-all\n  namespace: istio-system\nspec:\n  rules:\n    - {}\n",
    );
    await a.git.run(["add", "-A"]);
    await a.git.run(["commit", "--quiet", "-m", "harmless"]);
    const evilCommit = await a.git.head();
    const files = await readTree(path.join(a.dir, "clusters/primary/rendered"));
    await a.git.run(["switch", "--quiet", "main"]);
    const record = {
      cluster: "primary",
      chapter: seed!.chapter,
      date: "2026-01-01T00:00:00Z",
      commit: evilCommit,
      renderedSha256: renderedHash(files),
      files: files.size,
      subject: "moved",
    };
    const ident = await a.git.out(["var", "GIT_COMMITTER_IDENT"]);
    const object = await a.git.out(["mktag"], {
      input: `object ${evilCommit}\ntype commit\ntag ${seed!.name}\ntagger ${ident}\n\n${formatTagMessage(record)}`,
    });
    await a.git.run(["update-ref", `refs/tags/${seed!.name}`, object]);
    const moved = await refusal(
      rollback(a.dir, { cluster: "primary", to: seed!.name, env: a.env, noPr: true }),
    );
    expect(moved).toMatch(/not on origin\/main.*refusing/);

    // A lightweight tag in place of the annotated one: no record, so no hash to check.
    await a.git.run(["update-ref", `refs/tags/${seed!.name}`, seed!.commit]);
    const light = await refusal(
      rollback(a.dir, { cluster: "primary", to: seed!.name, env: a.env, noPr: true }),
    );
    expect(light).toMatch(/lightweight tag/);

    // A team that signs its tags: an unsigned one is refused with the command to check it.
    const unsigned = await refusal(
      rollback(a.dir, {
        cluster: "primary",
        to: newest!.name,
        env: { ...a.env, GITOPS_VERIFY_TAGS: "1" },
        noPr: true,
      }),
    );
    expect(unsigned).toMatch(/git tag -v/);
    expect(await a.git.dirtyFiles()).toEqual([]);
    expect(existsSync(evil)).toBe(false);
  }, 120_000);
});

describe("signed tags", () => {
  it("gitops.signTags signs with gpg; with gitops.verifyTags rollback accepts the signed tag", async () => {
    world = await newWorld();
    const { a } = world;
    const gnupg = path.join(world.tmp, "gnupg");
    await mkdir(gnupg, { mode: 0o700 });
    const gpgEnv = { ...process.env, GNUPGHOME: gnupg };
    await sh(
      "gpg",
      [
        "--batch",
        "--passphrase",
        "",
        "--quick-gen-key",
        "Alice <alice@example.test>",
        "ed25519",
        "sign",
        "never",
      ],
      {
        env: gpgEnv,
      },
    );
    const saved = process.env.GNUPGHOME;
    process.env.GNUPGHOME = gnupg;
    try {
      await a.git.run(["config", "gitops.signTags", "true"]);
      await a.git.run(["config", "gitops.verifyTags", "true"]);
      const seed = await tag(a, "primary");
      await promoteAndMerge(a, "primary");
      await tag(a, "primary");
      await sh("git", ["tag", "-v", seed.tag.name], { cwd: a.dir, env: { ...a.env, GNUPGHOME: gnupg } });
      const r = await rollback(a.dir, {
        cluster: "primary",
        to: seed.tag.name,
        env: { ...a.env, GNUPGHOME: gnupg },
        noPr: true,
      });
      expect(r.commit).toMatch(/^[0-9a-f]{40}$/);
    } finally {
      if (saved === undefined) delete process.env.GNUPGHOME;
      else process.env.GNUPGHOME = saved;
    }
  }, 120_000);
});

describe("concurrent pnpm tag runs", () => {
  it("tag one commit once, from one clone or two, pushed or not, and rollback --steps 1 still works", async () => {
    world = await newWorld();
    const { a, b } = world;
    await tag(a, "primary");
    await promoteAndMerge(a, "primary");
    await b.git.run(["pull", "--quiet", "--ff-only"]);
    // Two clones at once, each pushing: they race for the same commit.
    const results = await Promise.all([tag(a, "primary"), tag(b, "primary")]);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(results[0]!.tag.name).toBe(results[1]!.tag.name);
    await a.git.run(["fetch", "--quiet", "origin", "refs/tags/mesh/*:refs/tags/mesh/*"]);
    const onOrigin = (await a.git.out(["ls-remote", "--tags", "--refs", "origin"])).split("\n");
    expect(onOrigin).toHaveLength(2);

    // The same clone twice, without pushing: the local ref transaction decides.
    await promoteAndMerge(a, "primary");
    const local = await Promise.all([tag(a, "primary", { push: false }), tag(a, "primary", { push: false })]);
    expect(local.filter((r) => r.created)).toHaveLength(1);
    const head = await a.git.out(["log", "-1", "--first-parent", "--format=%H", "--", "clusters/primary/"]);
    const onHead = (await listClusterTags(a.git, "primary")).filter((t) => t.commit === head);
    expect(onHead).toHaveLength(1);
    const r = await rollback(a.dir, { cluster: "primary", steps: 1, env: a.env, noPr: true });
    expect(r.tag.name).toBe(results[0]!.tag.name);
  }, 180_000);
});
