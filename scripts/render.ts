#!/usr/bin/env tsx
/**
 * pnpm render [--cluster NAME]... [--chapter N] [--out DIR] [--check]
 *
 * Writes clusters/<name>/rendered/ for each cluster (or DIR/<name>/ with --out): the Argo CD
 * Applications, the values files, the demo app's manifests and the mesh policies of the pinned
 * (or --chapter) chapter. --check writes nothing and exits 1 when the committed output is stale.
 */
import path from "node:path";
import { parseCli } from "./lib/cli/parse-cli.ts";
import { runMain } from "./lib/cli/run-main.ts";
import { diffTrees, isEmptyDiff, readTree, writeTreeAtomically } from "./lib/fs/tree.ts";
import { renderClusters } from "./lib/render/pipeline.ts";
import { renderedRoot } from "./lib/render/layout.ts";

const HELP = `usage: pnpm render [--cluster NAME]... [--chapter N|NN|NN-slug] [--out DIR] [--check]`;

runMain(async () => {
  const args = parseCli(
    {
      cluster: { type: "string", multiple: true },
      chapter: { type: "string" },
      out: { type: "string" },
      check: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    HELP,
    { positionals: false },
  );
  const { values } = args;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
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
  if (stale) {
    console.error(`\n${stale} cluster(s) stale: run \`pnpm render\` and commit the result.`);
    return 1;
  }
  return 0;
});
