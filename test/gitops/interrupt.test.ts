/**
 * Interrupts at many points of promote and rollback, as a person or CI sends them: the CLI runs as
 * package.json runs it (`node scripts/launch.mjs`), and SIGINT or SIGTERM reaches it while its
 * k-th git command runs, or a few milliseconds after (inside the file writes and the validation).
 * The points come from a `git` on PATH that counts its calls, signals its parent at the chosen one
 * and then runs the real git. After every interrupted run the clone (files, ignored ones included,
 * index, branches, HEAD) and origin (every ref) must be exactly as before; and since they are,
 * the next run starts from the same state.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readTree } from "../../scripts/lib/fs/tree.ts";
import { createMeshTag } from "../../scripts/lib/gitops/mesh-tags.ts";
import { buildTemplate, makeWorld, promoteAndMerge, PROJECT_ROOT, type Clone, type World } from "./world.ts";

const REAL_GIT = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
const LAUNCH = path.join(PROJECT_ROOT, "scripts/launch.mjs");

/** A `git` that logs every call and signals its parent (the CLI) at call number $KILL_AT. */
async function gitWrapper(dir: string): Promise<string> {
  const bin = path.join(dir, "wrapper-bin");
  await mkdir(bin, { recursive: true });
  await writeFile(
    path.join(bin, "git"),
    `#!/bin/sh
n=$(( $(cat "$GIT_CALLS.count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$GIT_CALLS.count"
echo "$n $*" >> "$GIT_CALLS"
if [ "$n" = "$KILL_AT" ]; then
  if [ "\${KILL_DELAY:-0}" = 0 ]; then kill -"$KILL_SIG" "$PPID"; else (sleep "$KILL_DELAY"; kill -"$KILL_SIG" "$PPID") & fi
fi
exec ${REAL_GIT} "$@"
`,
  );
  await chmod(path.join(bin, "git"), 0o755);
  return bin;
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  calls: string[];
  stderr: string;
}

async function runCli(
  c: Clone,
  bin: string,
  script: string,
  args: string[],
  kill: { at: number; signal: "INT" | "TERM"; delay?: number } | undefined,
  calls: string,
): Promise<Run> {
  await writeFile(calls, "");
  await writeFile(`${calls}.count`, "0");
  const child = spawn(process.execPath, [LAUNCH, path.join(PROJECT_ROOT, "scripts", script), ...args], {
    cwd: c.dir,
    env: {
      ...c.env,
      PATH: `${bin}:${process.env.PATH ?? ""}`,
      GIT_CALLS: calls,
      KILL_AT: String(kill?.at ?? 0),
      KILL_SIG: kill?.signal ?? "INT",
      KILL_DELAY: String(kill?.delay ?? 0),
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on("exit", (code, signal) => resolve([code, signal])),
  );
  clearTimeout(timer);
  const log = await readFile(calls, "utf8");
  return { code, signal, calls: log.split("\n").filter(Boolean), stderr };
}

/** Everything an interrupt could have changed, in the clone and on origin. */
async function snapshot(c: Clone, origin: string): Promise<Record<string, unknown>> {
  const git = (args: string[], cwd = c.dir) =>
    execFileSync(REAL_GIT, args, { cwd, env: c.env, encoding: "utf8" }).trim();
  const files = await readTree(path.join(c.dir, "clusters"));
  const digest = createHash("sha256");
  for (const [f, content] of [...files].sort(([x], [y]) => (x < y ? -1 : 1)))
    digest.update(`${f}\0${content}\0`);
  return {
    head: git(["symbolic-ref", "HEAD"]),
    commit: git(["rev-parse", "HEAD"]),
    status: git(["status", "--porcelain", "--ignored", "--untracked-files=all"]),
    index: git(["ls-files", "--stage"]).length,
    localRefs: git(["for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags"]),
    clusterFiles: [...files.keys()].sort(),
    clusterDigest: digest.digest("hex"),
    originRefs: git(["for-each-ref", "--format=%(refname) %(objectname)"], origin),
  };
}

/**
 * Runs the command once without a signal (on a copy of the world) to learn its git calls, then
 * once per point with a signal, checking the state after each interrupted run.
 */
async function interruptEverywhere(
  makeCopy: () => Promise<World>,
  script: string,
  args: string[],
  every: number,
): Promise<{ points: number; total: number }> {
  const dry = await makeCopy();
  const bin = await gitWrapper(dry.tmp);
  const clean = await runCli(dry.a, bin, script, args, undefined, path.join(dry.tmp, "calls"));
  expect(clean.code, clean.stderr).toBe(0);
  const total = clean.calls.length;
  // The call before the first `git add`: a few delayed signals after it land in the file writes
  // and the validation, which run between the two.
  const beforeAdd = clean.calls.findIndex((l) => /^\d+ add -A/.test(l));
  expect(beforeAdd, clean.calls.join("\n")).toBeGreaterThan(0);
  await dry.cleanup();

  const world = await makeCopy();
  try {
    const wbin = await gitWrapper(world.tmp);
    const before = await snapshot(world.a, world.origin);
    const points: Array<{ at: number; signal: "INT" | "TERM"; delay?: number }> = [];
    for (let at = 1; at <= total; at += every)
      points.push({ at, signal: points.length % 2 ? "TERM" : "INT" });
    for (const delay of [0.02, 0.06, 0.15, 0.4])
      points.push({ at: beforeAdd, signal: points.length % 2 ? "TERM" : "INT", delay });
    for (const point of points) {
      const r = await runCli(world.a, wbin, script, args, point, path.join(world.tmp, "calls"));
      const where = `${script} ${args.join(" ")}: ${point.signal} at git call ${point.at} (${clean.calls[point.at - 1] ?? "?"})${point.delay ? ` + ${point.delay}s` : ""}\n${r.stderr}`;
      // A delayed signal may find the command done already.
      if (r.code === 0) {
        expect(point.delay, where).toBeDefined();
        return { points: points.indexOf(point), total };
      }
      // Before the command has begun to change anything it may simply die of the signal.
      const ended = r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
      expect(ended, where).toMatch(
        point.signal === "INT" ? /^(exit 130|killed by SIGINT)$/ : /^(exit 143|killed by SIGTERM)$/,
      );
      expect(await snapshot(world.a, world.origin), where).toEqual(before);
    }
    return { points: points.length, total };
  } finally {
    await world.cleanup();
  }
}

describe("interrupting promote and rollback", () => {
  it("package.json runs promote, rollback and tag in the process that owns the undo (not under tsx)", async () => {
    const pkg = JSON.parse(await readFile(path.join(PROJECT_ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    for (const cli of ["promote", "rollback", "tag"])
      expect(pkg.scripts[cli]).toBe(`node scripts/launch.mjs scripts/${cli}.ts`);
  });

  it("SIGINT / SIGTERM at every third git call of a promotion and inside its writes: clone and origin as before", async () => {
    const template = await buildTemplate();
    try {
      const r = await interruptEverywhere(
        () => makeWorld(template.bare),
        "promote.ts",
        ["primary", "--no-pr"],
        3,
      );
      expect(r.total).toBeGreaterThan(10);
      expect(r.points).toBeGreaterThanOrEqual(r.total / 3);
    } finally {
      await template.cleanup();
    }
  }, 300_000);

  it("the same for a rollback, on a branch and --direct on main", async () => {
    const template = await buildTemplate();
    const history = await makeWorld(template.bare);
    try {
      // A history with tags: the seed tagged, one promotion merged and tagged.
      await createMeshTag(history.a.git, { cluster: "primary" });
      await promoteAndMerge(history.a, "primary");
      await createMeshTag(history.a.git, { cluster: "primary" });
      // refs/mesh-* come along with --mirror, so the copies hold exactly what origin holds.
      const bare = path.join(history.tmp, "history.git");
      execFileSync(REAL_GIT, ["clone", "--quiet", "--mirror", history.origin, bare], { env: history.a.env });
      const copy = () => makeWorld(bare);
      const branch = await interruptEverywhere(
        copy,
        "rollback.ts",
        ["primary", "--steps", "1", "--no-pr"],
        5,
      );
      expect(branch.points).toBeGreaterThanOrEqual(branch.total / 5);
      const direct = await interruptEverywhere(
        copy,
        "rollback.ts",
        ["primary", "--steps", "1", "--direct"],
        5,
      );
      expect(direct.points).toBeGreaterThanOrEqual(direct.total / 5);
    } finally {
      await history.cleanup();
      await template.cleanup();
    }
  }, 300_000);
});
