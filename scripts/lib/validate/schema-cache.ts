/**
 * Content-addressed caches for `pnpm validate`. First, kubeconform's verdicts, so a file kubeconform has already judged
 * (same bytes, same kubeconform binary, same flags and schema locations) is not sent to it again.
 * Between two runs of `pnpm validate` most files are unchanged (and in repo mode most chapters
 * render most files identically), so the schema layer then costs only the files that changed.
 *
 * One JSON file per configuration key under the cache folder: `{ "<file sha1>": [results...] }`.
 * Only verdicts are cached ("valid" and "invalid with these errors"); a file that produced a
 * kubeconform error (a schema it could not fetch, a parse failure) is always run again. Writes go
 * to a temp file renamed into place, so a crash leaves the old cache, never half a file.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { KubeconformOptions, KubeconformResult } from "./kubeconform.ts";

/** Entries kept per configuration: enough for several branches of a large repo. */
export const MAX_ENTRIES = 200_000;
const FORMAT = 1;

export type CachedVerdict = Array<Omit<KubeconformResult, "filename">>;

export function validateCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VALIDATE_CACHE_DIR) return env.VALIDATE_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "istio-gitops", "validate");
}

/**
 * What a verdict depends on besides the file: the binary (path, size, mtime: a rebuilt or bumped
 * kubeconform gets a fresh cache) and every flag except the file list. Schema locations are keyed
 * by their text: the upstream locations are versioned paths; after editing a local schema folder,
 * run with --no-cache (or delete the cache folder).
 */
export async function configKey(bin: string, options: KubeconformOptions): Promise<string> {
  const st = await stat(bin);
  const parts = {
    format: FORMAT,
    bin: path.resolve(bin),
    size: st.size,
    mtime: Math.trunc(st.mtimeMs),
    kubernetesVersion: options.kubernetesVersion,
    schemaLocations: options.schemaLocations,
    skipKinds: [...options.skipKinds].sort(),
  };
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 32);
}

/** Only verdicts are worth keeping; errors may be transient (network, missing schema mirror). */
export function isVerdict(results: readonly KubeconformResult[]): boolean {
  return results.every((r) => r.status === "statusInvalid" || r.status === "statusValid");
}

/**
 * A JSON file of `{ "<content hash>": value }`, least recently used entries dropped past
 * MAX_ENTRIES, saved whole through a temp file and a rename.
 */
export class ContentCache<V> {
  private readonly entries: Map<string, V>;
  private dirty = false;

  protected constructor(
    private readonly file: string | undefined,
    entries: Map<string, V>,
  ) {
    this.entries = entries;
  }

  /** A cache that remembers nothing (`--no-cache`). */
  static disabled<V>(): ContentCache<V> {
    return new ContentCache<V>(undefined, new Map());
  }

  static async open<V>(file: string, accept: (v: unknown) => boolean): Promise<ContentCache<V>> {
    let entries = new Map<string, V>();
    try {
      const raw = JSON.parse(await readFile(file, "utf8")) as unknown;
      if (raw && typeof raw === "object" && !Array.isArray(raw))
        entries = new Map(Object.entries(raw as Record<string, V>).filter(([, v]) => accept(v)));
    } catch {
      // Missing or unreadable: start empty; the next save replaces it whole.
    }
    return new ContentCache<V>(file, entries);
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
    const keep = [...this.entries].slice(-MAX_ENTRIES);
    await mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(Object.fromEntries(keep)));
    await rename(tmp, this.file);
    this.dirty = false;
  }
}

/** kubeconform's verdicts per file content, for one configuration key (see configKey). */
export class SchemaVerdictCache {
  private constructor(private readonly cache: ContentCache<CachedVerdict>) {}

  static disabled(): SchemaVerdictCache {
    return new SchemaVerdictCache(ContentCache.disabled());
  }

  static async open(root: string, key: string): Promise<SchemaVerdictCache> {
    return new SchemaVerdictCache(
      await ContentCache.open<CachedVerdict>(path.join(root, `kubeconform-${key}.json`), Array.isArray),
    );
  }

  get enabled(): boolean {
    return this.cache.enabled;
  }

  get size(): number {
    return this.cache.size;
  }

  get(contentHash: string): CachedVerdict | undefined {
    return this.cache.get(contentHash);
  }

  /** Keeps verdicts only; a file with a kubeconform error is checked again next time. */
  set(contentHash: string, results: readonly KubeconformResult[]): void {
    if (!isVerdict(results)) return;
    this.cache.set(
      contentHash,
      results.map(({ filename: _filename, ...rest }) => rest),
    );
  }

  save(): Promise<void> {
    return this.cache.save();
  }
}
