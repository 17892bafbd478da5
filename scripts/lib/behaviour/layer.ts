/**
 * The `behaviour` layer of pnpm validate: for every cluster x chapter, the chapters' expectations
 * in force there (expectations.ts) are sent to the mesh simulation helper (Istio's own config
 * generation and simulation, scripts/go/mesh-sim) together with the composed render, and each
 * result is compared with its expectation (compare.ts). A failed expectation is a finding at its
 * line in chapter.yaml with the hop trace as detail; configuration istiod would refuse is a
 * finding at the resource. Where the render holds EnvoyFilters, the helper also judges their
 * patches on the generated configuration; the verdicts go to the caller (onEnvoyFilters), and
 * `envoyfilter/match-nothing` reports from them. Outputs are cached by a hash of the input.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import type { Finding } from "../findings.ts";
import type { ExpectRequest } from "../model/types.ts";
import { ContentCache } from "../fs/content-cache.ts";
import type { Effective } from "./expectations.ts";
import { compareResult, formatTrace } from "./compare.ts";
import {
  SIM_PROTOCOL_VERSION,
  type SimEnvoyFilter,
  type SimInput,
  type SimOutput,
  type SimResult,
} from "./protocol.ts";
import { lazyTestKeys, simRequestOf, toSimRequest, type TestKeys } from "./request.ts";
import { TOOL_PINS } from "../tools/pins.ts";
import { cachedBinaryPath, cacheVersion } from "../tools/resolve.ts";
import { runSim } from "./sim.ts";

export const BEHAVIOUR_RULES = {
  expectation: "behaviour/expectation",
  configError: "behaviour/config-error",
  helper: "behaviour/helper",
  notEvaluable: "behaviour/not-evaluable",
} as const;

export interface BehaviourFile {
  /** Path shown in findings (clusters/<c>/rendered/...). */
  file: string;
  text: string;
}

/** One cluster at one chapter, as the layer needs it. */
export interface BehaviourScope {
  cluster: string;
  chapter: string;
  /** The chapter's chapter.yaml (helper-level findings point here). */
  chapterFile: string;
  /** "cluster primary at chapter 09-x" plus the pin note, as the other layers' findings say it. */
  context: string;
  clusterDomain: string;
  /** Rendered Kubernetes objects of the cluster (app, mesh, platform), one or more per file. */
  files: BehaviourFile[];
  /** Istio releases (base, istiod, gateways) the platform render lacks: the layer cannot run here. */
  unrenderedIstio?: string[];
  /** istiod's composed `meshConfig` values: used when the render holds no istio ConfigMap. */
  meshConfigValues?: Record<string, unknown>;
  expectations: Effective;
}

export type SimRunner = (input: SimInput) => Promise<SimOutput>;

export interface BehaviourOptions {
  env?: NodeJS.ProcessEnv;
  /** Folder for the output cache (`behaviour-<helper>.json`); no cache when absent. */
  cacheRoot?: string;
  /** Replaces the helper (tests of the wiring); the real helper otherwise. */
  run?: SimRunner;
  /** Seconds since the epoch for the tokens' iat/exp (tests). */
  now?: number;
  /** Called once per scope with its duration in ms and whether the cache answered (bench). */
  onScope?: (scope: BehaviourScope, ms: number, cached: boolean) => void;
  /**
   * The helper's EnvoyFilter verdicts of a scope whose render holds EnvoyFilters (the
   * `envoyfilter/match-nothing` rule reads them instead of guessing from the manifests).
   */
  onEnvoyFilters?: (scope: BehaviourScope, verdicts: SimEnvoyFilter[]) => void;
}

/** Directories of the render that are Argo CD's own objects, not the cluster's workloads and config. */
const NOT_CLUSTER_OBJECTS = /\/rendered\/(argocd|bootstrap)\//;

/**
 * Whether a rendered file holds something the helper reads (cluster.go's buildCluster): Istio
 * config, Namespaces, Services and the apps/v1 workloads. The rest of a platform render (CRDs of
 * many megabytes, dashboards in ConfigMaps) would only be hashed for the cache key and parsed by
 * the helper to be dropped: over 30 scopes that is hundreds of megabytes per run, cached or not.
 */
const READ_BY_HELPER_RE =
  /^(kind: ["']?(Namespace|Service|Deployment|StatefulSet|DaemonSet)["']?|apiVersion: ["']?[a-z0-9.-]+\.istio\.io\/\S+)\s*$/m;

function docsOf(text: string): Array<Record<string, unknown>> {
  return (factsOf(text).docs ??= parseWanted(text));
}

function parseWanted(text: string): Array<Record<string, unknown>> {
  // Only the two kinds scanRender reads: the platform render holds hundreds of other ConfigMaps
  // (dashboards among them), and parsing them all would cost more than the cached run it precedes.
  const wanted =
    /^kind: RequestAuthentication$/m.test(text) ||
    (/^kind: ConfigMap$/m.test(text) &&
      /^ {2}name: istio$/m.test(text) &&
      /^ {2}namespace: istio-system$/m.test(text));
  if (!wanted) return [];
  return parseAllDocuments(text)
    .map((d) => d.toJS() as unknown)
    .filter((o): o is Record<string, unknown> => !!o && typeof o === "object" && !Array.isArray(o));
}

/**
 * What the layer needs to know of one file's text, worked out once per run: scopes share most of
 * their files (the platform render repeats chapter after chapter), and testing and hashing them
 * again for each of 40 scopes was most of a warm run's time in this layer. Bounded, so that a
 * long-lived process (the test runner) does not keep every text it ever saw.
 */
const ENVOY_FILTER = /^kind: EnvoyFilter\s*$/m;

interface TextFacts {
  readByHelper: boolean;
  envoyFilter: boolean;
  /** sha256 of the text as the helper gets it (trimmed), for the cache key. */
  digest?: string;
  docs?: Array<Record<string, unknown>>;
}
const textFacts = new Map<string, TextFacts>();
function factsOf(text: string): TextFacts {
  let f = textFacts.get(text);
  if (!f) {
    if (textFacts.size >= 50_000) textFacts.clear();
    f = { readByHelper: READ_BY_HELPER_RE.test(text), envoyFilter: ENVOY_FILTER.test(text) };
    textFacts.set(text, f);
  }
  return f;
}
const digestOf = (text: string): string =>
  (factsOf(text).digest ??= createHash("sha256").update(text.trimEnd()).digest("hex"));

/** Whether the cluster's objects hold an EnvoyFilter: the helper then judges its patches too. */
export function hasEnvoyFilters(scope: BehaviourScope): boolean {
  return scope.files.some((f) => !NOT_CLUSTER_OBJECTS.test(f.file) && factsOf(f.text).envoyFilter);
}

/** Issuers of the render's RequestAuthentications and the istio ConfigMap's mesh config. */
export function scanRender(files: readonly BehaviourFile[]): {
  issuers: string[];
  meshConfig: Record<string, unknown> | null;
} {
  const issuers = new Set<string>();
  let meshConfig: Record<string, unknown> | null = null;
  for (const f of files) {
    for (const o of docsOf(f.text)) {
      const md = (o.metadata ?? {}) as { name?: string; namespace?: string };
      if (o.kind === "RequestAuthentication") {
        const rules = (o.spec as { jwtRules?: Array<{ issuer?: string }> } | undefined)?.jwtRules ?? [];
        for (const r of rules) if (r.issuer) issuers.add(r.issuer);
      } else if (o.kind === "ConfigMap" && md.name === "istio" && md.namespace === "istio-system") {
        const mesh = (o.data as { mesh?: string } | undefined)?.mesh;
        if (mesh) {
          const parsed = parseAllDocuments(mesh)[0]?.toJS() as unknown;
          if (parsed && typeof parsed === "object") meshConfig = parsed as Record<string, unknown>;
        }
      }
    }
  }
  return { issuers: [...issuers].sort(), meshConfig };
}

/**
 * The helper's input for one scope, and the part of it that decides the output (the cache key).
 * The key is computed first and without tokens; `input` is built (and its tokens signed, which
 * may generate the run's keys) only when read, that is when the cache has no answer.
 */
export function simInputOf(
  scope: BehaviourScope,
  keys: TestKeys | undefined,
  now: number,
): { readonly input: SimInput; key: string } {
  const { issuers, meshConfig } = scanRender(scope.files);
  const defaultIssuer = issuers.length === 1 ? issuers[0] : undefined;
  const kept = scope.files.filter((f) => !NOT_CLUSTER_OBJECTS.test(f.file) && factsOf(f.text).readByHelper);
  const base: Omit<SimInput, "jwks" | "requests" | "objects"> = {
    version: SIM_PROTOCOL_VERSION,
    clusterDomain: scope.clusterDomain,
    meshConfig: meshConfig ?? (scope.meshConfigValues ? scope.meshConfigValues : null),
    clients: scope.expectations.clients.map((c) => ({
      namespace: c.namespace,
      name: c.name,
      labels: c.labels,
      serviceAccount: c.serviceAccount,
      ...(c.sidecar !== undefined ? { sidecar: c.sidecar } : {}),
    })),
    // Only where there is something to judge: the other scopes' inputs, and so their cache keys,
    // stay what they were.
    ...(kept.some((f) => factsOf(f.text).envoyFilter) ? { envoyFilters: true as const } : {}),
  };
  // The key and the tokens change every run; what they are made from does not, and the verdicts
  // depend only on that (a valid, forged or expired token of these claims).
  const stable = {
    ...base,
    objects: kept.map((f) => digestOf(f.text)),
    jwks: keys ? issuers : [],
    requests: scope.expectations.requests.map((r) => {
      const unsigned = simRequestOf(r, () => "");
      return {
        ...unsigned,
        headers: Object.fromEntries(
          Object.entries(unsigned.headers).map(([k, v]) => [
            k,
            k === "authorization" || k === "cookie" ? "" : v,
          ]),
        ),
        spec: r.request,
      };
    }),
  };
  const key = createHash("sha256").update(JSON.stringify(stable)).digest("hex");
  let input: SimInput | undefined;
  return {
    key,
    get input(): SimInput {
      if (input) return input;
      const jwks: Record<string, string> = {};
      if (keys) for (const iss of issuers) jwks[iss] = keys.jwks;
      const requests = scope.expectations.requests.map((r) => toSimRequest(r, keys, now, defaultIssuer));
      const objects = kept.map((f) => f.text.trimEnd()).join("\n---\n");
      return (input = { ...base, objects, jwks, requests });
    },
  };
}

/** The helper binary, if it is there; never built from here (a validate run should not take minutes unannounced). */
export async function findHelper(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (env.MESH_SIM_BIN) return existsSync(env.MESH_SIM_BIN) ? env.MESH_SIM_BIN : undefined;
  try {
    const p = cachedBinaryPath(TOOL_PINS["mesh-sim"], env);
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

function finding(
  rule: string,
  severity: Finding["severity"],
  pos: { file: string; line: number; column: number },
  message: string,
  hint: string,
  extra: { context?: string; detail?: string } = {},
): Finding & { context?: string; detail?: string } {
  return { ...pos, rule, severity, anchors: [], message, hint, ...extra };
}

/** Where a rendered resource is: its file (the layout is <ns>/<kind>-<name>.yaml) and the `kind:` line. */
function resourcePosition(files: readonly BehaviourFile[], kind: string, namespace: string, name: string) {
  const lower = `${kind.toLowerCase()}-${name}.yaml`;
  const byName =
    files.find((f) => f.file.endsWith(`/${namespace}/${lower}`)) ??
    files.find((f) => new RegExp(`^kind: ${kind}$`, "m").test(f.text) && f.text.includes(`name: ${name}`));
  if (!byName) return undefined;
  const line = byName.text.split("\n").findIndex((l) => l === `kind: ${kind}`) + 1;
  return { file: byName.file, line: Math.max(line, 1), column: 1 };
}

/** Findings of one scope's output. */
export function findingsOf(scope: BehaviourScope, output: SimOutput): Finding[] {
  const out: Finding[] = [];
  const byId = new Map<string, SimResult>(output.results.map((r) => [r.id, r]));
  for (const req of scope.expectations.requests) {
    const result = byId.get(req.name);
    if (!result) {
      out.push(
        finding(
          BEHAVIOUR_RULES.helper,
          "error",
          req.position,
          `expectation '${req.name}': the simulation helper returned no result for it`,
          "a bug in the helper: run `pnpm validate --explain` for the request and report it",
          { context: scope.context },
        ),
      );
      continue;
    }
    if (result.notEvaluable) {
      out.push(
        finding(
          BEHAVIOUR_RULES.notEvaluable,
          "warning",
          req.position,
          `expectation '${req.name}' cannot be evaluated offline: ${result.notEvaluable}`,
          "give the helper what it lacks (a client under expect.clients, a JWKS), or drop the expectation with a reason",
          { context: scope.context },
        ),
      );
      continue;
    }
    const trace = formatTrace(result);
    for (const m of compareResult(req, result)) {
      const pos = req.thenPositions[m.field] ?? req.position;
      out.push(
        finding(
          BEHAVIOUR_RULES.expectation,
          "error",
          pos,
          `expectation '${req.name}' does not hold: ${describe(req)} ${m.message} (the lesson: "${req.lesson}")`,
          "fix the mesh configuration the lesson relies on, or, when the lesson changed on purpose, change the expectation (a later chapter: under expect.changes with a reason)",
          { context: scope.context, detail: trace },
        ),
      );
    }
  }
  for (const e of output.configErrors) {
    const pos = resourcePosition(scope.files, e.kind, e.namespace, e.name) ?? {
      file: scope.chapterFile,
      line: 1,
      column: 1,
    };
    out.push(
      finding(
        BEHAVIOUR_RULES.configError,
        "error",
        pos,
        `${e.kind} ${e.namespace}/${e.name}: istiod would not accept it: ${e.message}`,
        "fix the resource; istiod rejects or ignores it, so the proxies never get it",
        { context: scope.context },
      ),
    );
  }
  return out;
}

function describe(req: ExpectRequest): string {
  const from =
    req.from.kind === "gateway"
      ? `gateway ${req.from.namespace}/${req.from.name}`
      : `${req.from.namespace}/${req.from.name}`;
  return `${req.request.method ?? "GET"} ${req.request.url} from ${from}`;
}

/**
 * Runs the layer over the scopes that have expectations or EnvoyFilters. A scope with only
 * EnvoyFilters that cannot run (no helper, Istio's releases unrendered) says nothing: the
 * manifest rule judges its EnvoyFilters then.
 */
export async function runBehaviour(
  scopes: readonly BehaviourScope[],
  options: BehaviourOptions = {},
): Promise<Finding[]> {
  const env = options.env ?? process.env;
  const withRequests = scopes.filter((s) => s.expectations.requests.length > 0);
  const blind = withRequests.filter((s) => s.unrenderedIstio?.length);
  const live = scopes.filter(
    (s) => !s.unrenderedIstio?.length && (s.expectations.requests.length > 0 || hasEnvoyFilters(s)),
  );
  const liveWithRequests = live.filter((s) => s.expectations.requests.length > 0);
  const notRun: Finding[] = blind.length
    ? [
        finding(
          BEHAVIOUR_RULES.notEvaluable,
          "warning",
          blind[0]!.expectations.requests[0]!.position,
          `the behaviour layer did not run for ${blind.length} cluster x chapter scope(s): the platform render lacks Istio's releases ${[...new Set(blind.flatMap((s) => s.unrenderedIstio ?? []))].join(", ")} (gateways, istiod's mesh config), so no verdict would be sound`,
          "render the platform charts: `pnpm charts` once online, or set CHART_MIRROR to an offline chart mirror (and leave out --no-platform)",
        ),
      ]
    : [];
  if (!live.length) return notRun;
  let run = options.run;
  let helperId = "injected";
  if (!run) {
    const bin = await findHelper(env);
    if (!bin) {
      if (!liveWithRequests.length) return notRun;
      const first = liveWithRequests[0]!.expectations.requests[0]!;
      const ci = !!env.CI && env.CI !== "false";
      return [
        ...notRun,
        finding(
          BEHAVIOUR_RULES.helper,
          ci ? "error" : "warning",
          first.position,
          `the behaviour layer did not run: the mesh simulation helper is not built, so the ${liveWithRequests.reduce((n, s) => n + s.expectations.requests.length, 0)} expectation(s) of ${liveWithRequests.length} cluster x chapter scope(s) were not checked${ci ? " (an error in CI)" : ""}`,
          "run `pnpm tools mesh-sim` once (a few minutes cold, cached afterwards), or set MESH_SIM_BIN to a built helper",
        ),
      ];
    }
    run = (input) => runSim(input, { bin, env });
    helperId = env.MESH_SIM_BIN
      ? `bin-${createHash("sha256").update(bin).digest("hex").slice(0, 12)}`
      : cacheVersion(TOOL_PINS["mesh-sim"]);
  }
  const cache = options.cacheRoot
    ? await ContentCache.open<SimOutput>(
        path.join(options.cacheRoot, `behaviour-${helperId}.json`),
        (v) => !!v && typeof v === "object",
        2_000,
      )
    : ContentCache.disabled<SimOutput>();
  const needsKeys = live.some((s) => s.expectations.requests.some((r) => r.request.jwt));
  // Generated only if a helper run needs tokens: a warm run answered by the cache signs nothing.
  const keys = needsKeys ? lazyTestKeys() : undefined;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const out: Finding[] = [...notRun];
  // Two helper runs at a time: CI has two cores, more would only queue.
  const perScope: Finding[][] = live.map(() => []);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < live.length; i = next++) perScope[i] = await one(live[i]!);
  };
  const one = async (scope: BehaviourScope): Promise<Finding[]> => {
    const out: Finding[] = [];
    const started = performance.now();
    const sim = simInputOf(scope, keys, now);
    let output = cache.get(sim.key);
    const cached = output !== undefined;
    if (!output) {
      try {
        output = await run(sim.input);
      } catch (e) {
        out.push(
          finding(
            BEHAVIOUR_RULES.helper,
            "error",
            { file: scope.chapterFile, line: 1, column: 1 },
            `the mesh simulation helper failed for ${scope.context}: ${(e as Error).message}`,
            "this is a bug in the helper or a resource it cannot read; the message says which",
            { context: scope.context },
          ),
        );
        return out;
      }
      cache.set(sim.key, output);
    }
    options.onScope?.(scope, performance.now() - started, cached);
    if (output.envoyFilters) options.onEnvoyFilters?.(scope, output.envoyFilters);
    out.push(...findingsOf(scope, output));
    return out;
  };
  await Promise.all([worker(), worker()]);
  out.push(...perScope.flat());
  await cache.save().catch(() => {});
  return out;
}
