#!/usr/bin/env node
/**
 * node scripts/launch.mjs scripts/<cli>.ts [args...]
 *
 * Starts a TypeScript CLI from a single-file esbuild bundle, cached by content, instead of through
 * tsx. tsx compiles and resolves each of the ~100 modules through loader hooks on every start
 * (about a second on the 2-core CI machine); one prebuilt file starts in a fraction of that, which
 * matters for the commands people and CI run again and again (`pnpm validate`, `pnpm render`).
 *
 * The bundle lives in node_modules/.cache/istio-gitops/bundles/, named by a hash of every source
 * file under scripts/, the lock file and the Node version, so any change rebuilds it (about half a
 * second); it is written to a temp file and renamed into place. If esbuild is missing or fails,
 * the CLI runs through tsx as before: slower, never wrong.
 *
 * This file is JavaScript because it has to run before anything can compile TypeScript.
 */
// @ts-check
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BUNDLES = path.join(ROOT, "node_modules", ".cache", "istio-gitops", "bundles");
/** Bumped when the way bundles are built changes. */
const FORMAT = "1";

/**
 * The files a bundle is built from: every .ts/.json/.mjs under scripts/, sorted.
 * @param {string} dir
 * @returns {string[]}
 */
export function sourceFiles(dir = path.join(ROOT, "scripts")) {
  /** @type {string[]} */
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|cts|json|mjs|js|cjs)$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

/**
 * Where the bundle of `entry` lives: named by the entry and a hash of everything it may contain.
 * @param {string} entry path of the TypeScript entry point
 * @param {string} [root]
 * @returns {string}
 */
export function bundlePath(entry, root = ROOT) {
  const h = createHash("sha256").update(`${FORMAT}\0${process.version}\0${path.relative(root, entry)}\0`);
  for (const f of sourceFiles(path.join(root, "scripts"))) {
    h.update(path.relative(root, f)).update("\0").update(readFileSync(f)).update("\0");
  }
  // The lock file (dependency versions) and tsconfig.json (esbuild reads it) shape the bundle too.
  for (const f of ["pnpm-lock.yaml", "tsconfig.json"]) {
    const p = path.join(root, f);
    if (existsSync(p)) h.update(f).update("\0").update(readFileSync(p)).update("\0");
  }
  const name = path.basename(entry).replace(/\.[cm]?ts$/, "");
  return path.join(
    root,
    "node_modules",
    ".cache",
    "istio-gitops",
    "bundles",
    `${name}-${h.digest("hex").slice(0, 16)}.mjs`,
  );
}

/**
 * Builds the bundle with esbuild into a temp file renamed into place.
 * @param {string} entry
 * @param {string} out
 */
export async function buildBundle(entry, out) {
  const { build } = await import("esbuild");
  mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}-${Math.random().toString(16).slice(2, 10)}.tmp`;
  try {
    await build({
      entryPoints: [entry],
      outfile: tmp,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "error",
      // CommonJS dependencies call require(); an ES module bundle has none of its own.
      banner: {
        js: 'import { createRequire as __launchRequire } from "node:module"; const require = __launchRequire(import.meta.url);',
      },
    });
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
}

async function main() {
  const [entryArg] = process.argv.splice(2, 1);
  if (!entryArg) {
    console.error("usage: node scripts/launch.mjs scripts/<cli>.ts [args...]");
    process.exitCode = 2;
    return;
  }
  const entry = path.resolve(entryArg);
  let target = pathToFileURL(entry).href;
  try {
    const out = bundlePath(entry);
    if (!existsSync(out)) {
      removeStaleBundles(out);
      await buildBundle(entry, out);
    }
    target = pathToFileURL(out).href;
  } catch (e) {
    // No bundle (esbuild missing, a build error): run the sources through tsx instead.
    if (process.env.LAUNCH_DEBUG)
      console.error(`launch: running through tsx (${e instanceof Error ? e.message : String(e)})`);
    const { register } = await import("tsx/esm/api");
    register();
  }
  // Outside the try: the CLI runs once, whatever it throws.
  await import(target);
}

/**
 * Removes earlier bundles of the same CLI (exactly `<name>-<hash>.mjs`), once they are ten minutes
 * old: a process started just before an edit may still be about to load its bundle.
 * @param {string} current the bundle about to be built
 */
function removeStaleBundles(current) {
  if (!existsSync(BUNDLES)) return;
  const name = path.basename(current).replace(/-[0-9a-f]{16}\.mjs$/, "");
  const mine = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-[0-9a-f]{16}\\.mjs$`);
  const old = Date.now() - 10 * 60 * 1000;
  for (const f of readdirSync(BUNDLES)) {
    const p = path.join(BUNDLES, f);
    try {
      if (mine.test(f) && statSync(p).mtimeMs < old) rmSync(p, { force: true });
    } catch {
      // Removed meanwhile by another process.
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
