/**
 * `--help` on every pnpm script of package.json, run the way package.json runs it (tsx, or the
 * launcher), from an empty directory with an empty HOME and a PATH whose first entries record
 * any call: each prints a `usage:` line, exits 0, writes nothing (cwd, HOME, the repository's git
 * status) and starts no program (no apt-get, bash, git, helm, redis-server, ...).
 */
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
const TSX_CLI = path.join(ROOT, "node_modules/tsx/dist/cli.mjs");
/** Programs a script could start to do real work; each one, if called, leaves a mark. */
const SENTINELS = [
  "apt-get",
  "bash",
  "sh",
  "git",
  "helm",
  "helmfile",
  "kubeconform",
  "istioctl",
  "actionlint",
  "kube-apiserver",
  "etcd",
  "kubectl",
  "go",
  "wrk",
  "redis-server",
  "pg_ctl",
  "initdb",
  "postgres",
];

const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as {
  scripts: Record<string, string>;
};
/** The scripts that are the project's own CLIs (not test, typecheck, lint, format). */
const CLI_SCRIPTS = Object.entries(pkg.scripts).filter(([, cmd]) =>
  /^(tsx|node scripts\/launch\.mjs) /.test(cmd),
);

/** package.json's command as node arguments: `tsx X` through tsx's CLI, `node X` as is. */
function nodeArgs(command: string): string[] {
  const [bin, ...rest] = command.split(" ");
  const files = rest.map((a) => path.join(ROOT, a));
  return bin === "tsx" ? [TSX_CLI, ...files] : files;
}

async function git(args: string[]): Promise<string> {
  return (await run("git", args, { cwd: ROOT })).stdout;
}

describe("--help on every pnpm script", () => {
  let tmp: string;
  let cwd: string;
  let home: string;
  let bin: string;
  let marks: string;
  let statusBefore: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "cli-help-"));
    [cwd, home, bin] = ["cwd", "home", "bin"].map((d) => path.join(tmp, d)) as [string, string, string];
    marks = path.join(tmp, "started");
    for (const d of [cwd, home, bin]) await mkdir(d);
    for (const name of SENTINELS) {
      const file = path.join(bin, name);
      await writeFile(file, `#!/bin/sh\necho "${name} $*" >> '${marks}'\nexit 1\n`);
      await chmod(file, 0o755);
    }
    statusBefore = await git(["status", "--porcelain", "--untracked-files=all"]);
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it("covers every CLI of package.json", () => {
    expect(CLI_SCRIPTS.map(([name]) => name).sort()).toEqual(
      [
        "bench",
        "bench:app",
        "bootstrap",
        "charts",
        "cluster:register",
        "dev",
        "history",
        "perf",
        "promote",
        "render",
        "rollback",
        "schemas",
        "tag",
        "tools",
        "validate",
        "verify",
      ].sort(),
    );
  });

  it.each(CLI_SCRIPTS)(
    "pnpm %s --help prints usage, exits 0, touches and starts nothing",
    async (name, command) => {
      let result: { code: number; stdout: string; stderr: string };
      try {
        const { stdout, stderr } = await run(process.execPath, [...nodeArgs(command), "--help"], {
          cwd,
          env: {
            ...process.env,
            HOME: home,
            PATH: `${bin}:${process.env["PATH"] ?? ""}`,
            // Should dev start anyway, it would use free-ish ports and a throwaway data dir.
            DEV_BASE_PORT: "18980",
            DEV_DATA_DIR: path.join(tmp, "pg"),
            KUBECONFIG: path.join(tmp, "no-kubeconfig"),
          },
          // `pnpm dev` without --help support runs until killed: a wrong answer, not a hang.
          timeout: 30_000,
          killSignal: "SIGKILL",
        });
        result = { code: 0, stdout, stderr };
      } catch (e) {
        const x = e as { code?: number; signal?: string; stdout?: string; stderr?: string };
        result = { code: x.code ?? (x.signal ? 128 : -1), stdout: x.stdout ?? "", stderr: x.stderr ?? "" };
      }
      expect(result.stderr, name).not.toMatch(/Error|at .*\.ts:\d+/);
      expect(result.code, `${name}: ${result.stderr}`).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^usage: pnpm ${name.replace(":", "\\:")}\\b`, "m"));
      expect(await readdir(cwd), "files written in the working directory").toEqual([]);
      expect(await readdir(home), "files written in HOME").toEqual([]);
      const started = await readFile(marks, "utf8").catch(() => "");
      expect(started, "programs started").toBe("");
      expect(await git(["status", "--porcelain", "--untracked-files=all"])).toBe(statusBefore);
    },
    60_000,
  );
});
