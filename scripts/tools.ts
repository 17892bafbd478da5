#!/usr/bin/env tsx
/**
 * pnpm tools [TOOL...]: installs the pinned external tools (helm, helmfile, kubeconform, istioctl,
 * actionlint) into the per-user cache when missing, and prints where each is and its version.
 */
import { parseArgs } from "node:util";
import { runMain, UsageError } from "./lib/cli/run-main.ts";
import { TOOL_NAMES, TOOL_PINS, type ToolName } from "./lib/tools/pins.ts";
import { reportedVersion, resolveTool } from "./lib/tools/resolve.ts";

runMain(async () => {
  const { positionals } = parseArgs({ allowPositionals: true, options: {} });
  const unknown = positionals.filter((p) => !TOOL_NAMES.includes(p as ToolName));
  if (unknown.length) throw new UsageError(`unknown tool ${unknown.join(", ")}; known: ${TOOL_NAMES.join(", ")}`);
  const wanted = (positionals.length ? positionals : TOOL_NAMES) as ToolName[];
  // Sequential: Go builds of these tools each want both cores.
  for (const name of wanted) {
    const started = Date.now();
    const bin = await resolveTool(name, { log: (l) => console.log(`  ${l}`) });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const version = (await reportedVersion(bin, TOOL_PINS[name])) ?? "unknown";
    console.log(`${name.padEnd(12)} ${version.padEnd(10)} ${bin} (${seconds}s)`);
  }
});
