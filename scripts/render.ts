#!/usr/bin/env tsx
/**
 * pnpm render [--cluster NAME]... [--chapter N] [--out DIR] [--check] [--platform DIR]
 *
 * Writes clusters/<name>/rendered/ for each cluster (or DIR/<name>/ with --out): the Argo CD
 * Applications, the values files, the demo app's manifests and the mesh policies of the pinned
 * (or --chapter) chapter. --check writes nothing and exits 1 when the committed output is stale.
 * --platform DIR also writes what the platform Applications apply (each upstream chart rendered
 * as Argo CD's repo server would, see render/platform.ts) to DIR/<cluster>/<release>/, for
 * inspection; that output is never committed.
 */
import path from "node:path";
import { parseCli } from "./lib/cli/parse-cli.ts";
import { RefusalError, runMain } from "./lib/cli/run-main.ts";
import { diffTrees, isEmptyDiff, readTree, writeTreeAtomically } from "./lib/fs/tree.ts";
import { renderClusters } from "./lib/render/pipeline.ts";
import { renderedRoot } from "./lib/render/layout.ts";
import { formatFindingLine } from "./lib/findings.ts";
import { PLATFORM_DIR, renderPlatform } from "./lib/render/platform.ts";
import { openPlatform } from "./lib/render/platform-input.ts";
import { validateCacheRoot } from "./lib/validate/schema-cache.ts";

const HELP = `usage: pnpm render [--cluster NAME]... [--chapter N|NN|NN-slug --out DIR|--force] [--out DIR] [--check] [--platform DIR]

  --chapter N      render chapter N instead of each cluster's pin; needs --out DIR (or --check),
                   or --force to overwrite the committed clusters/<name>/rendered/ anyway

  --platform DIR   also write what each platform Application applies (upstream charts rendered
                   offline from charts.lock.yaml's packages) to DIR/<cluster>/<release>/`;

runMain(async () => {
  const args = parseCli(
    {
      cluster: { type: "string", multiple: true },
      chapter: { type: "string" },
      out: { type: "string" },
      check: { type: "boolean", default: false },
      platform: { type: "string" },
      force: { type: "boolean", default: false },
    },
    HELP,
    { positionals: false },
  );
  const { values } = args;
  // clusters/<name>/rendered/ is what Argo CD syncs: it must stay the render of the pinned chapter.
  if (values.chapter !== undefined && !values.out && !values.check && !values.force)
    throw new RefusalError(
      `--chapter ${values.chapter} without --out would overwrite the committed clusters/<name>/rendered/ ` +
        `with a chapter the clusters are not pinned to; render elsewhere with --out DIR ` +
        `(e.g. pnpm render --chapter ${values.chapter} --out /tmp/r), or give --force to overwrite it anyway`,
    );
  const root = process.cwd();
  const renders = await renderClusters(root, {
    ...(values.cluster ? { clusters: values.cluster } : {}),
    ...(values.chapter ? { chapter: values.chapter } : {}),
  });
  let stale = 0;
  for (const { cluster, composition, files } of renders) {
    const dir = values.out
      ? path.resolve(values.out, cluster.name)
      : path.join(root, renderedRoot(cluster.name));
    const shown = path.relative(root, dir) || ".";
    const diff = diffTrees(await readTree(dir), files);
    if (values.check) {
      if (isEmptyDiff(diff)) {
        console.log(
          `${cluster.name}: ${shown} is up to date (${composition.chapter.dir}, ${files.size} files)`,
        );
        continue;
      }
      stale++;
      console.error(`${cluster.name}: ${shown} is stale for ${composition.chapter.dir}:`);
      for (const f of diff.changed) console.error(`  changed  ${shown}/${f}`);
      for (const f of diff.added) console.error(`  missing  ${shown}/${f}`);
      for (const f of diff.removed) console.error(`  extra    ${shown}/${f}`);
      continue;
    }
    if (!isEmptyDiff(diff)) await writeTreeAtomically(dir, files);
    const summary = isEmptyDiff(diff)
      ? "unchanged"
      : `${diff.changed.length} changed, ${diff.added.length} added, ${diff.removed.length} removed`;
    console.log(
      `${cluster.name}: rendered ${composition.chapter.dir} to ${shown} (${files.size} files; ${summary})`,
    );
  }
  if (values.platform) {
    const { packages, deps, cache } = await openPlatform(root, { cacheRoot: validateCacheRoot() });
    for (const { cluster, composition } of renders) {
      const platform = await renderPlatform(composition, packages, deps, cache);
      const dir = path.resolve(values.platform, cluster.name);
      const files = new Map(
        [...platform.files].map(([rel, text]) => [rel.slice(`${PLATFORM_DIR}/`.length), text] as const),
      );
      await writeTreeAtomically(dir, files);
      console.log(
        `${cluster.name}: platform of ${composition.chapter.dir} written to ${path.relative(root, dir) || "."} (${platform.rendered.length} releases, ${files.size} objects)`,
      );
      for (const f of platform.findings) console.error(`  ${formatFindingLine(f)}`);
      for (const m of platform.missing) console.error(`  not rendered: ${m.release.name}: ${m.reason}`);
      for (const r of platform.rendered)
        for (const u of r.unstable)
          console.error(
            `  unstable: ${r.release.name} ${u.kind} ${u.namespace}/${u.name} (${u.template}) differs between renders`,
          );
    }
  }
  if (stale) {
    console.error(`\n${stale} cluster(s) stale: run \`pnpm render\` and commit the result.`);
    return 1;
  }
  return 0;
});
