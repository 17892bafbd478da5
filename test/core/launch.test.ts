/** The launcher: CLIs from a content-addressed esbuild bundle, same behaviour as through tsx. */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundlePath } from "../../scripts/launch.mjs";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
const LAUNCH = path.join(ROOT, "scripts/launch.mjs");
const TSX = path.join(ROOT, "node_modules/.bin/tsx");
const bundleOf = bundlePath;

async function exitCode(
  cmd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, stdout: x.stdout ?? "", stderr: x.stderr ?? "" };
  }
}

describe("scripts/launch.mjs", () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "launch-test-"));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it("runs a CLI from its bundle with the same output and exit codes as through tsx", async () => {
    const entry = path.join(ROOT, "scripts/validate.ts");
    const viaBundle = await exitCode(process.execPath, [LAUNCH, entry, "--list-rules"]);
    const viaTsx = await exitCode(TSX, [entry, "--list-rules"]);
    expect(viaBundle.code).toBe(0);
    expect(viaTsx.code, viaTsx.stderr).toBe(0);
    expect(viaBundle.stdout).toBe(viaTsx.stdout);
    expect(viaBundle.stdout).toContain("vs/subset-not-found");
    expect(existsSync(bundleOf(entry))).toBe(true);
    const bad = await exitCode(process.execPath, [LAUNCH, entry, "--format", "nope"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown format 'nope'");
  });

  it("names the bundle by the content of every source file, so any edit rebuilds it", async () => {
    const root = path.join(tmp, "repo");
    await mkdir(path.join(root, "scripts/lib"), { recursive: true });
    await writeFile(path.join(root, "scripts/cli.ts"), 'import "./lib/a.ts";\n');
    await writeFile(path.join(root, "scripts/lib/a.ts"), "export const a = 1;\n");
    await writeFile(path.join(root, "pnpm-lock.yaml"), "lockfileVersion: '9.0'\n");
    const entry = path.join(root, "scripts/cli.ts");
    const first = bundleOf(entry, root);
    expect(path.basename(first)).toMatch(/^cli-[0-9a-f]{16}\.mjs$/);
    expect(bundleOf(entry, root)).toBe(first);
    await writeFile(path.join(root, "scripts/lib/a.ts"), "export const a = 2;\n");
    const second = bundleOf(entry, root);
    expect(second).not.toBe(first);
    await writeFile(path.join(root, "pnpm-lock.yaml"), "lockfileVersion: '9.0'\n# new dependency\n");
    expect(bundleOf(entry, root)).not.toBe(second);
  });

  it("says how to use it when no entry is given", async () => {
    const r = await exitCode(process.execPath, [LAUNCH]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("usage: node scripts/launch.mjs");
  });
});
