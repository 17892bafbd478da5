/**
 * The fuzz suite over the hostile corpus (hostile/corpus.ts): YAML bombs, odd YAML, odd files,
 * bad and expensive CEL, malformed chapter and cluster files. The corpus runs in a child process
 * watched from here, so that even a case that blocks the event loop is caught: 0 crashes, no case
 * over 30 s, and for every input a located finding (file, line, column) or a clear error.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./helpers.ts";

interface Line {
  case?: string;
  start?: boolean;
  ms?: number;
  findings?: Array<{ rule: string; file: string; line: number; column: number; message: string }>;
  error?: string;
  kind?: "clear" | "crash";
  stack?: string;
  done?: boolean;
}

const HANG_MS = 30_000;
let tmp: string | undefined;
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function runCorpus(): Promise<{ lines: Line[]; hung?: string }> {
  tmp = await mkdtemp(path.join(os.tmpdir(), "hostile-"));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(REPO_ROOT, "test/validate/hostile/run-corpus.ts"), tmp],
    { cwd: REPO_ROOT, env: { ...process.env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: Line[] = [];
  let buffer = "";
  let current: string | undefined;
  let hung: string | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      hung = current ?? "(start-up)";
      child.kill("SIGKILL");
    }, HANG_MS);
  };
  arm();
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    for (const part of parts) {
      if (!part.startsWith("{")) continue;
      const line = JSON.parse(part) as Line;
      lines.push(line);
      current = line.start ? line.case : undefined;
      arm();
    }
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  clearTimeout(watchdog);
  if (!hung && code !== 0) throw new Error(`the corpus runner exited ${code}: ${stderr.slice(-2000)}`);
  return { lines, ...(hung ? { hung } : {}) };
}

describe("hostile inputs", () => {
  it("every bad input ends within 30 s with a located finding or a clear error, and nothing crashes", async () => {
    const { lines, hung } = await runCorpus();
    expect(hung, `hung for over ${HANG_MS / 1000} s`).toBeUndefined();
    expect(lines.at(-1)?.done).toBe(true);
    const results = lines.filter((l) => l.case && !l.start);
    expect(results.length).toBeGreaterThan(30);
    const problems: string[] = [];
    for (const r of results) {
      if (r.kind === "crash") problems.push(`${r.case}: crashed: ${r.error}\n${r.stack}`);
      else if (r.kind === "clear") continue;
      else if (!r.findings?.length) problems.push(`${r.case}: no finding`);
      else {
        const unlocated = r.findings.filter((f) => !f.file || !(f.line >= 1) || !(f.column >= 1));
        if (unlocated.length) problems.push(`${r.case}: unlocated ${JSON.stringify(unlocated[0])}`);
      }
      if ((r.ms ?? 0) > HANG_MS) problems.push(`${r.case}: took ${r.ms} ms`);
    }
    expect(problems).toEqual([]);
    // The odd files are refused one by one, each at its own file.
    const odd = results.find((r) => r.case === "repo: repo mode with odd files in mesh/")!;
    const refused = odd
      .findings!.filter((f) => f.file.startsWith("mesh/odd/"))
      .map((f) => `${f.rule} ${f.file}`);
    expect(refused.sort()).toEqual([
      "yaml/too-large mesh/odd/huge.yaml",
      "yaml/unreadable mesh/odd/dangling.yaml",
      "yaml/unreadable mesh/odd/fifo.yaml",
      "yaml/unreadable mesh/odd/loop.yaml",
      "yaml/unreadable mesh/odd/zero.yaml",
    ]);
    const wide = results.find((r) => r.case === "manifest: 99 aliases to one large string")!;
    expect(wide.findings!.map((f) => f.rule)).toContain("yaml/alias-limit");
  }, 240_000);
});
