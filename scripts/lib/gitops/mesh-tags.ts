/**
 * `pnpm tag` and `pnpm history`: annotated, immutable tags `mesh/<cluster>/<seq>-<chapter>` on the
 * commits that changed a cluster, and the list of them.
 *
 * A tag is created only after re-rendering the tagged commit's own tree (exported to a temporary
 * folder) and finding it equal to the committed clusters/<cluster>/rendered/, or, for a rollback
 * whose sources have moved on, finding the committed output byte-for-byte equal to an earlier tag's
 * (same chapter, same rendered hash). The tag object is
 * built with `git mktag`, pushed by object id together with `refs/mesh-seq/<cluster>/<seq>` in one
 * atomic push that requires that ref not to exist (so no two runs get the same number; the loser
 * retries with the next one), and only then given its local ref, created with "must not exist
 * yet": a tag is never moved or deleted, and a failed push leaves no local tag. Tagging a commit
 * that already carries a tag of the cluster is a no-op (and so is a run that loses the race for
 * `refs/mesh-commit/<cluster>/<commit>` to another run tagging the same commit) that returns that tag (pushing it first when
 * it exists only in this clone).
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { RefusalError, UsageError } from "../cli/run-main.ts";
import { FindingsError, formatFindingLine } from "../findings.ts";
import { diffTrees, readTree } from "../fs/tree.ts";
import { loadRepo } from "../model/repo.ts";
import { helmTemplateDeps } from "../render/helm-template.ts";
import { renderedRoot } from "../render/layout.ts";
import { renderClusters } from "../render/pipeline.ts";
import type { RenderDeps } from "../render/render.ts";
import { GitError, type Git } from "./git.ts";
import {
  clusterTagGlob,
  formatTagMessage,
  formatTagName,
  nextSeq,
  parseTagMessage,
  parseTagName,
  renderedHash,
} from "./tags.ts";
import { fetchMeshTags, type Log } from "./workspace.ts";

const run = promisify(execFile);

export interface MeshTag {
  name: string;
  cluster: string;
  seq: number;
  chapter: string;
  /** The tagged commit. */
  commit: string;
  /** From the tag message, else the tagger date. */
  date: string;
  renderedSha256?: string;
  subject?: string;
  /** An annotated tag (a tag object); lightweight tags carry no record and are never trusted. */
  annotated?: boolean;
  /** The `commit:` field of the tag's record, which must be the tagged commit. */
  recordedCommit?: string;
}

/** The cluster's tags, newest (highest seq) first. */
export async function listClusterTags(git: Git, cluster: string): Promise<MeshTag[]> {
  const fmt =
    [
      "%(refname)",
      "%(objecttype)",
      "%(objectname)",
      "%(*objectname)",
      "%(creatordate:iso-strict)",
      "%(contents)",
    ].join("%1f") + "%1e";
  const out = await git.run([
    "for-each-ref",
    `--format=${fmt}`,
    `refs/tags/${clusterTagGlob(cluster).replace(/\*$/, "")}`,
  ]);
  const tags: MeshTag[] = [];
  for (const record of out.split("\x1e")) {
    const [ref, type, oid, peeled, created, contents] = record.replace(/^\n/, "").split("\x1f");
    if (!ref) continue;
    const name = parseTagName(ref);
    if (!name || name.cluster !== cluster) continue;
    const fields = type === "tag" ? parseTagMessage(contents ?? "") : {};
    tags.push({
      name: name.name,
      cluster,
      seq: name.seq,
      chapter: name.chapter,
      commit: type === "tag" ? peeled! : oid!,
      date: fields.date ?? created ?? "",
      ...(fields.renderedSha256 ? { renderedSha256: fields.renderedSha256 } : {}),
      ...(fields.subject ? { subject: fields.subject } : {}),
      annotated: type === "tag",
      ...(fields.commit ? { recordedCommit: fields.commit } : {}),
    });
  }
  return tags.sort((a, b) => b.seq - a.seq);
}

export interface TagOptions {
  cluster: string;
  /** The commit to tag; default: the newest commit on HEAD's first-parent line that changed clusters/<cluster>/. */
  commit?: string;
  /** Push to origin when there is one (default true). */
  push?: boolean;
  log?: Log;
  now?: () => Date;
  renderDeps?: (exportRoot: string) => RenderDeps;
}

export interface TagResult {
  created: boolean;
  tag: MeshTag;
  pushed: boolean;
}

/** How many sequence numbers `pnpm tag` tries before giving up when other runs keep taking them. */
const SEQ_ATTEMPTS = 5;

/**
 * The ref that says "this commit is tagged for this cluster", created (must not exist yet) in the
 * same atomic push as the tag, and locally in the same ref transaction: two runs tagging one
 * commit at the same time cannot both succeed, whatever numbers they picked.
 */
export function commitRef(cluster: string, commit: string): string {
  return `refs/mesh-commit/${cluster}/${commit}`;
}

/** The ref that reserves a cluster's sequence number on origin, pushed atomically with the tag. */
export function seqRef(cluster: string, seq: number): string {
  return `refs/mesh-seq/${cluster}/${String(seq).padStart(4, "0")}`;
}

export async function createMeshTag(git: Git, o: TagOptions): Promise<TagResult> {
  const log = o.log ?? (() => {});
  const hasOrigin = await git.hasRemote("origin");
  const push = hasOrigin && o.push !== false;
  if (hasOrigin) await fetchMeshTags(git, log);
  const commit = await resolveTagCommit(git, o.cluster, o.commit);
  let existing = await listClusterTags(git, o.cluster);
  const already = existing.find((t) => t.commit === commit);
  if (already)
    return { created: false, tag: already, pushed: push && (await pushLocalOnly(git, already, log)) };

  log(`re-rendering ${o.cluster} at ${commit.slice(0, 12)} to check its committed output ...`);
  const check = await checkRenderedAt(git, commit, o.cluster, o.renderDeps);
  const { chapter, files } = check;
  const hash = renderedHash(files);
  let restoredFrom: MeshTag | undefined;
  if (check.mismatch.length) {
    // A rollback restores a tagged state whose sources have since changed: its output is not what
    // the sources render, but it is byte-for-byte a state that was checked when it was tagged.
    restoredFrom = existing.find((t) => t.renderedSha256 === hash && t.chapter === chapter);
    if (!restoredFrom) {
      throw new RefusalError(
        `the committed ${renderedRoot(o.cluster)}/ at ${commit.slice(0, 12)} is not what its cluster.yaml (${chapter}) renders, ` +
          `nor the output of an earlier tag; refusing to tag it (run \`pnpm render\` and commit):\n${check.mismatch.slice(0, 30).join("\n")}`,
      );
    }
    log(
      `the output is not what today's sources render, but it is exactly ${restoredFrom.name}'s: tagging it as restored`,
    );
  }
  const commitSubject = await git.out(["log", "-1", "--format=%s", commit]);
  const subject = restoredFrom ? `${commitSubject} (output of ${restoredFrom.name})` : commitSubject;
  const ident = await git.out(["var", "GIT_COMMITTER_IDENT"]);
  for (let attempt = 1; ; attempt++) {
    const seq = Math.max(nextSeq(existing), push ? (await highestRemoteSeq(git, o.cluster)) + 1 : 0);
    const name = formatTagName(o.cluster, seq, chapter);
    const date = (o.now ?? (() => new Date()))()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");
    const record = {
      cluster: o.cluster,
      chapter,
      date,
      commit,
      renderedSha256: hash,
      files: files.size,
      subject,
    };
    const payload = `object ${commit}\ntype commit\ntag ${name}\ntagger ${ident}\n\n${formatTagMessage(record)}`;
    const object = await git.out(["mktag"], { input: await maybeSigned(git, payload) });
    if (push) {
      log(`pushing ${name} ...`);
      const refused = await pushTagWithSeq(git, o.cluster, seq, name, object, commit);
      if (refused !== undefined) {
        if (attempt >= SEQ_ATTEMPTS) {
          throw new RefusalError(
            `origin refused tag '${name}' ${attempt} times (other runs keep taking the numbers?); nothing was tagged. ` +
              `Run \`pnpm tag ${o.cluster}\` again.\n${refused}`,
          );
        }
        log(`number ${seq} of ${o.cluster} was taken on origin meanwhile; trying the next one`);
        await fetchMeshTags(git, log);
        existing = await listClusterTags(git, o.cluster);
        const tagged = existing.find((t) => t.commit === commit);
        if (tagged) return { created: false, tag: tagged, pushed: false };
        continue;
      }
    }
    try {
      // One transaction: the tag and the commit's marker both, or neither (another run was first).
      await git.run(["update-ref", "--stdin"], {
        input: `start\ncreate refs/tags/${name} ${object}\ncreate ${commitRef(o.cluster, commit)} ${object}\ncommit\n`,
      });
    } catch (e) {
      if (!(e instanceof GitError)) throw e;
      const tagged = (await listClusterTags(git, o.cluster)).find((t) => t.commit === commit);
      if (tagged) return { created: false, tag: tagged, pushed: false };
      throw new RefusalError(
        `tag '${name}' (or ${commitRef(o.cluster, commit)}) already exists locally and is never moved: ${e.stderr.trim()}`,
      );
    }
    const tag: MeshTag = {
      name,
      cluster: o.cluster,
      seq,
      chapter,
      commit,
      date,
      renderedSha256: record.renderedSha256,
      subject,
      annotated: true,
      recordedCommit: commit,
    };
    return { created: true, tag, pushed: push };
  }
}

/**
 * The tag object's text, signed the way `git tag -s` signs it (an armored detached OpenPGP
 * signature over the text, appended) when the repository asks for signed tags:
 * `git config gitops.signTags true` (or GITOPS_SIGN_TAGS=1). The key is `user.signingKey`, else the
 * committer's e-mail; the program `gpg.program`, else gpg. `git tag -v <tag>` verifies it.
 */
async function maybeSigned(git: Git, payload: string): Promise<string> {
  const wanted =
    process.env.GITOPS_SIGN_TAGS === "1" ||
    (await git.try(["config", "--bool", "gitops.signTags"])) === "true";
  if (!wanted) return payload;
  const key =
    (await git.try(["config", "user.signingKey"])) ||
    /<([^>]*)>/.exec(await git.out(["var", "GIT_COMMITTER_IDENT"]))?.[1] ||
    "";
  const program = (await git.try(["config", "gpg.program"])) || "gpg";
  const signature = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      program,
      ["--batch", "--no-tty", "-bsau", key],
      { cwd: git.cwd, encoding: "utf8" },
      (error, stdout, stderr) =>
        error
          ? reject(
              new RefusalError(
                `signing the tag with ${program} (key '${key}') failed: ${stderr.trim() || error.message}`,
              ),
            )
          : resolve(stdout),
    );
    child.stdin?.end(payload);
  });
  return payload + signature;
}

/**
 * Pushes the tag object and `refs/mesh-seq/<cluster>/<seq>` in one atomic push; the sequence ref
 * must not exist yet, so two runs that picked the same number (for different states, hence
 * different tag names) cannot both succeed. Returns git's message when origin refused it.
 */
async function pushTagWithSeq(
  git: Git,
  cluster: string,
  seq: number,
  name: string,
  object: string,
  commit: string,
): Promise<string | undefined> {
  const ref = seqRef(cluster, seq);
  const marker = commitRef(cluster, commit);
  try {
    await git.run([
      "push",
      "--quiet",
      "--porcelain",
      "--atomic",
      `--force-with-lease=${ref}:`,
      `--force-with-lease=${marker}:`,
      "origin",
      `${object}:refs/tags/${name}`,
      `${object}:${ref}`,
      `${object}:${marker}`,
    ]);
    return undefined;
  } catch (e) {
    if (!(e instanceof GitError)) throw e;
    return e.stderr.trim() || e.message;
  }
}

/** The highest sequence number reserved on origin for the cluster (tags and seq refs), 0 when none. */
async function highestRemoteSeq(git: Git, cluster: string): Promise<number> {
  const out = await git.out([
    "ls-remote",
    "origin",
    `refs/mesh-seq/${cluster}/*`,
    `refs/tags/${clusterTagGlob(cluster)}`,
  ]);
  let max = 0;
  for (const line of out.split("\n")) {
    const ref = line.split("\t")[1]?.replace(/\^\{\}$/, "");
    if (!ref) continue;
    const seqRefMatch = new RegExp(`^refs/mesh-seq/${cluster}/(\\d+)$`).exec(ref);
    const seq = seqRefMatch ? Number(seqRefMatch[1]) : parseTagName(ref)?.seq;
    if (seq !== undefined && Number.isFinite(seq)) max = Math.max(max, seq);
  }
  return max;
}

/**
 * A tag that exists here but not on origin (`pnpm tag --no-push` earlier) is pushed now, with its
 * sequence ref. Returns whether it pushed; refuses when origin gave its number to another tag.
 */
async function pushLocalOnly(git: Git, tag: MeshTag, log: Log): Promise<boolean> {
  const remote = await git.out(["ls-remote", "--tags", "origin", `refs/tags/${tag.name}`]);
  if (remote) return false;
  log(`${tag.name} exists only in this clone; pushing it ...`);
  const object = await git.out(["rev-parse", `refs/tags/${tag.name}`]);
  const refused = await pushTagWithSeq(git, tag.cluster, tag.seq, tag.name, object, tag.commit);
  if (refused !== undefined) {
    throw new RefusalError(
      `the local tag '${tag.name}' was never pushed, and origin refused it now (number ${tag.seq} of ${tag.cluster} is taken there?). ` +
        `Delete the local tag (\`git tag -d ${tag.name}\`) and run \`pnpm tag ${tag.cluster}\` again.\n${refused}`,
    );
  }
  return true;
}

async function resolveTagCommit(git: Git, cluster: string, rev: string | undefined): Promise<string> {
  if (rev !== undefined) {
    const sha = await git.revParse(`${rev}^{commit}`);
    if (!sha) throw new UsageError(`'${rev}' is not a commit in this repository`);
    return sha;
  }
  const sha = await git.out([
    "log",
    "-1",
    "--first-parent",
    "--format=%H",
    "HEAD",
    "--",
    `clusters/${cluster}/`,
  ]);
  if (!sha)
    throw new RefusalError(
      `no commit on HEAD's history changed clusters/${cluster}/; is '${cluster}' a cluster?`,
    );
  return sha;
}

/**
 * Re-renders the cluster from the commit's own tree (exported to a temporary folder) and compares
 * the result with the rendered output committed there. Returns the pinned chapter, the committed
 * files and the differences (`changed|missing|extra  <file>` lines; empty when they agree).
 */
export async function checkRenderedAt(
  git: Git,
  commit: string,
  cluster: string,
  depsFor: (exportRoot: string) => RenderDeps = helmTemplateDeps,
): Promise<{ chapter: string; files: Map<string, string>; mismatch: string[] }> {
  const dir = await exportCommit(git, commit);
  try {
    const { model, findings } = await loadRepo(dir);
    if (!model) {
      throw new RefusalError(
        `the repository at ${commit.slice(0, 12)} does not load, so its output cannot be checked:\n${findings.map(formatFindingLine).join("\n")}`,
      );
    }
    const c = model.clusters.find((x) => x.name === cluster);
    if (!c) throw new RefusalError(`cluster '${cluster}' does not exist at ${commit.slice(0, 12)}`);
    let wanted: Map<string, string>;
    try {
      const [r] = await renderClusters(dir, { clusters: [cluster] }, depsFor(dir), model);
      wanted = r!.files;
    } catch (e) {
      if (e instanceof FindingsError) {
        throw new RefusalError(
          `cluster '${cluster}' does not render at ${commit.slice(0, 12)}:\n${e.message}`,
        );
      }
      throw e;
    }
    const committed = await readTree(path.join(dir, renderedRoot(cluster)));
    const diff = diffTrees(committed, wanted);
    const mismatch = [
      ...diff.changed.map((f) => `  changed  ${f}`),
      ...diff.added.map((f) => `  missing  ${f}`),
      ...diff.removed.map((f) => `  extra    ${f}`),
    ];
    return { chapter: c.chapter, files: committed, mismatch };
  } finally {
    await rm(path.dirname(dir), { recursive: true, force: true });
  }
}

/** Writes a commit's whole tree to `<new temporary folder>/tree` (`git archive | tar -x`); remove the parent when done. */
export async function exportCommit(git: Git, commit: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "gitops-export-"));
  try {
    const tar = path.join(dir, "tree.tar");
    await git.run(["archive", "--format=tar", "-o", tar, commit]);
    const tree = path.join(dir, "tree");
    await mkdir(tree);
    await run("tar", ["-xf", tar, "-C", tree]);
    await rm(tar);
    return tree;
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
