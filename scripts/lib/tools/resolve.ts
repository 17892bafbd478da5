/**
 * Resolves a pinned external tool to a binary path, in this order:
 *   1. an explicit path in `<TOOL>_BIN` (HELM_BIN, HELMFILE_BIN, KUBECONFORM_BIN, ISTIOCTL_BIN, ACTIONLINT_BIN);
 *   2. the tool on PATH, when it reports the pinned version;
 *   3. the per-user tool cache, `$ISTIO_GITOPS_TOOLS_DIR` or `~/.cache/istio-gitops/tools/<tool>/<version>/`;
 *   4. installing the pinned version into that cache: `go install` when Go is there, otherwise the
 *      release download, verified against its pinned sha256.
 * Installs go to a temporary folder that is renamed into place, so a cache entry is whole or absent.
 * Tools built from a Go module in this repository (`goSource` in pins.ts) are keyed by version and a
 * hash of that module's files: `<tool>/<version>-src<hash>/`.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { chmod, cp, mkdir, mkdtemp, rename, rm, writeFile, copyFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TOOL_PINS, type Download, type ToolName, type ToolPin } from "./pins.ts";
import { unreachable } from "../net/reachable.ts";

/** Expected duration of a first build on the 2-core CI machine, for the progress line. */
const EXPECTED_BUILD: Partial<Record<ToolName, string>> = {
  helm: "about 1-2 minutes",
  kubeconform: "about 30 seconds",
  helmfile: "about 3 minutes",
  istioctl: "about 5 minutes",
  actionlint: "about 30 seconds",
  "kube-apiserver": "about 6 minutes",
  etcd: "about 2 minutes",
  "mesh-sim": "about 4 minutes (it shares most of Istio's packages with istioctl)",
};

/**
 * `goSource` folders are relative to the repository root: the nearest folder up from this module
 * holding scripts/lib/tools/pins.ts. Walking up (not a fixed `../../..`) because the CLIs also run
 * as bundles under node_modules/.cache/ (scripts/launch.mjs), where this module's URL is the bundle's.
 */
export function findRepoRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "scripts", "lib", "tools", "pins.ts"))) return dir;
    if (path.dirname(dir) === dir) return process.cwd();
  }
}
const REPO_ROOT = findRepoRoot();

/**
 * The http(s) proxies of a GOPROXY list (`,` and `|` separated; `direct` and `off` are not
 * hosts). Go's default is proxy.golang.org.
 */
export function goProxies(goproxy: string | undefined): string[] {
  const list = (goproxy ?? "https://proxy.golang.org,direct").split(/[,|]/).map((s) => s.trim());
  return list.filter((s) => /^https?:\/\//.test(s));
}

/** zx is loaded only when a tool must be asked its version or installed: most runs need neither. */
async function zx() {
  return (await import("zx")).$;
}

export class ToolError extends Error {
  constructor(
    readonly tool: ToolName,
    readonly version: string,
    message: string,
  ) {
    super(message);
    this.name = "ToolError";
  }
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** Install when the tool is nowhere to be found (default true). */
  install?: boolean;
  /** Called with progress lines ("building helm v4.3.1 with go install ..."). */
  log?: (line: string) => void;
  /** Overrides the pin (tests use this to point at a local download server). */
  pin?: ToolPin;
  /** Where a pin's `goSource` folder is relative to (default: this repository). */
  repoRoot?: string;
}

/** The absolute folder of a pin's `goSource` module. */
export function goSourceDir(pin: ToolPin, repoRoot = REPO_ROOT): string | undefined {
  return pin.goSource ? path.resolve(repoRoot, pin.goSource) : undefined;
}

/**
 * A short hash of every file under a Go source folder (paths and contents, in sorted order), so a
 * cached binary is reused only for exactly the sources it was built from. Build output (`bin/`)
 * and editor droppings are not part of a Go build and are skipped.
 */
export function sourceHash(dir: string): string {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`Go source folder ${dir} does not exist (goSource in scripts/lib/tools/pins.ts)`);
  }
  const files = (readdirSync(dir, { recursive: true, encoding: "utf8" }) as string[])
    .map((f) => f.split(path.sep).join("/"))
    .filter((f) => !/(^|\/)(bin|\.[^/]*)(\/|$)/.test(f) && statSync(path.join(dir, f)).isFile())
    .sort();
  const hash = createHash("sha256");
  for (const f of files) {
    hash.update(`${f}\0`);
    hash.update(readFileSync(path.join(dir, f)));
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 12);
}

/** The cache folder name of a pin: its version, plus the source hash for `goSource` tools. */
export function cacheVersion(pin: ToolPin, repoRoot = REPO_ROOT): string {
  const dir = goSourceDir(pin, repoRoot);
  return dir ? `${pin.version}-src${sourceHash(dir)}` : pin.version;
}

export function toolCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ISTIO_GITOPS_TOOLS_DIR) return env.ISTIO_GITOPS_TOOLS_DIR;
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "istio-gitops", "tools");
}

export function cachedBinaryPath(
  pin: ToolPin,
  env: NodeJS.ProcessEnv = process.env,
  repoRoot = REPO_ROOT,
): string {
  return path.join(toolCacheRoot(env), pin.name, cacheVersion(pin, repoRoot), pin.name);
}

/** KUBE_APISERVER_BIN for kube-apiserver: environment variable names have no dashes. */
export function envVarFor(tool: ToolName): string {
  return `${tool.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_BIN`;
}

export function platformKey(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  return `${process.platform}-${arch}`;
}

function normalizeVersion(v: string): string {
  return v.replace(/^v/, "");
}

/** The pinned version itself, or one the pin declares compatible (same analyzer line). */
export function versionAccepted(reported: string, pin: ToolPin): boolean {
  const v = normalizeVersion(reported);
  return v === normalizeVersion(pin.version) || (pin.compatibleVersions?.test(v) ?? false);
}

/** Runs the tool's version command and extracts the version it reports. */
export async function reportedVersion(bin: string, pin: ToolPin): Promise<string | undefined> {
  try {
    // helmfile checks GitHub for a newer release unless told not to; there may be no network.
    const env = { ...process.env, HELMFILE_UPGRADE_NOTICE_DISABLED: "true" };
    const $ = await zx();
    const { stdout, stderr } = await $({ quiet: true, env, timeout: "20s" })`${bin} ${pin.versionArgs}`;
    return pin.versionPattern.exec(`${stdout}\n${stderr}`)?.[0];
  } catch {
    return undefined;
  }
}

function installHint(pin: ToolPin): string {
  const ld = pin.ldflags ? ` -ldflags='${pin.ldflags}'` : "";
  const build = pin.goSource
    ? `run \`pnpm tools ${pin.name}\` (builds it with Go from ${pin.goSource})`
    : pin.goReplace?.length
      ? "run `pnpm tools` (builds it with Go from a wrapper module)"
      : `run \`pnpm tools\` (builds it with Go), or \`GOBIN=${path.dirname(cachedBinaryPath(pin))} go install${ld} ${pin.goPackage}@${pin.goVersion}\``;
  const dl = pin.downloads[platformKey()]?.url;
  const other = dl
    ? `download ${dl} and set ${envVarFor(pin.name)}=/path/to/${pin.name}`
    : `put ${pin.compatibleVersions ? `an ${pin.name} release matching ${pin.compatibleVersions.source}` : `${pin.name} ${pin.version}`} on PATH, or set ${envVarFor(pin.name)}=/path/to/${pin.name}`;
  return `${build}, or ${other}`;
}

async function which(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

const inFlight = new Map<string, Promise<string>>();

/** Where install lines go when the caller passes no `log` (a CLI with progress enabled sets it). */
let defaultLog: (line: string) => void = () => {};
export function setToolLog(log: (line: string) => void): void {
  defaultLog = log;
}

export async function resolveTool(name: ToolName, options: ResolveOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const pin = options.pin ?? TOOL_PINS[name];
  const explicit = env[envVarFor(name)];
  if (explicit) {
    if (!existsSync(explicit)) {
      throw new ToolError(
        name,
        pin.version,
        `${envVarFor(name)}=${explicit} does not exist; unset it or point it at a ${name} ${pin.version} binary`,
      );
    }
    return explicit;
  }
  const onPath = await which(name, env);
  if (onPath) {
    const v = await reportedVersion(onPath, pin);
    if (v && versionAccepted(v, pin)) return onPath;
  }
  const repoRoot = options.repoRoot ?? REPO_ROOT;
  let cached: string;
  try {
    cached = cachedBinaryPath(pin, env, repoRoot);
  } catch (e) {
    throw new ToolError(name, pin.version, (e as Error).message);
  }
  if (existsSync(cached)) return cached;
  if (options.install === false) {
    throw new ToolError(name, pin.version, `${name} ${pin.version} is not installed; ${installHint(pin)}`);
  }
  // One install per tool and process even when many callers ask at once.
  const key = `${name}@${pin.version}@${cached}`;
  let pending = inFlight.get(key);
  if (!pending) {
    pending = install(pin, cached, env, repoRoot, options.log ?? defaultLog).finally(() =>
      inFlight.delete(key),
    );
    inFlight.set(key, pending);
  }
  return pending;
}

async function install(
  pin: ToolPin,
  target: string,
  env: NodeJS.ProcessEnv,
  repoRoot: string,
  log: (line: string) => void,
): Promise<string> {
  const versionDir = path.dirname(target);
  await mkdir(path.dirname(versionDir), { recursive: true });
  const staging = await mkdtemp(path.join(path.dirname(versionDir), `.${path.basename(versionDir)}-`));
  try {
    const go = await which("go", env);
    if (go) {
      await goInstall(go, pin, staging, env, repoRoot, log);
    } else if (pin.goSource) {
      throw new ToolError(
        pin.name,
        pin.version,
        `${pin.name} is built from ${pin.goSource} with Go, and no \`go\` is on PATH: install Go 1.26+, or ${installHint(pin)}`,
      );
    } else {
      await downloadInstall(pin, staging, log);
    }
    await chmod(path.join(staging, pin.name), 0o755);
    if (!existsSync(target)) {
      await rm(versionDir, { recursive: true, force: true });
      await rename(staging, versionDir);
    }
    return target;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function goInstall(
  go: string,
  pin: ToolPin,
  gobin: string,
  env: NodeJS.ProcessEnv,
  repoRoot: string,
  log: (l: string) => void,
) {
  const goEnv: NodeJS.ProcessEnv = { ...env, GOBIN: gobin, GOFLAGS: "-buildvcs=false" };
  // Offline, go would wait on the proxy's connect timeout for every module; probe it once and,
  // when it cannot be reached, build from the module cache alone (GOPROXY=off), which either
  // works at once or fails at once with the reason below.
  const proxies = goProxies(env.GOPROXY);
  const down = proxies.length ? await unreachable(proxies) : [];
  let proxyNote = "";
  if (proxies.length && down.length === proxies.length) {
    goEnv.GOPROXY = "off";
    proxyNote = `\nThe Go module proxy ${down.map((d) => `${d.url} (${d.reason})`).join(", ")} is unreachable, so only Go's module cache was used. Offline: set ${envVarFor(pin.name)} to a ${pin.name} ${pin.version} binary, or GOPROXY to a reachable module proxy.`;
    log(`the Go module proxy is unreachable; building ${pin.name} from the module cache only`);
  }
  const expected = EXPECTED_BUILD[pin.name] ? ` (${EXPECTED_BUILD[pin.name]} the first time)` : "";
  const ldflags = pin.ldflags ? [`-ldflags=${pin.ldflags}`] : [];
  const $ = await zx();
  const go$ = (cwd?: string) => $({ quiet: true, env: goEnv, timeout: "30m", ...(cwd ? { cwd } : {}) });
  try {
    const sourceDir = goSourceDir(pin, repoRoot);
    if (sourceDir) {
      // A copy, so the build cannot write into the repository (go.sum stays as committed: the
      // default -mod=readonly fails on a missing entry instead of fetching one).
      const copy = await mkdtemp(path.join(os.tmpdir(), `${pin.name}-src-`));
      try {
        await cp(sourceDir, copy, { recursive: true });
        log(
          `building ${pin.name} ${pin.version}${expected} from ${pin.goSource}: go build -trimpath -o ${pin.name} ${pin.goPackage}`,
        );
        await go$(copy)`${go} build -trimpath ${ldflags} -o ${path.join(gobin, pin.name)} ${pin.goPackage}`;
      } finally {
        await rm(copy, { recursive: true, force: true });
      }
    } else if (pin.goReplace?.length) {
      const wrapper = await mkdtemp(path.join(os.tmpdir(), `${pin.name}-build-`));
      try {
        await writeFile(
          path.join(wrapper, "go.mod"),
          `module local/${pin.name}-build\n\ngo 1.24\n\nreplace (\n${pin.goReplace.map((r) => `\t${r}`).join("\n")}\n)\n`,
        );
        await writeFile(
          path.join(wrapper, "tools.go"),
          `//go:build tools\n\npackage tools\n\nimport _ "${pin.goPackage}"\n`,
        );
        log(
          `building ${pin.name} ${pin.version}${expected} from a wrapper module with the replace lines pinned in pins.ts: go get ${pin.goPackage}@${pin.goVersion}`,
        );
        // `go get` takes the package path and finds its module (istio.io/istio is two elements deep,
        // github.com/helmfile/helmfile three).
        await go$(wrapper)`${go} get ${`${pin.goPackage}@${pin.goVersion}`}`;
        await go$(
          wrapper,
        )`${go} build -trimpath ${ldflags} -o ${path.join(gobin, pin.name)} ${pin.goPackage}`;
      } finally {
        await rm(wrapper, { recursive: true, force: true });
      }
    } else {
      const args = ["install", "-trimpath", ...ldflags, `${pin.goPackage}@${pin.goVersion}`];
      log(`building ${pin.name} ${pin.version}${expected}: go ${args.join(" ")}`);
      await go$()`${go} ${args}`;
    }
  } catch (e) {
    const stderr = String((e as { stderr?: string }).stderr ?? (e as Error).message)
      .trim()
      .split("\n")
      .slice(-5)
      .join("\n");
    throw new ToolError(
      pin.name,
      pin.version,
      `could not build ${pin.name} ${pin.version} with ${pin.goSource ? `go build in ${pin.goSource}` : "go install"}:\n${stderr}${proxyNote}\nFix: ${pin.goSource && /go mod tidy|missing go\.sum/.test(stderr) ? `run \`go mod tidy\` in ${pin.goSource} and commit go.mod and go.sum; then ` : ""}${installHint(pin)}`,
    );
  }
  if (!existsSync(path.join(gobin, pin.name))) {
    throw new ToolError(
      pin.name,
      pin.version,
      `go install finished but produced no ${pin.name} binary in ${gobin}`,
    );
  }
}

export async function downloadInstall(
  pin: ToolPin,
  dir: string,
  log: (l: string) => void,
  platform = platformKey(),
) {
  const dl: Download | undefined = pin.downloads[platform];
  if (!dl)
    throw new ToolError(
      pin.name,
      pin.version,
      `no ${pin.name} ${pin.version} release is pinned for ${platform}; install Go and run \`pnpm tools\``,
    );
  if (!dl.sha256) {
    throw new ToolError(
      pin.name,
      pin.version,
      `refusing to download ${dl.url}: no sha256 is pinned for it in scripts/lib/tools/pins.ts. Install Go (then \`pnpm tools\` builds ${pin.name}), or add the checksum published with the release`,
    );
  }
  const down = await unreachable([dl.url]);
  if (down.length)
    throw new ToolError(
      pin.name,
      pin.version,
      `cannot download ${dl.url}: ${down[0]!.reason}. Offline: set ${envVarFor(pin.name)} to a ${pin.name} ${pin.version} binary (or copy one to ${cachedBinaryPath(pin)}); online: ${installHint(pin)}`,
    );
  log(`downloading ${pin.name} ${pin.version} from ${dl.url}`);
  let body: Buffer;
  try {
    // Reachable but stalling: a release archive takes seconds, not minutes.
    const res = await fetch(dl.url, { signal: AbortSignal.timeout(300_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = Buffer.from(await res.arrayBuffer());
  } catch (e) {
    throw new ToolError(
      pin.name,
      pin.version,
      `could not download ${dl.url}: ${(e as Error).message}. Fix: ${installHint(pin)}`,
    );
  }
  const actual = createHash("sha256").update(body).digest("hex");
  if (actual !== dl.sha256) {
    throw new ToolError(
      pin.name,
      pin.version,
      `checksum mismatch for ${dl.url}: expected ${dl.sha256}, got ${actual}; the download was discarded`,
    );
  }
  const archive = path.join(dir, "archive.tar.gz");
  await writeFile(archive, body);
  const extract = path.join(dir, "extract");
  await mkdir(extract);
  const $ = await zx();
  await $({ quiet: true })`tar -xzf ${archive} -C ${extract}`;
  const inner = path.join(extract, pin.archiveBinary(platform));
  if (!existsSync(inner))
    throw new ToolError(
      pin.name,
      pin.version,
      `the archive from ${dl.url} has no ${pin.archiveBinary(platform)}`,
    );
  await copyFile(inner, path.join(dir, pin.name));
  await rm(extract, { recursive: true, force: true });
  await rm(archive, { force: true });
}
