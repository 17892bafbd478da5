/**
 * Where a locked chart package comes from, in this order:
 *   1. the per-user chart cache, `$ISTIO_GITOPS_CHARTS_DIR` or `~/.cache/istio-gitops/charts/`,
 *      one folder per (repository URL, chart, version, digest);
 *   2. an offline mirror (CHART_MIRROR, or `chartMirror:` in .validate.yaml): one folder per
 *      repository, named by its URL without the scheme and with `/` as `_`, holding
 *      `<chart>-<version>.tgz` (the layout of shared/charts);
 *   3. the upstream repository, with the pinned helm (`helm pull`), only when asked (`pnpm charts`).
 * Every package is checked against the lock's digest before it enters the cache; a cache entry is
 * written to a temp file and renamed, so it is whole or absent.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { chartContentDigest } from "./package-digest.ts";
import type { LockedChart } from "./lock.ts";
import { unreachable } from "../net/reachable.ts";

export const CHART_MIRROR_ENV = "CHART_MIRROR";

export class ChartError extends Error {
  override name = "ChartError";
  constructor(
    readonly chart: Pick<LockedChart, "chart" | "version" | "repository">,
    message: string,
  ) {
    super(message);
  }
}

export function chartCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ISTIO_GITOPS_CHARTS_DIR) return env.ISTIO_GITOPS_CHARTS_DIR;
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "istio-gitops", "charts");
}

/** `https://charts.jetstack.io/` -> `charts.jetstack.io`; the mirror's folder for a repository. */
export function mirrorFolderName(repositoryURL: string): string {
  return repositoryURL
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
    .replace(/\/+$/, "")
    .replace(/\//g, "_");
}

export function cachedPackagePath(c: Omit<LockedChart, "position">, env = process.env): string {
  const key = createHash("sha256")
    .update([c.repository.replace(/\/+$/, ""), c.chart, c.version, c.digest].join("\0"))
    .digest("hex")
    .slice(0, 20);
  return path.join(chartCacheRoot(env), `${c.chart}-${c.version}-${key}`, `${c.chart}-${c.version}.tgz`);
}

export function mirrorPackagePath(mirror: string, c: Pick<LockedChart, "repository" | "chart" | "version">) {
  return path.join(mirror, mirrorFolderName(c.repository), `${c.chart}-${c.version}.tgz`);
}

export type ChartSource = "cache" | "mirror" | "upstream";

export interface LocatedChart {
  path: string;
  source: ChartSource;
}

/** Checks a package's files against the lock and writes it into the cache. */
async function admit(c: LockedChart, bytes: Buffer, from: string, env: NodeJS.ProcessEnv): Promise<string> {
  let digest: string;
  try {
    digest = chartContentDigest(bytes);
  } catch (e) {
    throw new ChartError(
      c,
      `${c.chart} ${c.version} from ${from} is not a chart package: ${(e as Error).message}`,
    );
  }
  if (digest !== c.digest)
    throw new ChartError(
      c,
      `${c.chart} ${c.version} from ${from} does not match charts.lock.yaml: its files hash to ${digest}, the lock says ${c.digest}. ` +
        "The package changed after it was locked, or the lock is stale; if the new package is intended, run `pnpm charts --lock` and review the diff",
    );
  const target = cachedPackagePath(c, env);
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${randomBytes(4).toString("hex")}`;
  await writeFile(tmp, bytes);
  await rename(tmp, target);
  return target;
}

export interface LocateOptions {
  /** Offline mirror folder (CHART_MIRROR or .validate.yaml's chartMirror). */
  mirror?: string;
  env?: NodeJS.ProcessEnv;
}

/** The cached or mirrored package of a locked chart; undefined when neither has it. */
export async function locateChart(
  c: LockedChart,
  opts: LocateOptions = {},
): Promise<LocatedChart | undefined> {
  const env = opts.env ?? process.env;
  const cached = cachedPackagePath(c, env);
  if (existsSync(cached)) return { path: cached, source: "cache" };
  if (opts.mirror) {
    const mirrored = mirrorPackagePath(opts.mirror, c);
    if (existsSync(mirrored))
      return { path: await admit(c, await readFile(mirrored), mirrored, env), source: "mirror" };
  }
  return undefined;
}

export interface PullOptions extends LocateOptions {
  helm: string;
  /** Seconds before a pull from an unreachable repository gives up. */
  timeoutSeconds?: number;
}

/** The package bytes upstream serves, fetched with `helm pull` into a temp folder. */
export async function pullPackage(
  c: Pick<LockedChart, "repository" | "chart" | "version">,
  opts: PullOptions,
): Promise<Buffer> {
  const env = opts.env ?? process.env;
  // helm waits on the operating system's connect timeout; one probe says "unreachable" in seconds.
  const down = await unreachable([c.repository]);
  if (down.length)
    throw new ChartError(
      c,
      `could not pull ${c.chart} ${c.version}: its repository ${c.repository} is unreachable (${down[0]!.reason}). ` +
        `Offline, point ${CHART_MIRROR_ENV} (or chartMirror: in .validate.yaml) at a chart mirror`,
    );
  const dir = await mkdtemp(path.join(os.tmpdir(), "chart-pull-"));
  try {
    const { $ } = await import("zx");
    const helmEnv = {
      ...env,
      HELM_CACHE_HOME: path.join(dir, "cache"),
      HELM_CONFIG_HOME: path.join(dir, "config"),
      HELM_DATA_HOME: path.join(dir, "data"),
    };
    const args = ["pull", c.chart, "--repo", c.repository, "--version", c.version, "--destination", dir];
    try {
      await $({ quiet: true, env: helmEnv, timeout: `${opts.timeoutSeconds ?? 60}s` })`${opts.helm} ${args}`;
    } catch (e) {
      const stderr = String((e as { stderr?: string }).stderr ?? (e as Error).message).trim();
      throw new ChartError(
        c,
        `could not pull ${c.chart} ${c.version} from ${c.repository}: ${stderr || "timed out"}. ` +
          `Offline, point ${CHART_MIRROR_ENV} (or chartMirror: in .validate.yaml) at a chart mirror`,
      );
    }
    const file = path.join(dir, `${c.chart}-${c.version}.tgz`);
    if (!existsSync(file)) throw new ChartError(c, `helm pull wrote no ${c.chart}-${c.version}.tgz`);
    return await readFile(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Pulled from upstream, then admitted like a mirror copy. */
export async function pullChart(c: LockedChart, opts: PullOptions): Promise<LocatedChart> {
  const bytes = await pullPackage(c, opts);
  return { path: await admit(c, bytes, c.repository, opts.env ?? process.env), source: "upstream" };
}
