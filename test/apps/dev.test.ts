// `pnpm dev` as a user runs it: everything up on localhost against real PostgreSQL and Redis,
// content-generator v1, v2 and v3 answering in turn, and SIGTERM stopping all it started.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { alive, portInUse, storeTempRoot } from "../../scripts/lib/app/stores.ts";
import { ROOT } from "./support/process.ts";
import { eventually } from "./support/stack.ts";

/** A base port with the eight ports pnpm dev uses free, plus two for the stores. */
async function freeRange(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const ports = Array.from({ length: 10 }, (_, index) => base + index);
    if (!(await Promise.all(ports.map(portInUse))).some(Boolean)) return base;
  }
  throw new Error("no free port range");
}

const dataRoot = mkdtempSync(join(storeTempRoot(), "workshop-dev-test-"));
afterAll(() => rmSync(dataRoot, { recursive: true, force: true }));

/** Starts `pnpm dev` on its own port range and data folder; `output()` is what it printed so far. */
function startDev(command: string[], base: number, dataDir: string) {
  const child = spawn(process.execPath, command, {
    cwd: ROOT,
    env: {
      ...process.env,
      DEV_BASE_PORT: String(base),
      DEV_PG_PORT: String(base + 8),
      DEV_REDIS_PORT: String(base + 9),
      DEV_DATA_DIR: join(dataRoot, dataDir),
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

describe("pnpm dev", () => {
  it("serves the portal with all three content-generator versions and stops everything on SIGTERM", async () => {
    const base = await freeRange();
    const { child, output } = startDev(["--import", "tsx", "scripts/dev.ts"], base, "postgres");
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      await eventually(
        "the portal URL",
        async () => (output().includes("Ctrl-C stops everything") ? true : undefined),
        90_000,
      );
      expect(output()).toContain(`portal            http://127.0.0.1:${base}/`);
      const versions = new Set<string>();
      for (let request = 0; request < 6; request++) {
        const page = await (await fetch(`http://127.0.0.1:${base}/`)).text();
        for (const match of page.matchAll(/data-service="content-generator" data-version="(v\d)"/g))
          versions.add(match[1]!);
      }
      expect([...versions].sort()).toEqual(["v1", "v2", "v3"]);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(output()).toContain("stopped everything pnpm dev started");
    const stillBound = await Promise.all(Array.from({ length: 10 }, (_, index) => portInUse(base + index)));
    expect(stillBound).toEqual(Array(10).fill(false));
  }, 120_000);

  it("stops everything when what started it dies without relaying a signal (tsx SIGKILLed, terminal closed)", async () => {
    const base = await freeRange();
    // As package.json runs it: tsx's CLI, which runs scripts/dev.ts as its child.
    const { child: tsx, output } = startDev(
      [join(ROOT, "node_modules/tsx/dist/cli.mjs"), "scripts/dev.ts"],
      base,
      "postgres-orphan",
    );
    const ports = () => Promise.all(Array.from({ length: 10 }, (_, index) => portInUse(base + index)));
    let dev: number | undefined;
    try {
      await eventually(
        "the portal URL",
        async () => (output().includes("Ctrl-C stops everything") ? true : undefined),
        90_000,
      );
      dev = Number(
        execFileSync("pgrep", ["-P", String(tsx.pid)], { encoding: "utf8" })
          .trim()
          .split("\n")[0],
      );
      expect(dev).toBeGreaterThan(0);
      tsx.kill("SIGKILL");
      await eventually(
        "every port released",
        async () => ((await ports()).some(Boolean) ? undefined : true),
        30_000,
      );
      expect(output()).toContain("stopping (parent process");
      await eventually("pnpm dev's own process gone", async () => (alive(dev!) ? undefined : true), 10_000);
    } finally {
      tsx.kill("SIGKILL");
      // Should the test fail, stop what is left, so that nothing outlives it.
      if (dev && alive(dev)) process.kill(dev, "SIGTERM");
    }
  }, 150_000);
});
