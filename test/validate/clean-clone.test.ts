/**
 * The README's first command on a clean clone with nothing beside it: a real `git clone` of this
 * repository into an empty folder, `pnpm install` from the local store, and `pnpm validate` with a
 * fresh HOME (no chart cache, no validator cache), the pinned helm and kubeconform, and no
 * VALIDATE_SCHEMA_ROOT / VALIDATE_CRD_DIR / CHART_MIRROR. It must end with the validation summary,
 * exit 0, and say once per platform chart that it could not be validated. It clones HEAD: what is
 * not committed is not tested here.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { resolveTool } from "../../scripts/lib/tools/resolve.ts";
import type { ValidationResult } from "../../scripts/lib/validate/engine.ts";
import { REPO_ROOT } from "./helpers.ts";

let dir: string;
let clone: string;
let env: NodeJS.ProcessEnv;

function validate(args: string[], extra: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string; ms: number }>((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ["scripts/launch.mjs", "scripts/validate.ts", ...args], {
      cwd: clone,
      env: { ...env, ...extra },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "clean-clone-"));
  clone = path.join(dir, "repo");
  const git = spawnSync("git", ["clone", "--quiet", REPO_ROOT, clone], { encoding: "utf8" });
  expect(git.status, git.stderr).toBe(0);
  // pnpm's own store, not the test's HOME: the dependencies are the one thing installed first.
  const install = spawnSync("pnpm", ["install", "--offline", "--frozen-lockfile"], {
    cwd: clone,
    encoding: "utf8",
    env: { ...process.env, CI: "true" },
  });
  expect(install.status, install.stderr + install.stdout).toBe(0);
  const home = path.join(dir, "home");
  env = {
    ...process.env,
    HOME: home,
    XDG_CACHE_HOME: path.join(home, ".cache"),
    HELM_BIN: await resolveTool("helm", { install: false }),
    KUBECONFORM_BIN: await resolveTool("kubeconform", { install: false }),
  };
  for (const k of [
    "VALIDATE_SCHEMA_ROOT",
    "VALIDATE_CRD_DIR",
    "CHART_MIRROR",
    "VALIDATE_CACHE_DIR",
    "ISTIO_GITOPS_CHARTS_DIR",
    "ISTIO_GITOPS_TOOLS_DIR",
  ])
    delete env[k];
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("pnpm validate on a clean clone, nothing beside it, no network", () => {
  it("cold and warm: exit 0, one charts/not-validated warning per platform release, the summary", async () => {
    const helmfile = parseAllDocuments(await readFile(path.join(clone, "helmfile.yaml"), "utf8"))
      .map((d) => d.toJS() as { releases?: unknown })
      .find((d) => d?.releases) as {
      releases: Array<{ name: string; chart: string }>;
    };
    const platform = helmfile.releases.filter((r) => !r.chart.startsWith(".")).map((r) => r.name);
    for (const run of ["cold", "warm"]) {
      const r = await validate([]);
      expect(r.code, `${run}: ${r.stderr}\n${r.stdout.slice(-2000)}`).toBe(0);
      expect(r.stdout).toMatch(/^0 errors, \d+ warnings, \d+ infos in \d+ resources from \d+ files/m);
      const warned = [...r.stdout.matchAll(/charts\/not-validated {2}platform release '([^']+)'/g)].map(
        (m) => m[1],
      );
      expect(warned.sort(), run).toEqual([...platform].sort());
      expect(r.stdout).toContain("set CHART_MIRROR");
      // Not vacuous: the app, the mesh and the Applications were schema-checked (bundle) and checked.
      expect(r.stdout).not.toContain("schema/missing");
      expect(r.ms, run).toBeLessThan(run === "cold" ? 60_000 : 20_000);
    }
    const json = await validate(["--format", "json", "--progress"]);
    const out = JSON.parse(json.stdout) as ValidationResult;
    expect(out.summary.resources).toBeGreaterThan(500);
    // Without Istio's charts the behaviour layer cannot know the gateways: it says so, once.
    const blind = out.findings.filter((f) => f.rule === "behaviour/not-evaluable");
    expect(blind).toHaveLength(1);
    expect(blind[0]!.hint).toContain("CHART_MIRROR");
    expect(
      out.findings.filter((f) => f.rule !== "charts/not-validated" && f.rule !== "behaviour/not-evaluable"),
    ).toEqual(out.findings.filter((f) => f.severity === "info"));
  }, 180_000);

  it("a schema location on an unreachable host stops repo mode in under 10 s with one error", async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const config = path.join(clone, ".validate.yaml");
    const original = await readFile(config, "utf8");
    await writeFile(
      config,
      `${original}\nschemaLocations:\n  - "https://127.0.0.1:${port}/{{.ResourceKind}}.json"\n`,
    );
    try {
      const r = await validate(["--no-cache"]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`https://127.0.0.1:${port}/`);
      expect(r.stderr).toContain("the repository's render");
      expect(r.stderr).toContain("VALIDATE_SCHEMA_ROOT");
      expect(r.ms).toBeLessThan(10_000);
    } finally {
      await writeFile(config, original);
    }
  }, 30_000);
});
