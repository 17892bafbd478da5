/**
 * Writing a whole folder of generated files so that it is either the old tree or the new one,
 * never a mix: the new tree is built beside the old and swapped in with renames.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";

export type FileTree = ReadonlyMap<string, string>;

export async function readTree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  const walk = async (rel: string) => {
    for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(child);
      else if (e.isFile()) out.set(child, await readFile(path.join(dir, child), "utf8"));
    }
  };
  await walk("");
  return out;
}

export async function writeTreeAtomically(dir: string, files: FileTree): Promise<void> {
  const parent = path.dirname(dir);
  await mkdir(parent, { recursive: true });
  const staging = await mkdtemp(path.join(parent, `.${path.basename(dir)}.new-`));
  try {
    for (const [rel, content] of files) {
      const full = path.join(staging, rel);
      await mkdir(path.dirname(full), { recursive: true });
      await writeFile(full, content);
    }
    const old = existsSync(dir) ? `${staging.replace(".new-", ".old-")}` : undefined;
    if (old) await rename(dir, old);
    await rename(staging, dir);
    if (old) await rm(old, { recursive: true, force: true });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Writes one file via a temporary sibling and a rename. */
export async function writeFileAtomically(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(tmp, content);
  await rename(tmp, file);
}

export interface TreeDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

/** What would change if `wanted` replaced `actual`. */
export function diffTrees(actual: FileTree, wanted: FileTree): TreeDiff {
  const added = [...wanted.keys()].filter((k) => !actual.has(k)).sort();
  const removed = [...actual.keys()].filter((k) => !wanted.has(k)).sort();
  const changed = [...wanted.keys()].filter((k) => actual.has(k) && actual.get(k) !== wanted.get(k)).sort();
  return { added, removed, changed };
}

export function isEmptyDiff(d: TreeDiff): boolean {
  return d.added.length + d.removed.length + d.changed.length === 0;
}
