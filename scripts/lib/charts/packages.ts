/**
 * The chart packages of a set of releases: the lock entry of each upstream release and where its
 * package is (cache or mirror), or why it cannot be had offline. Validation renders what is here
 * and reports the rest as not validated; `pnpm charts` pulls the rest.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { FindingsError } from "../findings.ts";
import type { HelmRelease } from "../model/helmfile.ts";
import { CHART_LOCK_FILE, lockKey, parseChartLock, type ChartLock, type LockedChart } from "./lock.ts";
import { CHART_MIRROR_ENV, locateChart, type LocatedChart } from "./resolve.ts";

export async function loadChartLock(root: string): Promise<ChartLock> {
  const file = path.join(root, CHART_LOCK_FILE);
  if (!existsSync(file))
    throw new FindingsError([
      {
        file: CHART_LOCK_FILE,
        line: 1,
        column: 1,
        rule: "charts/lock",
        severity: "error",
        anchors: [],
        message: `${CHART_LOCK_FILE} is missing`,
        hint: "run `pnpm charts --lock` to write it from helmfile.yaml, and commit it",
      },
    ]);
  const { lock, findings } = parseChartLock(await readFile(file, "utf8"));
  if (!lock) throw new FindingsError(findings);
  return lock;
}

export function lockedChartOf(lock: ChartLock, release: HelmRelease): LockedChart | undefined {
  if (release.local || !release.repoURL || !release.version) return undefined;
  const key = lockKey({ repository: release.repoURL, chart: release.chartName, version: release.version });
  return lock.charts.find((c) => lockKey(c) === key);
}

export type PackageState =
  | { release: HelmRelease; locked: LockedChart; package: LocatedChart }
  | { release: HelmRelease; locked?: LockedChart; missing: string };

/** Memoised per lock entry: twenty renders of one cluster ask for the same dozen packages. */
export class ChartPackages {
  private readonly found = new Map<string, Promise<LocatedChart | undefined>>();
  constructor(
    readonly lock: ChartLock,
    private readonly mirror: string | undefined,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  async of(release: HelmRelease): Promise<PackageState> {
    const locked = lockedChartOf(this.lock, release);
    if (!locked)
      return {
        release,
        missing: `${release.chartName} ${release.version ?? ""} is not in ${CHART_LOCK_FILE} (run \`pnpm charts --lock\`)`,
      };
    const key = lockKey(locked);
    let p = this.found.get(key);
    if (!p) {
      p = locateChart(locked, { ...(this.mirror ? { mirror: this.mirror } : {}), env: this.env });
      this.found.set(key, p);
    }
    const pkg = await p;
    if (pkg) return { release, locked, package: pkg };
    return {
      release,
      locked,
      missing:
        `${locked.chart} ${locked.version} is neither in the chart cache nor in ${this.mirror ? `the mirror ${this.mirror}` : "a chart mirror"}: ` +
        `run \`pnpm charts\` online, or set ${CHART_MIRROR_ENV} (or chartMirror: in .validate.yaml) to an offline mirror`,
    };
  }
}
