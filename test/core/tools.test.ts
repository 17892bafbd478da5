import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOOL_PINS, type ToolPin } from "../../scripts/lib/tools/pins.ts";
import {
  cachedBinaryPath,
  envVarFor,
  findRepoRoot,
  goProxies,
  platformKey,
  resolveTool,
  ToolError,
} from "../../scripts/lib/tools/resolve.ts";

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, "../..");

/** A stand-in "helm" that prints a version, for resolution-order tests without touching real tools. */
async function fakeTool(dir: string, version: string, name = "helm"): Promise<string> {
  await mkdir(dir, { recursive: true });
  const bin = path.join(dir, name);
  await writeFile(bin, `#!/bin/sh\necho "${version}"\n`);
  await chmod(bin, 0o755);
  return bin;
}

describe("resolveTool", () => {
  let tmp: string;
  let server: Server;
  let baseUrl: string;
  let archive: Buffer;
  let requests = 0;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "tools-test-"));
    // A real release-like archive: <platform>/helm inside a tar.gz, served over HTTP on loopback.
    const staging = path.join(tmp, "staging");
    await fakeTool(path.join(staging, platformKey()), TOOL_PINS.helm.version);
    await run("tar", ["-czf", path.join(tmp, "helm.tar.gz"), "-C", staging, platformKey()]);
    archive = await readFile(path.join(tmp, "helm.tar.gz"));
    server = createServer((req, res) => {
      requests++;
      if (req.url === "/helm.tar.gz") res.end(archive);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(tmp, { recursive: true, force: true });
  });

  const envWith = (extra: Record<string, string>) => ({ PATH: "/nonexistent", HOME: tmp, ...extra });
  const downloadPin = (sha256?: string): ToolPin => ({
    ...TOOL_PINS.helm,
    downloads: { [platformKey()]: { url: `${baseUrl}/helm.tar.gz`, ...(sha256 ? { sha256 } : {}) } },
  });

  it("uses an explicit <TOOL>_BIN path first, and names the variable when it is wrong", async () => {
    const bin = await fakeTool(path.join(tmp, "explicit"), "v0.0.1");
    expect(await resolveTool("helm", { env: envWith({ HELM_BIN: bin }) })).toBe(bin);
    await expect(resolveTool("helm", { env: envWith({ HELM_BIN: "/no/such/helm" }) })).rejects.toThrow(
      /HELM_BIN=\/no\/such\/helm does not exist/,
    );
  });

  it("takes the tool from PATH only when it reports the pinned version", async () => {
    const good = await fakeTool(path.join(tmp, "path-good"), `${TOOL_PINS.helm.version}+g1234`);
    const env = envWith({ PATH: path.dirname(good), ISTIO_GITOPS_TOOLS_DIR: path.join(tmp, "empty-cache") });
    expect(await resolveTool("helm", { env })).toBe(good);
    const old = await fakeTool(path.join(tmp, "path-old"), "v3.14.0");
    const oldEnv = { ...env, PATH: path.dirname(old) };
    await expect(resolveTool("helm", { env: oldEnv, install: false })).rejects.toThrow(ToolError);
  });

  it("takes a compatible release from PATH when the pin is a branch commit (istioctl 1.30.x)", async () => {
    const env = envWith({ ISTIO_GITOPS_TOOLS_DIR: path.join(tmp, "empty-cache") });
    const official = await fakeTool(path.join(tmp, "istioctl-1.30.2"), "1.30.2", "istioctl");
    expect(await resolveTool("istioctl", { env: { ...env, PATH: path.dirname(official) } })).toBe(official);
    const older = await fakeTool(path.join(tmp, "istioctl-1.29.4"), "1.29.4", "istioctl");
    const err = await resolveTool("istioctl", {
      env: { ...env, PATH: path.dirname(older) },
      install: false,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/istioctl 1\.30-9739e10eb9d7 is not installed/);
    expect((err as Error).message).toContain("put an istioctl release matching ^1\\.30\\.\\d+$ on PATH");
  });

  it("falls back to the per-user cache keyed by tool and version", async () => {
    const cacheRoot = path.join(tmp, "cache");
    const env = envWith({ ISTIO_GITOPS_TOOLS_DIR: cacheRoot });
    const cached = cachedBinaryPath(TOOL_PINS.helm, env);
    expect(cached).toBe(path.join(cacheRoot, "helm", TOOL_PINS.helm.version, "helm"));
    await fakeTool(path.dirname(cached), TOOL_PINS.helm.version);
    expect(await resolveTool("helm", { env, install: false })).toBe(cached);
  });

  it("says which tool, which version and how to fix it when nothing is found", async () => {
    const env = envWith({ ISTIO_GITOPS_TOOLS_DIR: path.join(tmp, "nothing") });
    const err = await resolveTool("kubeconform", { env, install: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as Error).message).toMatch(/kubeconform v0\.8\.0 is not installed/);
    expect((err as Error).message).toContain("pnpm tools");
    expect((err as Error).message).toContain(
      "go install -ldflags='-X main.version=v0.8.0' github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0",
    );
  });

  it("downloads the release archive when Go is absent, verifying the pinned sha256", async () => {
    const env = envWith({ ISTIO_GITOPS_TOOLS_DIR: path.join(tmp, "dl-cache") });
    const sha = createHash("sha256").update(archive).digest("hex");
    const bin = await resolveTool("helm", { env, pin: downloadPin(sha) });
    expect(bin).toBe(path.join(tmp, "dl-cache", "helm", TOOL_PINS.helm.version, "helm"));
    expect((await run(bin, [])).stdout.trim()).toBe(TOOL_PINS.helm.version);
  });

  it("discards a download whose checksum does not match, leaving no cache entry", async () => {
    const cacheRoot = path.join(tmp, "bad-cache");
    const env = envWith({ ISTIO_GITOPS_TOOLS_DIR: cacheRoot });
    const before = requests;
    const err = await resolveTool("helm", { env, pin: downloadPin("0".repeat(64)) }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /checksum mismatch .* expected 0{64}, got [0-9a-f]{64}; the download was discarded/,
    );
    expect(requests).toBe(before + 1);
    expect(existsSync(path.join(cacheRoot, "helm", TOOL_PINS.helm.version))).toBe(false);
  });

  it("fails in seconds when the release host is unreachable, naming the URL and <TOOL>_BIN", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const env = envWith({ ISTIO_GITOPS_TOOLS_DIR: path.join(tmp, "offline-cache") });
    const pin: ToolPin = {
      ...TOOL_PINS.helm,
      downloads: { [platformKey()]: { url: `http://127.0.0.1:${port}/helm.tar.gz`, sha256: "0".repeat(64) } },
    };
    const started = Date.now();
    const err = await resolveTool("helm", { env, pin }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as Error).message).toContain(
      `cannot download http://127.0.0.1:${port}/helm.tar.gz: connection refused`,
    );
    expect((err as Error).message).toContain("Offline: set HELM_BIN");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("reads the Go proxies to probe from GOPROXY (default proxy.golang.org)", () => {
    expect(goProxies(undefined)).toEqual(["https://proxy.golang.org"]);
    expect(goProxies("https://a.example,https://b.example|direct")).toEqual([
      "https://a.example",
      "https://b.example",
    ]);
    expect(goProxies("off")).toEqual([]);
  });

  it("refuses to download without a pinned checksum", async () => {
    const env = envWith({ ISTIO_GITOPS_TOOLS_DIR: path.join(tmp, "nosum-cache") });
    const before = requests;
    await expect(resolveTool("helm", { env, pin: downloadPin() })).rejects.toThrow(
      /refusing to download .* no sha256 is pinned/,
    );
    expect(requests).toBe(before);
  });

  it("pins every tool with a Go package and version, and a way in without Go", async () => {
    for (const pin of Object.values(TOOL_PINS)) {
      if (pin.goSource) {
        // A module of ours: it builds its own main (".") or a package of the module it requires,
        // at the version the pin states.
        const goMod = await readFile(path.join(repoRoot, pin.goSource, "go.mod"), "utf8");
        expect(existsSync(path.join(repoRoot, pin.goSource, "go.sum")), pin.name).toBe(true);
        expect(goMod, pin.name).toMatch(new RegExp(`\\s${pin.goVersion.replace(/\./g, "\\.")}\\b`));
        if (pin.goPackage !== ".") expect(pin.goPackage).toMatch(/^[a-z0-9.-]+\.[a-z]+\//);
      } else {
        expect(pin.goPackage).toMatch(/^[a-z0-9.-]+\.[a-z]+\//);
      }
      expect(pin.goVersion).toMatch(/^v\d+\.\d+\.\d+(-[0-9a-z.-]+)?$/);
      const platforms = Object.keys(pin.downloads).sort();
      if (platforms.length === 0) {
        // No release archive for the pinned build: an official release of the same line on PATH.
        expect(pin.compatibleVersions, pin.name).toBeInstanceOf(RegExp);
        continue;
      }
      expect(platforms).toEqual(["darwin-amd64", "darwin-arm64", "linux-amd64", "linux-arm64"]);
      for (const d of Object.values(pin.downloads)) expect(d.url).toContain(pin.version.replace(/^v/, ""));
    }
  });

  it("finds the version each tool prints, including istioctl's branch-commit build", () => {
    const istioctl = TOOL_PINS.istioctl;
    expect(istioctl.versionPattern.exec("client version: 1.30-9739e10eb9d7\n")?.[0]).toBe(istioctl.version);
    expect(istioctl.versionPattern.exec("1.30.3")?.[0]).toBe("1.30.3");
    expect(TOOL_PINS.helm.versionPattern.exec("v4.3.0+g1a2b3c4")?.[0]).toBe(TOOL_PINS.helm.version);
    expect(TOOL_PINS["kube-apiserver"].versionPattern.exec("Kubernetes v1.36.3\n")?.[0]).toBe("v1.36.3");
    const etcd = "etcd Version: 3.6.16\nGit SHA: GitNotFound\nGo Version: go1.26.0\n";
    expect(TOOL_PINS.etcd.versionPattern.exec(etcd)?.[0]).toBe("3.6.16");
  });

  it("finds the repository root from a bundle under node_modules/.cache as from the sources", () => {
    expect(findRepoRoot(path.join(repoRoot, "node_modules", ".cache", "istio-gitops", "bundles"))).toBe(
      repoRoot,
    );
    expect(findRepoRoot(path.join(repoRoot, "scripts", "lib", "tools"))).toBe(repoRoot);
  });

  it("names dashed tools' variables without dashes (KUBE_APISERVER_BIN)", () => {
    expect(envVarFor("kube-apiserver")).toBe("KUBE_APISERVER_BIN");
    expect(envVarFor("etcd")).toBe("ETCD_BIN");
  });
});

describe("resolveTool with a Go source folder in the repository (goSource)", () => {
  let tmp: string;
  let go: string | undefined;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "tools-gosrc-"));
    go = ["/usr/local/go/bin/go", ...(process.env.PATH ?? "").split(":").map((d) => path.join(d, "go"))].find(
      (p) => existsSync(p),
    );
    const src = path.join(tmp, "repo", "go", "hello");
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, "go.mod"), "module local/hello\n\ngo 1.22\n");
    await writeFile(path.join(src, "main.go"), helloMain("first"));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  const helloMain = (word: string) =>
    `package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello ${word}") }\n`;
  const pin: ToolPin = {
    ...TOOL_PINS.etcd,
    version: "v0.1.0",
    goSource: "go/hello",
    goPackage: ".",
    ldflags: "-X main.unused=1",
  };
  // Only Go on PATH (no etcd), the shared Go caches (a cold standard library costs minutes), and
  // no module proxy: the module has no dependencies.
  const env = () => ({
    PATH: path.dirname(go!),
    HOME: tmp,
    ISTIO_GITOPS_TOOLS_DIR: path.join(tmp, "cache"),
    GOCACHE: process.env.GOCACHE ?? path.join(os.homedir(), ".cache", "go-build"),
    GOPATH: process.env.GOPATH ?? path.join(os.homedir(), "go"),
    GOPROXY: "off",
  });
  const root = () => path.join(tmp, "repo");

  it("builds it with go build, caches it under version + source hash, and rebuilds when the source changes", async () => {
    expect(go, "Go is needed to build goSource tools").toBeDefined();
    const lines: string[] = [];
    const first = await resolveTool("etcd", { env: env(), pin, repoRoot: root(), log: (l) => lines.push(l) });
    expect(first).toMatch(new RegExp(`/cache/etcd/v0\\.1\\.0-src[0-9a-f]{12}/etcd$`));
    expect(first).toBe(cachedBinaryPath(pin, env(), root()));
    expect((await run(first, [])).stdout.trim()).toBe("hello first");
    expect(lines.join("\n")).toContain("from go/hello: go build -trimpath");
    // Cached: found without installing.
    expect(await resolveTool("etcd", { env: env(), pin, repoRoot: root(), install: false })).toBe(first);
    // The build ran on a copy: nothing was written into the source folder.
    expect((await readdir(path.join(root(), "go", "hello"))).sort()).toEqual(["go.mod", "main.go"]);

    await writeFile(path.join(root(), "go", "hello", "main.go"), helloMain("second"));
    const key = cachedBinaryPath(pin, env(), root());
    expect(key).not.toBe(first);
    await expect(resolveTool("etcd", { env: env(), pin, repoRoot: root(), install: false })).rejects.toThrow(
      /etcd v0\.1\.0 is not installed; run `pnpm tools etcd` \(builds it with Go from go\/hello\)/,
    );
    const second = await resolveTool("etcd", { env: env(), pin, repoRoot: root() });
    expect(second).toBe(key);
    expect((await run(second, [])).stdout.trim()).toBe("hello second");
    // The old build stays beside it (a branch switch back reuses it).
    expect(existsSync(first)).toBe(true);
  });

  it("ignores bin/ and dot-files in the source hash", async () => {
    const before = cachedBinaryPath(pin, env(), root());
    await mkdir(path.join(root(), "go", "hello", "bin"), { recursive: true });
    await writeFile(path.join(root(), "go", "hello", "bin", "hello"), "build output");
    await writeFile(path.join(root(), "go", "hello", ".swp"), "editor");
    expect(cachedBinaryPath(pin, env(), root())).toBe(before);
  });

  it("names the folder and the compiler's message when the build fails, and leaves no cache entry", async () => {
    const bad = path.join(root(), "go", "broken");
    await mkdir(bad, { recursive: true });
    await writeFile(path.join(bad, "go.mod"), "module local/broken\n\ngo 1.22\n");
    await writeFile(path.join(bad, "main.go"), "package main\n\nfunc main() { undefinedThing() }\n");
    const brokenPin = { ...pin, goSource: "go/broken" };
    const err = await resolveTool("etcd", { env: env(), pin: brokenPin, repoRoot: root() }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ToolError);
    expect((err as Error).message).toContain("could not build etcd v0.1.0 with go build in go/broken");
    expect((err as Error).message).toContain("undefined: undefinedThing");
    expect(existsSync(path.dirname(cachedBinaryPath(brokenPin, env(), root())))).toBe(false);
  });

  it("says which folder is missing when goSource points nowhere", async () => {
    const err = await resolveTool("etcd", {
      env: env(),
      pin: { ...pin, goSource: "go/nope" },
      repoRoot: root(),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as Error).message).toMatch(/Go source folder .*go\/nope does not exist/);
  });
});
