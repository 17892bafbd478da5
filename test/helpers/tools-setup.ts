/**
 * The pinned tools the suite needs, resolved once before any test runs (vitest globalSetup).
 * A cold machine would otherwise build helmfile (minutes) inside a 60 s test and time out; here
 * the missing tools are built one after another with progress on stderr, or, with
 * ISTIO_GITOPS_TEST_BUILD=0, the run stops at once with one message saying what to run.
 */
import { TOOL_PINS, type ToolName, type ToolPin } from "../../scripts/lib/tools/pins.ts";
import { resolveTool } from "../../scripts/lib/tools/resolve.ts";

/**
 * What the tests call: helm and kubeconform (render, validate), helmfile (helmfile tests),
 * actionlint (workflow test). istioctl only under CI: without CI its differential tests skip.
 */
export function toolsForTests(env: NodeJS.ProcessEnv): ToolName[] {
  // kube-apiserver and etcd (the server layer and verify tests) and mesh-sim (the behaviour layer
  // tests) are used unconditionally: a cold build of any of them inside a test's hook times out.
  const tools: ToolName[] = [
    "helm",
    "kubeconform",
    "helmfile",
    "actionlint",
    "kube-apiserver",
    "etcd",
    "mesh-sim",
  ];
  if (env.CI) tools.push("istioctl");
  return tools;
}

export interface EnsureOptions {
  env?: NodeJS.ProcessEnv;
  /** Build missing tools (default); false fails with the command to run instead. */
  build?: boolean;
  log?: (line: string) => void;
  /** Replaces pins (tests of this module serve a download from loopback). */
  pins?: Partial<Record<ToolName, ToolPin>>;
}

export async function ensureTools(
  names: readonly ToolName[],
  o: EnsureOptions = {},
): Promise<Map<ToolName, string>> {
  const env = o.env ?? process.env;
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const pinOf = (n: ToolName) => o.pins?.[n] ?? TOOL_PINS[n];
  const found = new Map<ToolName, string>();
  const missing: ToolName[] = [];
  for (const n of names) {
    const bin = await resolveTool(n, { env, install: false, pin: pinOf(n) }).catch(() => undefined);
    if (bin) found.set(n, bin);
    else missing.push(n);
  }
  if (!missing.length) return found;
  const list = missing.map((n) => `${n} ${pinOf(n).version}`).join(", ");
  if (o.build === false)
    throw new Error(
      `the tests need ${list}, which ${missing.length === 1 ? "is" : "are"} not installed; run \`pnpm tools ${missing.join(" ")}\` first (a Go build of minutes, once per machine), or unset ISTIO_GITOPS_TEST_BUILD to let \`pnpm test\` build ${missing.length === 1 ? "it" : "them"}`,
    );
  log(
    `test setup: installing ${list} once (what \`pnpm tools ${missing.join(" ")}\` does; minutes on a cold machine)`,
  );
  // One after another: each Go build wants every core.
  for (const n of missing) {
    const started = Date.now();
    const bin = await resolveTool(n, { env, pin: pinOf(n), log: (l) => log(`  ${l}`) });
    log(`  ${n} ${pinOf(n).version}: ${bin} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    found.set(n, bin);
  }
  return found;
}
