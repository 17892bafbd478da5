/**
 * Where the mesh simulation helper binary comes from: `MESH_SIM_BIN`, else the tool cache entry
 * keyed by a hash of its Go sources (`<tool cache>/mesh-sim/<hash>/mesh-sim`), else a `go build`
 * of scripts/go/mesh-sim into that entry. Keying by the sources (not a version) means an edit to
 * the helper is a new binary, and switching branches back finds the old one still there.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { toolCacheRoot } from "../tools/resolve.ts";

export const MESH_SIM_SOURCE_DIR = fileURLToPath(new URL("../../go/mesh-sim/", import.meta.url));

/** Files that make the binary: the module files and the non-test Go sources. */
async function sourceFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names
    .filter((n) => n === "go.mod" || n === "go.sum" || (n.endsWith(".go") && !n.endsWith("_test.go")))
    .sort();
}

export async function meshSimSourceHash(dir = MESH_SIM_SOURCE_DIR): Promise<string> {
  const hash = createHash("sha256");
  for (const name of await sourceFiles(dir)) {
    hash.update(`${name}\0`);
    hash.update(await readFile(path.join(dir, name)));
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

export async function meshSimCachedPath(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return path.join(toolCacheRoot(env), "mesh-sim", await meshSimSourceHash(), "mesh-sim");
}

let building: Promise<string> | undefined;

export async function resolveMeshSim(
  options: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<string> {
  const env = options.env ?? process.env;
  const explicit = env.MESH_SIM_BIN;
  if (explicit) {
    if (!existsSync(explicit))
      throw new Error(`MESH_SIM_BIN=${explicit} does not exist; unset it or run \`pnpm tools mesh-sim\``);
    return explicit;
  }
  const target = await meshSimCachedPath(env);
  if (existsSync(target)) return target;
  building ??= build(target, env, options.log ?? (() => {})).finally(() => (building = undefined));
  return building;
}

async function build(target: string, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<string> {
  const dir = path.dirname(target);
  await mkdir(path.dirname(dir), { recursive: true });
  const staging = await mkdtemp(path.join(path.dirname(dir), ".build-"));
  try {
    log(
      `building mesh-sim from scripts/go/mesh-sim (about 3-4 minutes the first time, seconds when Istio's packages are in Go's build cache)`,
    );
    try {
      await promisify(execFile)("go", ["build", "-trimpath", "-o", path.join(staging, "mesh-sim"), "."], {
        cwd: MESH_SIM_SOURCE_DIR,
        env: { ...env, GOFLAGS: "-buildvcs=false" },
        timeout: 30 * 60_000,
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (e) {
      const stderr = String((e as { stderr?: string }).stderr ?? (e as Error).message).trim();
      throw new Error(
        `could not build the mesh simulation helper (go build in scripts/go/mesh-sim):\n${stderr.split("\n").slice(-10).join("\n")}\nFix the Go error above, or set MESH_SIM_BIN to a built helper`,
      );
    }
    if (!existsSync(target)) {
      await rm(dir, { recursive: true, force: true });
      await rename(staging, dir);
    }
    return target;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
