/**
 * Loads the whole repository model from disk: clusters, chapters and helmfile.yaml, and checks
 * what only makes sense across files (the chapter sequence, the pins, remote vs primary).
 */
import { readdir, readFile } from "node:fs/promises";
import { existsSync, lstatSync } from "node:fs";
import path from "node:path";
import { FindingsError, type Finding } from "../findings.ts";
import { readRegularFile } from "../fs/safe-read.ts";
import { DEFAULT_YAML_LIMITS, parseYaml, unreadableFinding, type ParsedFile } from "../yaml-source.ts";
import { parseCluster } from "./cluster.ts";
import { CHAPTER_DIR_PATTERN, parseChapter } from "./chapter.ts";
import { parseHelmfile, type Helmfile } from "./helmfile.ts";
import type { Chapter, Cluster } from "./types.ts";
import { checkExpectationHistory } from "../behaviour/expectations.ts";

export interface RepoModel {
  root: string;
  clusters: Cluster[];
  chapters: Chapter[];
  helmfile: Helmfile;
}

async function subdirs(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** A regular file's text, or undefined with a finding (a FIFO, a device, a link loop, too large). */
async function readOrRefuse(root: string, file: string, findings: Finding[]): Promise<string | undefined> {
  const read = await readRegularFile(path.join(root, file), DEFAULT_YAML_LIMITS.maxBytes);
  if (read.ok) return read.text;
  findings.push(unreadableFinding(file, read.reason, read.hint));
  return undefined;
}

export async function loadRepo(root: string): Promise<{ model?: RepoModel; findings: Finding[] }> {
  const findings: Finding[] = [];
  const clusters: Cluster[] = [];
  const chapters: Chapter[] = [];
  /**
   * Chapters whose chapter.yaml exists but does not load: their own findings are the root cause,
   * so the sequence and the pins count them as present instead of adding "missing" cascades.
   */
  const broken: BrokenChapter[] = [];

  for (const dir of await subdirs(path.join(root, "clusters"))) {
    const file = `clusters/${dir}/cluster.yaml`;
    if (!existsSync(path.join(root, file))) continue;
    const text = await readOrRefuse(root, file, findings);
    if (text === undefined) continue;
    const loaded = parseCluster(text, file, dir);
    findings.push(...loaded.findings);
    if (loaded.value) clusters.push(loaded.value);
  }
  for (const dir of await subdirs(path.join(root, "chapters"))) {
    const file = `chapters/${dir}/chapter.yaml`;
    if (!CHAPTER_DIR_PATTERN.test(dir)) {
      findings.push(
        problem(
          `chapters/${dir}`,
          `chapter folder '${dir}' is not named NN-slug`,
          "rename it, e.g. 05-installing-istio",
        ),
      );
      continue;
    }
    if (!existsSync(path.join(root, file))) {
      findings.push(
        problem(
          `chapters/${dir}`,
          `chapter folder '${dir}' has no chapter.yaml`,
          "add chapter.yaml or remove the folder",
        ),
      );
      continue;
    }
    const text = await readOrRefuse(root, file, findings);
    if (text === undefined) continue;
    const loaded = parseChapter(text, file, dir);
    findings.push(...loaded.findings);
    if (loaded.value) chapters.push(loaded.value);
    else broken.push({ id: Number(CHAPTER_DIR_PATTERN.exec(dir)![1]), dir, file });
  }
  const helmfilePath = path.join(root, "helmfile.yaml");
  const hf = existsSync(helmfilePath)
    ? parseHelmfile(await readFile(helmfilePath, "utf8"))
    : { findings: [problem("helmfile.yaml", "helmfile.yaml is missing", "restore it from git")] };
  findings.push(...hf.findings);

  chapters.sort((a, b) => a.id - b.id);
  findings.push(
    ...checkChapterSequence(chapters, broken),
    ...checkPins(clusters, chapters, broken),
    ...checkExpectationHistory(chapters),
  );
  if (findings.some((f) => f.severity === "error") || !hf.value) return { findings };
  return { model: { root, clusters, chapters, helmfile: hf.value }, findings };
}

/** Like loadRepo, for CLIs: throws a FindingsError instead of returning findings. */
export async function loadRepoOrThrow(root: string): Promise<RepoModel> {
  const { model, findings } = await loadRepo(root);
  if (!model) throw new FindingsError(findings);
  return model;
}

function problem(file: string, message: string, hint: string, line = 1, column = 1): Finding {
  return { file, line, column, rule: "repo/chapter-graph", severity: "error", anchors: [], message, hint };
}

/** A chapter folder whose chapter.yaml has errors of its own (its id is the folder's NN). */
export interface BrokenChapter {
  id: number;
  dir: string;
  file: string;
}

/**
 * Chapters are numbered 00, 01, 02 ... with no gaps and no repeats: chapter N overlays N-1.
 * Broken chapters fill their place in the sequence and are not reported again.
 */
export function checkChapterSequence(
  chapters: readonly Chapter[],
  broken: readonly BrokenChapter[] = [],
): Finding[] {
  const findings: Finding[] = [];
  const all = [
    ...chapters.map((c) => ({ id: c.id, dir: c.dir, file: c.file, broken: false })),
    ...broken.map((b) => ({ ...b, broken: true })),
  ].sort((a, b) => a.id - b.id || a.dir.localeCompare(b.dir));
  all.forEach((c, i) => {
    if (c.id !== i && !c.broken) {
      const prev = all[i - 1];
      findings.push(
        problem(
          c.file,
          prev && prev.id === c.id
            ? `chapter ${c.id} appears twice: ${prev.dir} and ${c.dir}`
            : `chapter ${c.dir} follows ${prev?.dir ?? "nothing"}: chapter ${String(i).padStart(2, "0")} is missing`,
          "number chapters 00, 01, 02 ... without gaps or repeats",
        ),
      );
    }
  });
  return findings;
}

export function checkPins(
  clusters: readonly Cluster[],
  chapters: readonly Chapter[],
  broken: readonly BrokenChapter[] = [],
): Finding[] {
  const findings: Finding[] = [];
  const byDir = new Map(chapters.map((c) => [c.dir, c]));
  const byName = new Map(clusters.map((c) => [c.name, c]));
  const brokenDirs = new Set(broken.map((b) => b.dir));
  for (const c of clusters) {
    const pos = c.chapterPosition;
    if (!byDir.has(c.chapter) && !brokenDirs.has(c.chapter)) {
      findings.push({
        ...pos,
        rule: "repo/chapter-pin",
        severity: "error",
        anchors: [],
        message: `cluster '${c.name}' pins unknown chapter '${c.chapter}'`,
        hint: `use one of: ${chapters.map((ch) => ch.dir).join(", ") || "(no chapters yet)"}`,
      });
    }
    if (c.role !== "remote") continue;
    const primary = byName.get(c.istio.primaryCluster ?? "");
    if (!primary || primary.role !== "primary") {
      findings.push({
        ...pos,
        file: c.file,
        rule: "repo/remote-primary",
        severity: "error",
        anchors: [],
        message: `remote cluster '${c.name}' names '${c.istio.primaryCluster}' as its primary, which is not a declared primary cluster`,
        hint: `set istio.primaryCluster to one of: ${clusters
          .filter((x) => x.role === "primary")
          .map((x) => x.name)
          .join(", ")}`,
      });
      continue;
    }
    const mine = byDir.get(c.chapter);
    const theirs = byDir.get(primary.chapter);
    if (mine && theirs && mine.id > theirs.id) {
      findings.push({
        ...pos,
        rule: "repo/remote-ahead",
        severity: "error",
        anchors: [],
        message: `remote cluster '${c.name}' pins chapter ${mine.dir}, ahead of its primary '${primary.name}' at ${theirs.dir}`,
        hint: `promote '${primary.name}' first; a remote cluster runs on its primary's control plane`,
      });
    }
  }
  return findings;
}

/** Reads and parses the mesh files the chapters refer to, keyed by their path under mesh/. */
/** Whether a directory entry exists at all (a dangling or looping symlink too). */
function lexists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

export async function readMeshFiles(
  root: string,
  chapters: readonly Chapter[],
): Promise<Map<string, ParsedFile>> {
  const files = new Map<string, ParsedFile>();
  for (const ch of chapters) {
    for (const add of ch.mesh.add) {
      if (files.has(add.path)) continue;
      const full = path.join(root, "mesh", add.path);
      const file = `mesh/${add.path}`;
      if (!lexists(full)) continue; // compose reports the missing file at the chapter's line
      // Only regular files within the size limit: a link to /dev/zero, a FIFO or a link loop is
      // a finding at the file, not a hang or a crash.
      const read = await readRegularFile(full, DEFAULT_YAML_LIMITS.maxBytes);
      files.set(
        add.path,
        read.ok
          ? parseYaml(read.text, file)
          : { file, documents: [], findings: [unreadableFinding(file, read.reason, read.hint)] },
      );
    }
  }
  return files;
}
