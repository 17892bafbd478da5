#!/usr/bin/env tsx
/**
 * pnpm charts [--lock] [--offline]
 *
 * Puts every chart package of charts.lock.yaml into the per-user chart cache: from the cache,
 * the offline mirror (CHART_MIRROR or chartMirror: in .validate.yaml), or the upstream repository
 * with the pinned helm; each checked against the lock's digest. --lock (re)writes the lock from
 * helmfile.yaml's pins first: after a re-pin, run it and review the diff. --offline never pulls.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseCli } from "./lib/cli/parse-cli.ts";
import { runMain } from "./lib/cli/run-main.ts";
import { writeFileAtomically } from "./lib/fs/tree.ts";
import {
  CHART_LOCK_FILE,
  checkLockCoverage,
  formatChartLock,
  lockKey,
  type LockedChart,
} from "./lib/charts/lock.ts";
import { loadChartLock } from "./lib/charts/packages.ts";
import { chartContentDigest } from "./lib/charts/package-digest.ts";
import { ChartError, locateChart, mirrorPackagePath, pullChart, pullPackage } from "./lib/charts/resolve.ts";
import { FindingsError } from "./lib/findings.ts";
import { loadRepoOrThrow } from "./lib/model/repo.ts";
import { resolveTool } from "./lib/tools/resolve.ts";
import { loadConfig } from "./lib/validate/config.ts";

const HELP = `usage: pnpm charts [--lock] [--offline]

Fetches the platform's chart packages (charts.lock.yaml) into ~/.cache/istio-gitops/charts.
  --lock     rewrite charts.lock.yaml from helmfile.yaml's pins (digests of the fetched packages)
  --offline  take packages only from the cache or the chart mirror (CHART_MIRROR), never the network`;

runMain(async () => {
  const { values } = parseCli(
    {
      lock: { type: "boolean", default: false },
      offline: { type: "boolean", default: false },
    },
    HELP,
    { positionals: false },
  );
  const root = process.cwd();
  const config = loadConfig(root);
  const mirror = config.chartMirror;
  const model = await loadRepoOrThrow(root);
  const upstream = model.helmfile.releases.filter((r) => !r.local && r.repoURL && r.version);
  const helm = () => resolveTool("helm", { log: (l) => console.error(`  ${l}`) });

  if (values.lock) {
    const entries = new Map<string, Omit<LockedChart, "position">>();
    for (const r of upstream) {
      const want = { repository: r.repoURL!, chart: r.chartName, version: r.version! };
      if (entries.has(lockKey(want))) continue;
      // The digest is of the files we can get: the mirror's copy, else upstream's.
      const mirrored = mirror ? mirrorPackagePath(mirror, want) : undefined;
      let digest: string;
      if (mirrored && existsSync(mirrored)) {
        digest = chartContentDigest(await readFile(mirrored));
      } else {
        if (values.offline)
          throw new ChartError(
            want,
            `${want.chart} ${want.version} is not in the mirror and --offline was given`,
          );
        digest = chartContentDigest(await pullPackage(want, { helm: await helm() }));
      }
      entries.set(lockKey(want), { ...want, digest });
    }
    await writeFileAtomically(path.join(root, CHART_LOCK_FILE), formatChartLock([...entries.values()]));
    console.log(`wrote ${CHART_LOCK_FILE} (${entries.size} charts)`);
  }

  const lock = await loadChartLock(root);
  const coverage = checkLockCoverage(lock, upstream);
  if (coverage.some((f) => f.severity === "error")) throw new FindingsError(coverage);
  let failed = 0;
  for (const c of lock.charts) {
    const label = `${c.chart} ${c.version}`.padEnd(32);
    try {
      const found =
        (await locateChart(c, { ...(mirror ? { mirror } : {}) })) ??
        (values.offline
          ? undefined
          : await pullChart(c, { helm: await helm(), ...(mirror ? { mirror } : {}) }));
      if (!found) {
        failed++;
        console.error(`${label} MISSING  not in the cache${mirror ? ` nor in ${mirror}` : ""} (--offline)`);
        continue;
      }
      console.log(`${label} ${found.source.padEnd(8)} ${found.path}`);
    } catch (e) {
      if (!(e instanceof ChartError)) throw e;
      failed++;
      console.error(`${label} FAILED   ${e.message}`);
    }
  }
  if (failed) {
    console.error(`\n${failed} chart(s) could not be had; validation reports them as not validated.`);
    return 1;
  }
  return 0;
});
