/**
 * kubeconform's verdicts cached by file content, so a file kubeconform has already judged (same
 * bytes, same kubeconform binary, same flags and schema locations) is not sent to it again.
 * Between two runs of `pnpm validate` most files are unchanged (and in repo mode most chapters
 * render most files identically), so the schema layer then costs only the files that changed.
 *
 * One JSON file per configuration key under the cache folder: `{ "<file sha1>": [results...] }`.
 * Only verdicts are cached ("valid" and "invalid with these errors"); a file that produced a
 * kubeconform error (a schema it could not fetch, a parse failure) is always run again. Writes go
 * to a temp file renamed into place, so a crash leaves the old cache, never half a file.
 */
import { createHash } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { binaryIdentity, ContentCache } from "../fs/content-cache.ts";
import type { KubeconformOptions, KubeconformResult } from "./kubeconform.ts";

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
 * by their text. Remote ones can change behind the same URL (the CRD catalog is read from its main
 * branch), so verdicts against them are kept for the current UTC day only. After editing a local
 * schema folder in place, run with --no-cache (or delete the cache folder).
 */
export async function configKey(
  bin: string,
  options: KubeconformOptions,
  now: number = Date.now(),
): Promise<string> {
  const parts = {
    format: FORMAT,
    bin: await binaryIdentity(bin),
    kubernetesVersion: options.kubernetesVersion,
    schemaLocations: options.schemaLocations,
    skipKinds: [...options.skipKinds].sort(),
    day: options.schemaLocations.some((l) => /^https?:\/\//.test(l)) ? Math.floor(now / 86_400_000) : null,
  };
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 32);
}

/** Only verdicts are worth keeping; errors may be transient (network, missing schema mirror). */
export function isVerdict(results: readonly KubeconformResult[]): boolean {
  return results.every((r) => r.status === "statusInvalid" || r.status === "statusValid");
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
