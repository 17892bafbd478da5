#!/usr/bin/env tsx
/**
 * pnpm tools [TOOL...]: installs the pinned external tools (helm, helmfile, kubeconform, istioctl,
 * actionlint) into the per-user cache when missing, and prints where each is and its version.
 * Goes through every tool even when one fails, then exits 1 naming what could not be had.
 */
import { parseCli } from "./lib/cli/parse-cli.ts";
import { runMain, UsageError } from "./lib/cli/run-main.ts";
import { TOOL_NAMES, TOOL_PINS, type ToolName } from "./lib/tools/pins.ts";
import { reportedVersion, resolveTool } from "./lib/tools/resolve.ts";

const HELP = `usage: pnpm tools [TOOL...]

Installs the pinned tools (${TOOL_NAMES.join(", ")}) into ~/.cache/istio-gitops/tools when
missing (a Go build for some: minutes), then prints where each is and its version.`;

runMain(async () => {
  const { positionals } = parseCli({}, HELP);
  const unknown = positionals.filter((p) => !TOOL_NAMES.includes(p as ToolName));
  if (unknown.length)
    throw new UsageError(`unknown tool ${unknown.join(", ")}; known: ${TOOL_NAMES.join(", ")}`);
  const wanted = (positionals.length ? positionals : TOOL_NAMES) as ToolName[];
  const failures: string[] = [];
  // Sequential: each Go build wants both cores.
  for (const name of wanted) {
    const started = Date.now();
    try {
      const bin = await resolveTool(name, { log: (l) => console.log(`  ${l}`) });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const version = (await reportedVersion(bin, TOOL_PINS[name])) ?? "unknown";
      console.log(`${name.padEnd(12)} ${version.padEnd(18)} ${bin} (${seconds}s)`);
    } catch (e) {
      console.error(`${name.padEnd(12)} UNAVAILABLE ${(e as Error).message}`);
      failures.push(name);
    }
  }
  if (failures.length) {
    console.error(`\n${failures.length} tool(s) could not be installed: ${failures.join(", ")}`);
    return 1;
  }
  return 0;
});
