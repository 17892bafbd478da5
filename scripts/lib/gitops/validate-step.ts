/**
 * The validation gate of promote and rollback. It calls the project's validator
 * (`scripts/lib/validate/index.ts`, `validateRepo`) when that module exists; until then it falls
 * back to a render-only check (the cluster composes and renders) and says so in its outcome.
 * Errors block the commit; warnings are reported.
 */
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { RefusalError } from "../cli/run-main.ts";
import { FindingsError, formatFindingLine, type Finding } from "../findings.ts";
import { writeFileAtomically, writeTreeAtomically, type FileTree } from "../fs/tree.ts";
import { renderClusters } from "../render/pipeline.ts";
import type { RenderDeps } from "../render/render.ts";
import type { WriteGate } from "./git.ts";

export interface ValidationOutcome {
  mode: "validate" | "render-only";
  errors: number;
  warnings: number;
  findings: Finding[];
  /** Explanations a reviewer should read (fallback in use, demoted findings). */
  notes: string[];
  /** One line: "validate: 0 errors, 2 warnings". */
  summary: string;
}

export interface ValidateStepOptions {
  clusters: string[];
  /** Validate the clusters at this chapter only (promote and rollback always name one). */
  chapter?: string;
  env?: NodeJS.ProcessEnv;
  renderDeps?: RenderDeps;
  /**
   * Clusters whose rendered output was restored from a tag (rollback) and may legitimately differ
   * from what today's sources render: "rendered output is stale" findings for them become warnings.
   */
  restoredClusters?: string[];
  /** Path of the validator module; defaults to scripts/lib/validate/index.ts. Tests point it elsewhere. */
  modulePath?: string;
  /** The server layer's options (validate/server-step.ts: a promotion's starting chapter). */
  server?: { promotionFrom?: string; env?: NodeJS.ProcessEnv };
}

interface ValidatorModule {
  validateRepo(
    root: string,
    options: {
      clusters?: string[];
      chapter?: string;
      env?: NodeJS.ProcessEnv;
      renderDeps?: RenderDeps;
      cacheRoot?: string;
      server?: { promotionFrom?: string; env?: NodeJS.ProcessEnv };
    },
  ): Promise<{ findings: Finding[]; summary: { errors: number; warnings: number } }>;
}

/**
 * The validator module a command should use: an explicit path (tests), else `$GITOPS_VALIDATOR_MODULE`
 * (debugging, or a fixture repository the real rules do not fit), else the project's own.
 */
export function validatorModule(o: { validatorPath?: string; env?: NodeJS.ProcessEnv }): {
  modulePath?: string;
} {
  const p = o.validatorPath ?? (o.env ?? process.env).GITOPS_VALIDATOR_MODULE;
  return p ? { modulePath: p } : {};
}

export function defaultValidatorPath(): string {
  return fileURLToPath(new URL("../validate/index.ts", import.meta.url));
}

export async function validateStep(root: string, options: ValidateStepOptions): Promise<ValidationOutcome> {
  const modulePath = options.modulePath;
  if (modulePath !== undefined && !existsSync(modulePath)) return renderOnly(root, options);
  // The project's own validator by a literal specifier: under `node scripts/launch.mjs` the CLI
  // is one esbuild bundle, where a path computed from import.meta.url would point nowhere.
  const mod = (
    modulePath === undefined
      ? await import("../validate/index.ts")
      : await import(pathToFileURL(modulePath).href)
  ) as Partial<ValidatorModule> & {
    validateCacheRoot?: (env?: NodeJS.ProcessEnv) => string;
  };
  if (typeof mod.validateRepo !== "function") {
    throw new Error(`${modulePath} does not export validateRepo(root, options)`);
  }
  // The per-user cache, as `pnpm validate` uses it: unchanged platform charts are not re-rendered.
  const cacheRoot = mod.validateCacheRoot?.(options.env);
  const result = await mod.validateRepo(root, {
    ...(cacheRoot ? { cacheRoot } : {}),
    clusters: options.clusters,
    ...(options.chapter !== undefined ? { chapter: options.chapter } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.renderDeps ? { renderDeps: options.renderDeps } : {}),
    ...(options.server ? { server: options.server } : {}),
  });
  const notes: string[] = [];
  if (options.server?.promotionFrom)
    notes.push(
      `server layer: chapter ${options.server.promotionFrom} applied to a private kube-apiserver, then this chapter dry-run on top (server/* findings)`,
    );
  const findings = result.findings.map((f) => {
    if (f.severity === "error" && isRestoredStaleness(f, options.restoredClusters ?? [])) {
      notes.push(`demoted to a warning (output restored from a tag): ${formatFindingLine(f)}`);
      return { ...f, severity: "warning" as const };
    }
    return f;
  });
  return outcome("validate", findings, notes);
}

/** A finding that only says "the committed rendered output is not what the sources render now". */
function isRestoredStaleness(f: Finding, clusters: readonly string[]): boolean {
  return (
    /rendered|fresh|stale/i.test(f.rule) &&
    clusters.some(
      (c) => f.file === `clusters/${c}/cluster.yaml` || f.file.startsWith(`clusters/${c}/rendered`),
    )
  );
}

async function renderOnly(root: string, options: ValidateStepOptions): Promise<ValidationOutcome> {
  const notes = [
    "scripts/lib/validate is not available yet: only checked that the cluster composes and renders (no schema or Istio rules)",
  ];
  try {
    await renderClusters(
      root,
      { clusters: options.clusters, ...(options.chapter !== undefined ? { chapter: options.chapter } : {}) },
      ...(options.renderDeps ? [options.renderDeps] : []),
    );
    return outcome("render-only", [], notes);
  } catch (e) {
    if (e instanceof FindingsError) return outcome("render-only", e.findings, notes);
    throw e;
  }
}

function outcome(mode: ValidationOutcome["mode"], findings: Finding[], notes: string[]): ValidationOutcome {
  const errors = findings.filter((f) => f.severity === "error").length;
  const warnings = findings.filter((f) => f.severity === "warning").length;
  const label = mode === "validate" ? "validate" : "render-only check";
  return {
    mode,
    errors,
    warnings,
    findings,
    notes,
    summary: `${label}: ${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`,
  };
}

/** Refuses the change when validation found errors, listing the first ones. */
export function assertValid(v: ValidationOutcome, what: string): void {
  if (v.errors === 0) return;
  const lines = v.findings.filter((f) => f.severity === "error").slice(0, 20);
  throw new RefusalError(
    `validation failed (${v.summary}); the ${what} was not committed:\n` +
      lines.map((f) => `  ${formatFindingLine(f)}`).join("\n"),
  );
}

export interface ClusterState {
  /** Absolute path of clusters/<name>/cluster.yaml and its new text. */
  clusterFile: string;
  clusterText: string;
  /** Absolute path of clusters/<name>/rendered/ and its new files. */
  renderedDir: string;
  files: FileTree;
}

/**
 * The change step shared by promote and rollback: write the cluster's pin and rendered tree (each
 * atomically), then validate the result; errors refuse the change (the caller's commitChange undoes
 * the writes).
 */
export async function writeAndValidate(
  root: string,
  state: ClusterState,
  options: ValidateStepOptions,
  what: string,
  log: (line: string) => void,
  /** Interrupt guard: each write finishes before an undo runs (validation, a read, does not). */
  gate?: WriteGate,
): Promise<ValidationOutcome> {
  const write = <T>(fn: () => Promise<T>) => (gate ? gate.write(fn) : fn());
  await write(() => writeFileAtomically(state.clusterFile, state.clusterText));
  await write(() => writeTreeAtomically(state.renderedDir, state.files));
  log("validating ...");
  const validation = await validateStep(root, options);
  assertValid(validation, what);
  return validation;
}
