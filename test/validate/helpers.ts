/** Shared set-up of the validator tests: real kubeconform against the offline schema mirror. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { resolveConfig, type ValidateConfig } from "../../scripts/lib/validate/config.ts";
import {
  validateScopes,
  type FileInput,
  type RuleFilter,
  type Scope,
  type ValidationResult,
} from "../../scripts/lib/validate/engine.ts";
import type { RepoFacts } from "../../scripts/lib/validate/rule.ts";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/**
 * The offline mirror (shared/): where VALIDATE_SCHEMA_ROOT points (`.ci/run` sets it, also for a
 * clone made away from shared/), else beside the repository.
 */
export const SHARED_DIR = process.env.VALIDATE_SCHEMA_ROOT
  ? path.dirname(path.resolve(REPO_ROOT, process.env.VALIDATE_SCHEMA_ROOT))
  : path.resolve(REPO_ROOT, "../shared");
export const SCHEMA_ROOT = path.join(SHARED_DIR, "schemas");
export const CRD_DIR = path.join(SHARED_DIR, "crds");
export const FIXTURES = path.join(REPO_ROOT, "test/validate/fixtures");
export const TSX = path.join(REPO_ROOT, "node_modules/.bin/tsx");

process.env.VALIDATE_SCHEMA_ROOT = SCHEMA_ROOT;
/** The offline chart mirror (shared/charts), for the platform render; `.ci/run` sets CHART_MIRROR. */
export const CHART_MIRROR = process.env.CHART_MIRROR ?? path.join(SHARED_DIR, "charts");
process.env.CHART_MIRROR = CHART_MIRROR;
// The CLI caches kubeconform verdicts per user; tests (and the CLIs they start) keep theirs apart.
// One folder for every run (workers end without exit hooks, so per-run folders would pile up);
// tests that look at the cache itself use folders of their own.
process.env.VALIDATE_CACHE_DIR ??= path.join(os.tmpdir(), "istio-gitops-validate-cache-test");

export function testConfig(raw: Record<string, unknown> = {}): ValidateConfig {
  return resolveConfig(REPO_ROOT, raw, { VALIDATE_SCHEMA_ROOT: SCHEMA_ROOT });
}

/** A repository as the fixtures assume it: rendered folders of cluster primary, a declared remote. */
export const FIXTURE_REPO: RepoFacts = {
  pathExists: (p) => p.startsWith("clusters/primary/rendered/") || p === "apps/chart",
  clusterNames: new Set(["remote"]),
  clusterServers: new Set(),
  repoURLs: new Set(["https://git.example.com/workshop.git"]),
  meshClusterIDs: new Set(["primary", "remote"]),
  // What an images workflow like .github/workflows/images.yaml reads as: two services, the
  // appVersion tag and per-commit tags.
  publishedImages: {
    workflow: ".github/workflows/images.yaml",
    repositories: ["ghcr.io/acme/web", "ghcr.io/acme/worker"],
    tags: [
      { tag: "1.4.0", why: "every push to main, from ${{ steps.name.outputs.version }}" },
      { pattern: "sha-[0-9a-f]{7}", why: "every pushed commit" },
    ],
    unresolved: [],
  },
};

export function fileInput(abs: string, shown = path.relative(REPO_ROOT, abs)): FileInput {
  return { file: shown, text: readFileSync(abs, "utf8"), kind: "manifests" };
}

export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else if (/\.ya?ml$/.test(e)) out.push(p);
  }
  return out;
}

export function pathScope(files: FileInput[], repo?: RepoFacts): Scope {
  const config = testConfig();
  return {
    files,
    complete: false,
    platform: {
      gateways: [],
      opaqueNamespaces: new Set(),
      rootNamespace: config.rootNamespace,
      clusterDomain: config.clusterDomain,
    },
    ...(repo ? { repo } : {}),
  };
}

export function run(
  scopes: Scope[],
  filter: RuleFilter = {},
  config = testConfig(),
): Promise<ValidationResult> {
  return validateScopes(scopes, config, filter);
}
