/**
 * Everything the platform render needs, opened once: the chart lock, the package finder (cache,
 * then the offline mirror of CHART_MIRROR or `chartMirror:`), and `helm template`, cached under
 * the validator's cache folder when one is given. Used by validate, render --platform and promote.
 */
import { ChartPackages, loadChartLock } from "../charts/packages.ts";
import { loadConfig } from "../validate/config.ts";
import type { PlatformDeps, ReleaseCache } from "./platform.ts";
import { helmPlatformDeps, openReleaseCache } from "./platform-helm.ts";

export interface PlatformInput {
  packages: ChartPackages;
  deps: PlatformDeps;
  /** Processed renders: in memory for the run, on disk under cacheRoot when given. */
  cache: ReleaseCache;
}

export interface OpenPlatformOptions {
  env?: NodeJS.ProcessEnv;
  /** Offline chart mirror; default: CHART_MIRROR, else `chartMirror:` of .validate.yaml. */
  mirror?: string;
  /** Folder for cached renders; no caching without it. */
  cacheRoot?: string;
  /** Replaces `helm template` (tests). */
  deps?: PlatformDeps;
}

/** Throws FindingsError when charts.lock.yaml is missing or malformed. */
export async function openPlatform(root: string, o: OpenPlatformOptions = {}): Promise<PlatformInput> {
  const env = o.env ?? process.env;
  const lock = await loadChartLock(root);
  const mirror = o.mirror ?? loadConfig(root, env).chartMirror;
  const deps = o.deps ?? helmPlatformDeps();
  const cache = await openReleaseCache(o.deps ? undefined : o.cacheRoot);
  return { packages: new ChartPackages(lock, mirror, env), deps, cache };
}
