/**
 * A content-addressed cache on disk: one JSON file of `{ "<content hash>": value }`. Used by
 * `pnpm validate` for kubeconform verdicts, parsed YAML and `helm template` output. Least recently
 * used entries are dropped past MAX_ENTRIES; the file is saved whole through a temp file and a
 * rename, so a crash leaves the previous cache, never half a file.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

/** Entries kept per cache file: enough for several branches of a large repo. */
export const MAX_ENTRIES = 200_000;

export class ContentCache<V> {
  private readonly entries: Map<string, V>;
  private dirty = false;

  protected constructor(
    private readonly file: string | undefined,
    entries: Map<string, V>,
    private readonly maxEntries = MAX_ENTRIES,
  ) {
    this.entries = entries;
  }

  /** A cache that remembers nothing (`--no-cache`). */
  static disabled<V>(): ContentCache<V> {
    return new ContentCache<V>(undefined, new Map());
  }

  /** `maxEntries` bounds the file: large values (rendered charts) want a smaller bound. */
  static async open<V>(
    file: string,
    accept: (v: unknown) => boolean,
    maxEntries = MAX_ENTRIES,
  ): Promise<ContentCache<V>> {
    let entries = new Map<string, V>();
    try {
      const raw = JSON.parse(await readFile(file, "utf8")) as unknown;
      if (raw && typeof raw === "object" && !Array.isArray(raw))
        entries = new Map(Object.entries(raw as Record<string, V>).filter(([, v]) => accept(v)));
    } catch {
      // Missing or unreadable: start empty; the next save replaces it whole.
    }
    return new ContentCache<V>(file, entries, maxEntries);
  }

  get enabled(): boolean {
    return this.file !== undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  get(contentHash: string): V | undefined {
    if (!this.file) return undefined;
    const v = this.entries.get(contentHash);
    if (v !== undefined) {
      // Most recently used last, so trimming drops what has not been seen for longest.
      this.entries.delete(contentHash);
      this.entries.set(contentHash, v);
    }
    return v;
  }

  set(contentHash: string, value: V): void {
    if (!this.file) return;
    this.entries.delete(contentHash);
    this.entries.set(contentHash, value);
    this.dirty = true;
  }

  async save(): Promise<void> {
    if (!this.file || !this.dirty) return;
    const keep = [...this.entries].slice(-this.maxEntries);
    await mkdir(path.dirname(this.file), { recursive: true });
    // Unique per writer (pids repeat across containers sharing a home); the last rename wins.
    const tmp = `${this.file}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(Object.fromEntries(keep)));
      await rename(tmp, this.file);
    } finally {
      await rm(tmp, { force: true });
    }
    this.dirty = false;
  }
}

/**
 * What a cached result says about the tool that produced it: its path, size and modification
 * time, so a rebuilt or bumped binary starts a fresh cache.
 */
export async function binaryIdentity(bin: string): Promise<string> {
  const st = await stat(bin);
  return `${path.resolve(bin)}\0${st.size}\0${Math.trunc(st.mtimeMs)}`;
}
