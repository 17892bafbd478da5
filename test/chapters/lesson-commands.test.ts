/**
 * What a newcomer types from the lessons, checked over all of them without rendering anything:
 * local ports of `kubectl port-forward` mean one thing across the workshop (Argo CD and the portal
 * never share one), every http://localhost:PORT a lesson opens is forwarded (or is `pnpm dev`'s
 * portal), chapter 00 says how to log in to Argo CD, and a chapter.yaml snippet names its file.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const lessons = readdirSync(path.join(ROOT, "chapters"), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()
  .map((dir) => ({ dir, text: readFileSync(path.join(ROOT, "chapters", dir, "README.md"), "utf8") }));
/** `pnpm dev` serves the portal on DEV_BASE_PORT, 8080 by default (scripts/dev.ts). */
const DEV_PORTAL_PORT = 8080;

interface Forward {
  dir: string;
  target: string;
  local: number;
}

function forwards(dir: string, text: string): Forward[] {
  return [...text.matchAll(/kubectl\s+-n\s+(\S+)\s+port-forward\s+(\S+)\s+(\d+):(\d+)/g)].map((m) => ({
    dir,
    target: `${m[1]}/${m[2]}`,
    local: Number(m[3]),
  }));
}

describe("the lessons' commands", () => {
  const all = lessons.flatMap(({ dir, text }) => forwards(dir, text));

  it("forward each local port to one service across all lessons", () => {
    expect(all.length).toBeGreaterThan(5);
    const byPort = new Map<number, Set<string>>();
    for (const f of all) byPort.set(f.local, (byPort.get(f.local) ?? new Set()).add(f.target));
    for (const [port, targets] of byPort)
      expect([...targets], `local port ${port} is used for ${[...targets].join(" and ")}`).toHaveLength(1);
  });

  it("keep Argo CD off the portal's port (the one pnpm dev uses too)", () => {
    const argocd = all.filter((f) => f.target.startsWith("argocd/"));
    const portal = all.filter((f) => f.target.endsWith("svc/frontend-portal"));
    expect(argocd.length).toBeGreaterThan(0);
    expect(portal.length).toBeGreaterThan(0);
    for (const p of portal) expect(p.local, p.dir).toBe(DEV_PORTAL_PORT);
    for (const a of argocd) expect(a.local, a.dir).not.toBe(DEV_PORTAL_PORT);
  });

  it("open only forwarded local ports (or pnpm dev's portal)", () => {
    const forwarded = new Set([...all.map((f) => f.local), DEV_PORTAL_PORT]);
    for (const { dir, text } of lessons)
      for (const m of text.matchAll(/https?:\/\/localhost:(\d+)/g))
        expect(forwarded.has(Number(m[1])), `${dir}: ${m[0]} is not port-forwarded in any lesson`).toBe(true);
  });

  it("chapter 00 shows how to get Argo CD's admin password", () => {
    const text = lessons.find((l) => l.dir.startsWith("00-"))!.text;
    expect(text).toMatch(
      /kubectl -n argocd get secret argocd-initial-admin-secret -o jsonpath='\{\.data\.password\}' \| base64 -d/,
    );
    expect(text).toMatch(/as `admin`/);
  });

  it("chapter 10's blue/green snippet says which file it edits, and that file exists", () => {
    const text = lessons.find((l) => l.dir.startsWith("10-"))!.text;
    const block = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((m) => m[1]!)
      .find((b) => b.includes("cut over to green"));
    expect(block).toBeDefined();
    const named = /^# (chapters\/\S+\/chapter\.yaml)$/m.exec(block!)?.[1];
    expect(named, "the snippet's first line names the file").toBe(
      "chapters/10-traffic-splitting-advanced/chapter.yaml",
    );
    expect(existsSync(path.join(ROOT, named!))).toBe(true);
  });
});

/** The documents a newcomer reads commands from: the README, the app's and validator's, every lesson. */
const DOCS = [
  "README.md",
  "apps/README.md",
  "scripts/lib/validate/README.md",
  ...lessons.map((l) => `chapters/${l.dir}/README.md`),
].map((file) => ({ file, text: readFileSync(path.join(ROOT, file), "utf8") }));

/** `pnpm ...` commands: lines of ```sh blocks (with `\` continuations) and inline `pnpm ...` code. */
function pnpmCommands(text: string): string[] {
  const out: string[] = [];
  for (const block of text.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g))
    for (const line of block[1]!.replace(/\\\n\s*/g, " ").split("\n")) {
      const m = /^\s*(?:\$ )?(pnpm [^#|;&]*)/.exec(line);
      if (m) out.push(m[1]!.trim());
    }
  for (const m of text.matchAll(/`(pnpm [^`]+)`/g)) out.push(m[1]!.replace(/\s+/g, " ").trim());
  return out;
}

const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
  scripts: Record<string, string>;
};
/** pnpm's own commands the docs use. */
const PNPM_BUILTINS = new Set(["install", "exec", "run"]);
const commands = DOCS.flatMap(({ file, text }) =>
  pnpmCommands(text).map((command) => ({ file, command, script: command.split(" ")[1]! })),
);
const run = promisify(execFile);
const TSX_CLI = path.join(ROOT, "node_modules/tsx/dist/cli.mjs");

/** Runs a package.json CLI the way pnpm does (tsx, or the launcher), from the repository, offline. */
async function cli(
  script: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [bin, ...rest] = pkg.scripts[script]!.split(" ");
  const files = rest.map((a) => path.join(ROOT, a));
  const argv = [...(bin === "tsx" ? [TSX_CLI, ...files] : files), ...args];
  try {
    const { stdout, stderr } = await run(process.execPath, argv, { cwd: ROOT, timeout: 50_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("the README's and lessons' pnpm commands", () => {
  it("name scripts package.json has (or pnpm's own commands)", () => {
    expect(commands.length).toBeGreaterThan(40);
    const unknown = commands.filter((c) => !pkg.scripts[c.script] && !PNPM_BUILTINS.has(c.script));
    expect(unknown.map((c) => `${c.file}: ${c.command}`)).toEqual([]);
  });

  it("use only options that the script's --help lists", async () => {
    const byScript = new Map<string, Set<string>>();
    for (const c of commands) {
      if (!/^(tsx|node scripts\/launch\.mjs) /.test(pkg.scripts[c.script] ?? "")) continue;
      const flags = byScript.get(c.script) ?? new Set<string>();
      for (const m of c.command.matchAll(/(?:^|\s)(--[a-z][a-z-]*)/g)) flags.add(m[1]!);
      byScript.set(c.script, flags);
    }
    expect(byScript.size).toBeGreaterThan(8);
    const wrong: string[] = [];
    for (const [script, flags] of byScript) {
      if (!flags.size) continue;
      const help = await cli(script, ["--help"]);
      expect(help.code, `pnpm ${script} --help`).toBe(0);
      for (const flag of flags)
        if (!new RegExp(`${flag}(?![a-z-])`).test(help.stdout)) wrong.push(`pnpm ${script} ${flag}`);
    }
    expect(wrong, "documented options the script does not know").toEqual([]);
  });

  it("render another chapter only with --out (the committed render stays the pin's), and chapter 01's runs", async () => {
    const renders = commands.filter((c) => c.script === "render" && c.command.includes("--chapter"));
    expect(renders.length).toBeGreaterThan(0);
    for (const c of renders) expect(c.command, c.file).toMatch(/--out |--force/);
    // Chapter 01's command, offline (real helm), into a temp folder instead of /tmp/r1.
    const lesson = renders.find((c) => c.file.startsWith("chapters/01-"))!;
    expect(lesson.command).toMatch(/^pnpm render --chapter 1 --out \S+/);
    const out = await mkdtemp(path.join(os.tmpdir(), "lesson-render-"));
    try {
      const r = await cli("render", ["--chapter", "1", "--out", out]);
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(path.join(out, "primary/helmfile-environment.yaml"))).toBe(true);
      expect(readFileSync(path.join(out, "primary/helmfile-environment.yaml"), "utf8")).toContain(
        "chapter: 01-application-architecture",
      );
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  // The usage mistakes a newcomer makes with the commands above: one line saying what is wrong
  // and exit 2, offline and without touching anything.
  it.each([
    ["promote", "nope", /unknown cluster 'nope'; declared: primary, remote/],
    ["rollback", "primary", /give --to <tag> or --steps K/],
    ["history", "nope", /unknown cluster 'nope'/],
    ["tools", "nope", /unknown tool nope; known: helm, helmfile/],
    ["validate", "--format nope", /unknown format 'nope'; use one of pretty, json, sarif/],
    [
      "perf",
      "--compare reports/perf/baseline.json reports/perf/mesh.json",
      /no report at .*baseline\.json.* --out <prefix>/,
    ],
  ])("pnpm %s %s: says what is wrong, exit 2", async (script, args, message) => {
    const r = await cli(script, args.split(" "));
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
    expect(r.code).toBe(2);
  });
});
