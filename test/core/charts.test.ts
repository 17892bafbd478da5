/**
 * Chart packages pinned by the digest of their files: the digest itself (against real tar), the
 * lock file, the cache and mirror resolution with digest checks, `helm pull` from a real local
 * chart repository and from an unreachable one, and `pnpm charts` end to end.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkLockCoverage, parseChartLock, type LockedChart } from "../../scripts/lib/charts/lock.ts";
import { chartContentDigest, readTarGz } from "../../scripts/lib/charts/package-digest.ts";
import {
  ChartError,
  cachedPackagePath,
  locateChart,
  mirrorFolderName,
  pullChart,
} from "../../scripts/lib/charts/resolve.ts";
import { parseHelmfile } from "../../scripts/lib/model/helmfile.ts";
import { resolveTool } from "../../scripts/lib/tools/resolve.ts";
import { CHART_MIRROR } from "../validate/helpers.ts";
import { REPO_ROOT } from "../helpers/temp-repo.ts";

const ISTIO = "https://istio-release.storage.googleapis.com/charts";
const GATEWAY = path.join(CHART_MIRROR, mirrorFolderName(ISTIO), "gateway-1.30.3.tgz");
const TSX = path.join(REPO_ROOT, "node_modules/.bin/tsx");

let tmp: string;
beforeAll(async () => {
  if (!existsSync(GATEWAY)) throw new Error(`the chart mirror is needed here: ${GATEWAY} (set CHART_MIRROR)`);
  tmp = await mkdtemp(path.join(os.tmpdir(), "charts-test-"));
});
afterAll(async () => rm(tmp, { recursive: true, force: true }));

const lockEntry = (digest: string): LockedChart => ({
  repository: ISTIO,
  chart: "gateway",
  version: "1.30.3",
  digest,
  position: { file: "charts.lock.yaml", line: 1, column: 1 },
});

/** Unpacks a package and packs the same files again with other timestamps, as a rebuild would. */
async function repack(pkg: string, edit?: (dir: string) => Promise<void>): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmp, "repack-"));
  execFileSync("tar", ["-xzf", pkg, "-C", dir]);
  if (edit) await edit(dir);
  const out = path.join(dir, "out.tgz");
  execFileSync("tar", ["-czf", out, "--mtime=2001-01-01", "-C", dir, "gateway"]);
  return readFile(out);
}

describe("the content digest of a chart package", () => {
  it("lists the same files as tar does", () => {
    const files = readTarGz(readFileSync(GATEWAY)).map((e) => e.path);
    const listed = execFileSync("tar", ["-tzf", GATEWAY], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l && !l.endsWith("/"));
    expect(files.sort()).toEqual(listed.sort());
    expect(files).toContain("gateway/Chart.yaml");
  });

  it("is the same for a repackaging of the same files, and differs when one byte does", async () => {
    const original = chartContentDigest(readFileSync(GATEWAY));
    const same = await repack(GATEWAY);
    expect(same.equals(readFileSync(GATEWAY))).toBe(false);
    expect(chartContentDigest(same)).toBe(original);
    const edited = await repack(GATEWAY, async (d) => {
      const f = path.join(d, "gateway/values.yaml");
      await writeFile(f, (await readFile(f, "utf8")).replace("replicaCount", "replicaCount "));
    });
    expect(chartContentDigest(edited)).not.toBe(original);
    expect(original).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("refuses what is not a gzip archive", () => {
    expect(() => chartContentDigest(Buffer.from("not a chart"))).toThrow(/not a gzip archive/);
  });
});

describe("charts.lock.yaml", () => {
  it("locks every upstream chart of helmfile.yaml, and each digest is the mirror package's", () => {
    const { lock, findings } = parseChartLock(readFileSync(path.join(REPO_ROOT, "charts.lock.yaml"), "utf8"));
    expect(findings).toEqual([]);
    const hf = parseHelmfile(readFileSync(path.join(REPO_ROOT, "helmfile.yaml"), "utf8"));
    expect(checkLockCoverage(lock!, hf.value!.releases)).toEqual([]);
    for (const c of lock!.charts) {
      const pkg = path.join(CHART_MIRROR, mirrorFolderName(c.repository), `${c.chart}-${c.version}.tgz`);
      expect(chartContentDigest(readFileSync(pkg)), `${c.chart} ${c.version}`).toBe(c.digest);
    }
  });

  it("reports an unlocked release at its line in helmfile.yaml and an unused entry at the lock", () => {
    const hf = parseHelmfile(
      [
        "repositories: [{name: istio, url: https://istio-release.storage.googleapis.com/charts}]",
        "releases:",
        "  - name: istiod",
        "    namespace: istio-system",
        "    chart: istio/istiod",
        "    version: 1.30.4",
      ].join("\n"),
    );
    const { lock } = parseChartLock(
      `charts:\n  - repository: ${ISTIO}\n    chart: istiod\n    version: "1.30.3"\n    digest: sha256:${"a".repeat(64)}\n`,
    );
    const f = checkLockCoverage(lock!, hf.value!.releases);
    expect(f.map((x) => [x.severity, x.file, x.line, x.rule])).toEqual([
      ["error", "helmfile.yaml", 3, "charts/lock"],
      ["warning", "charts.lock.yaml", 2, "charts/lock"],
    ]);
    expect(f[0]!.message).toContain("istiod 1.30.4");
    expect(f[0]!.hint).toContain("pnpm charts --lock");
  });

  it("says which entry is broken, and where", () => {
    const r = parseChartLock(
      `charts:\n  - repository: ${ISTIO}\n    chart: base\n    version: "1"\n    digest: md5:x\n`,
    );
    expect(r.lock).toBeUndefined();
    expect(r.findings[0]).toMatchObject({ line: 5, rule: "charts/lock" });
    expect(r.findings[0]!.message).toContain("base 1");
  });
});

describe("locating a locked chart", () => {
  const env = () => ({ ...process.env, ISTIO_GITOPS_CHARTS_DIR: path.join(tmp, "cache") });
  const digest = () => chartContentDigest(readFileSync(GATEWAY));

  it("takes it from the mirror into the cache, then from the cache", async () => {
    const c = lockEntry(digest());
    const first = await locateChart(c, { mirror: CHART_MIRROR, env: env() });
    expect(first?.source).toBe("mirror");
    expect(first?.path).toBe(cachedPackagePath(c, env()));
    expect(readFileSync(first!.path).equals(readFileSync(GATEWAY))).toBe(true);
    const second = await locateChart(c, { env: env() });
    expect(second).toEqual({ path: first!.path, source: "cache" });
  });

  it("refuses a package whose files do not match the lock, naming the chart", async () => {
    const c = lockEntry(`sha256:${"0".repeat(64)}`);
    const err = await locateChart(c, { mirror: CHART_MIRROR, env: env() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChartError);
    expect((err as Error).message).toContain("gateway 1.30.3");
    expect((err as Error).message).toContain("does not match charts.lock.yaml");
    expect(existsSync(cachedPackagePath(c, env()))).toBe(false);
  });

  it("answers nothing when neither the cache nor the mirror has it", async () => {
    const c = { ...lockEntry(digest()), version: "9.9.9" };
    expect(await locateChart(c, { mirror: CHART_MIRROR, env: env() })).toBeUndefined();
  });
});

describe("pulling from a chart repository (real helm, local HTTP server)", () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    const repo = path.join(tmp, "repo");
    await mkdir(repo, { recursive: true });
    await cp(GATEWAY, path.join(repo, "gateway-1.30.3.tgz"));
    const helm = await resolveTool("helm");
    execFileSync(helm, ["repo", "index", repo]);
    server = createServer((req, res) => {
      const file = path.join(repo, path.basename(req.url ?? "/"));
      if (!existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200).end(readFileSync(file));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("pulls, checks the digest and caches", async () => {
    const env = { ...process.env, ISTIO_GITOPS_CHARTS_DIR: path.join(tmp, "pulled") };
    const c = { ...lockEntry(chartContentDigest(readFileSync(GATEWAY))), repository: url };
    const got = await pullChart(c, { helm: await resolveTool("helm"), env });
    expect(got.source).toBe("upstream");
    expect(chartContentDigest(readFileSync(got.path))).toBe(c.digest);
  });

  it("fails fast on an unreachable repository, naming the chart and the mirror setting", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const c = { ...lockEntry(`sha256:${"0".repeat(64)}`), repository: `http://127.0.0.1:${port}` };
    const started = Date.now();
    const err = await pullChart(c, { helm: await resolveTool("helm"), timeoutSeconds: 20 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ChartError);
    expect((err as Error).message).toContain("could not pull gateway 1.30.3");
    expect((err as Error).message).toContain("CHART_MIRROR");
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe("pnpm charts", () => {
  const run = (args: string[], env: NodeJS.ProcessEnv) =>
    spawnSync(TSX, [path.join(REPO_ROOT, "scripts/charts.ts"), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      encoding: "utf8",
      timeout: 120_000,
    });

  it("--offline fills the cache from the mirror and lists every locked chart", () => {
    const r = run(["--offline"], { CHART_MIRROR, ISTIO_GITOPS_CHARTS_DIR: path.join(tmp, "cli") });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.length).toBe(9);
    for (const l of lines) expect(l).toMatch(/ (mirror|cache) /);
  });

  it("--offline without a mirror says what is missing and exits 1", () => {
    const r = run(["--offline"], {
      CHART_MIRROR: path.join(tmp, "empty"),
      ISTIO_GITOPS_CHARTS_DIR: path.join(tmp, "none"),
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("kube-prometheus-stack 88.5.3");
    expect(r.stderr).toContain("MISSING");
  });

  it("--help prints usage and touches nothing", () => {
    const r = run(["--help"], { ISTIO_GITOPS_CHARTS_DIR: path.join(tmp, "help") });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("usage: pnpm charts");
    expect(existsSync(path.join(tmp, "help"))).toBe(false);
  });
});
