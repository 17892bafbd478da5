/**
 * Test worlds for the gitops suite, with real git and no mocks: a bare "origin" seeded from the
 * fixture repository (rendered and committed), and clones of it. Git never reads the user's
 * configuration (GIT_CONFIG_GLOBAL=/dev/null) and every identity comes from the environment.
 */
import { execFile } from "node:child_process";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll } from "vitest";
import { writeTreeAtomically } from "../../scripts/lib/fs/tree.ts";
import { Git } from "../../scripts/lib/gitops/git.ts";
import { promote } from "../../scripts/lib/gitops/promote.ts";
import { renderedRoot } from "../../scripts/lib/render/layout.ts";
import { renderClusters } from "../../scripts/lib/render/pipeline.ts";

const run = promisify(execFile);

export const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const FIXTURE = path.join(PROJECT_ROOT, "test/gitops/fixtures/repo");
export const TSX = path.join(PROJECT_ROOT, "node_modules/.bin/tsx");
/** A path that does not exist: the validate step falls back to its render-only check. */
export const NO_VALIDATOR = path.join(PROJECT_ROOT, "test/gitops/fixtures/no-such-validator.ts");

/** process.env without anything that would reach a real GitHub or read the user's git config. */
export function baseEnv(name = "Alice"): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith("GITHUB_") || k.startsWith("GIT_") || k === "GITOPS_VALIDATOR_MODULE") delete env[k];
  }
  return {
    ...env,
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: name,
    GIT_AUTHOR_EMAIL: `${name.toLowerCase()}@example.test`,
    GIT_COMMITTER_NAME: name,
    GIT_COMMITTER_EMAIL: `${name.toLowerCase()}@example.test`,
    GITOPS_VALIDATOR_MODULE: NO_VALIDATOR,
  };
}

export interface Clone {
  dir: string;
  env: NodeJS.ProcessEnv;
  git: Git;
}

export interface World {
  tmp: string;
  origin: string;
  a: Clone;
  b: Clone;
  cleanup(): Promise<void>;
}

/** Builds the seed repository once: fixture + rendered output, one commit, as a bare repo. */
export async function buildTemplate(): Promise<{ dir: string; bare: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "gitops-template-"));
  const seed = path.join(dir, "seed");
  await cp(FIXTURE, seed, { recursive: true });
  for (const r of await renderClusters(seed)) {
    await writeTreeAtomically(path.join(seed, renderedRoot(r.cluster.name)), r.files);
  }
  const git = new Git(seed, baseEnv("Seed"));
  await git.run(["init", "--quiet", "-b", "main"]);
  await git.run(["add", "-A"]);
  await git.run(["commit", "--quiet", "-m", "Seed the workshop at chapter 00-basics"]);
  const bare = path.join(dir, "template.git");
  await git.run(["clone", "--quiet", "--bare", seed, bare]);
  return { dir, bare, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function makeWorld(templateBare: string): Promise<World> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "gitops-world-"));
  const origin = path.join(tmp, "origin.git");
  await run("git", ["clone", "--quiet", "--bare", templateBare, origin], { env: baseEnv() });
  const clone = async (name: string): Promise<Clone> => {
    const dir = path.join(tmp, name.toLowerCase());
    const env = baseEnv(name);
    await run("git", ["clone", "--quiet", origin, dir], { env });
    return { dir, env, git: new Git(dir, env) };
  };
  const a = await clone("Alice");
  const b = await clone("Bob");
  return { tmp, origin, a, b, cleanup: () => rm(tmp, { recursive: true, force: true }) };
}

/**
 * The hooks every git test file needs: the seed repository built once per file, and a fresh world
 * (a bare origin and two clones) per test, removed after it. Call at the top of a test file; the
 * returned function makes the test's world.
 */
export function worldPerTest(): () => Promise<World> {
  let template: Awaited<ReturnType<typeof buildTemplate>> | undefined;
  let current: World | undefined;
  beforeAll(async () => {
    template = await buildTemplate();
  });
  afterAll(async () => {
    await template?.cleanup();
  });
  afterEach(async () => {
    await current?.cleanup();
    current = undefined;
  });
  return async () => {
    if (!template) throw new Error("worldPerTest(): the seed repository is built in beforeAll");
    current = await makeWorld(template.bare);
    return current;
  };
}

/** Promotes a cluster (one chapter, or `to` one) and merges the pull request on the origin. */
export async function promoteAndMerge(c: Clone, cluster: string, to?: string): Promise<string> {
  const r = await promote(c.dir, { cluster, ...(to ? { to } : {}), env: c.env });
  return mergeOnOrigin(c, r.branch);
}

/** What GitHub does when a pull request is merged with a merge commit, and the branch deleted. */
export async function mergeOnOrigin(c: Clone, branch: string): Promise<string> {
  await c.git.run(["fetch", "--quiet", "origin"]);
  await c.git.run(["switch", "--quiet", "main"]);
  await c.git.run(["merge", "--quiet", "--ff-only", "origin/main"]);
  await c.git.run([
    "merge",
    "--quiet",
    "--no-ff",
    "-m",
    `Merge pull request from ${branch}`,
    `origin/${branch}`,
  ]);
  await c.git.run(["push", "--quiet", "origin", "main", `:refs/heads/${branch}`]);
  const local = await c.git.localBranchExists(branch);
  if (local) await c.git.run(["branch", "--quiet", "-D", branch]);
  return c.git.head();
}

export async function pull(c: Clone): Promise<void> {
  await c.git.run(["pull", "--quiet", "--ff-only"]);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one of the project's CLIs with tsx, in a clone, as a person would. */
export async function runCli(
  script: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(TSX, [path.join(PROJECT_ROOT, "scripts", script), ...args], {
      cwd,
      env,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === "number" ? err.code : -1,
      stdout: err.stdout ?? "",
      stderr: err.stderr ?? "",
    };
  }
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local stand-in for the GitHub REST API: records requests, answers POST .../pulls with 201. */
export async function fakeGitHub(): Promise<{
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}> {
  const requests: RecordedRequest[] = [];
  let next = 41;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      const m = /^\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(req.url ?? "");
      if (req.method === "POST" && m) {
        const number = ++next;
        res.writeHead(201, { "content-type": "application/json" });
        res.end(
          JSON.stringify({ number, html_url: `https://github.example/${m[1]}/${m[2]}/pull/${number}` }),
        );
        return;
      }
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: "Not Found" }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A validator module for the validate step, written to a temp file: returns the given findings. */
export async function stubValidator(dir: string, errors: number, hookName?: string): Promise<string> {
  const file = path.join(dir, `validator-${errors}-${hookName ?? "plain"}.mjs`);
  const finding = {
    file: "clusters/primary/rendered/mesh.yaml",
    line: 1,
    column: 1,
    rule: "test/broken",
    severity: "error",
    anchors: [],
    message: "a test finding",
    hint: "none",
  };
  await writeFile(
    file,
    `export async function validateRepo(root, options) {
  ${hookName ? `await globalThis[${JSON.stringify(hookName)}]?.(root, options);` : ""}
  const findings = Array.from({ length: ${errors} }, () => (${JSON.stringify(finding)}));
  return { findings, summary: { errors: ${errors}, warnings: 0 } };
}
`,
  );
  return file;
}
