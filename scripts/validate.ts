#!/usr/bin/env tsx
/**
 * pnpm validate [PATH...|-] [--format pretty|json|sarif|github|junit] [--cluster NAME]... [--chapter N]
 *               [--rule RULE]... [--disable RULE]... [--layer LAYER]... [--max-warnings N] [--list-rules] [--no-cache]
 * pnpm validate --explain CLUSTER CHAPTER FROM URL [--method M] [--header 'name: value']...
 *
 * Without paths: the whole repository (every cluster at every chapter, rendered in memory, plus
 * the repository's own YAML). With paths: those files and folders (`-` reads standard input).
 * Exit codes: 0 no errors, 1 errors (or more warnings than --max-warnings), 2 usage or internal error.
 */
import { parseCli } from "./lib/cli/parse-cli.ts";
import { runMain, UsageError } from "./lib/cli/run-main.ts";
import { stderrProgress } from "./lib/cli/progress.ts";
import { setToolLog } from "./lib/tools/resolve.ts";
import { format, FORMATS, listRules, type Format } from "./lib/validate/format.ts";
import {
  allRuleMetas,
  exitCodeOf,
  validateCacheRoot,
  validatePaths,
  validateRepo,
} from "./lib/validate/index.ts";
import { explain } from "./lib/behaviour/explain.ts";

const HELP = `usage: pnpm validate [PATH...|-] [--format ${FORMATS.join("|")}] [--cluster NAME]... [--chapter N]
                     [--rule RULE]... [--disable RULE]... [--max-warnings N] [--list-rules] [--no-cache]
                     [--no-platform] [--remote-schemas] [--progress] [--server] [--layer LAYER]...
       pnpm validate --explain CLUSTER CHAPTER FROM URL [--method M] [--header 'name: value']...

  no PATH      validate the repository: every cluster at every chapter, plus its own YAML files,
               the platform charts included (rendered from charts.lock.yaml's packages)
  PATH...      validate these files/folders of manifests ('-' reads standard input)
  --rule       only these rules (repeatable; 'vs/*' selects an area)
  --disable    skip these rules (repeatable)
  --layer      only the rules of these layers (repeatable): yaml, schema, cel, semantic, behaviour, repo
               (behaviour: the lessons' expect: requests through Istio's own config generation)
  --explain    print one request's trace through the proxies of CLUSTER at CHAPTER, offline (an
               istioctl proxy-config + x describe): FROM is <ns>/<workload> or gateway:<ns>/<workload>,
               URL like http://content-generator/delay?ms=10; needs the helper (pnpm tools mesh-sim)
  --max-warnings N   exit 1 when there are more than N warnings
  --no-cache   send every file to kubeconform, ignoring its cached verdicts on unchanged files
  --remote-schemas  path mode: kinds the pinned schema bundle lacks are looked up at the public
               upstreams (kubeconform's default, the CRDs catalog); their hosts are probed first
  --progress   report long steps on stderr even when it is not a terminal
  --no-platform  repo mode without the platform charts (only the demo app, the mesh, the Applications)
  --server     also apply everything to a private etcd + kube-apiserver on 127.0.0.1 (each cluster's
               chapters in order, server-side apply, strict field validation): what only the real
               API server refuses (server/*). Needs \`pnpm tools kube-apiserver etcd\` (built on first use)
  schemas: the pinned bundle scripts/schemas/bundle.json.gz (pnpm schemas), unless
  environment: VALIDATE_SCHEMA_ROOT=../shared/schemas (a schema mirror), VALIDATE_CRD_DIR (CRD YAML for CEL),
               VALIDATE_CACHE_DIR (verdict cache, default ~/.cache/istio-gitops/validate),
               CHART_MIRROR (offline chart mirror; else the chart cache ~/.cache/istio-gitops/charts)`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

runMain(async () => {
  const parsed = parseCli(
    {
      format: { type: "string", short: "f", default: "pretty" },
      cluster: { type: "string", multiple: true },
      chapter: { type: "string" },
      rule: { type: "string", multiple: true },
      disable: { type: "string", multiple: true },
      "max-warnings": { type: "string" },
      "list-rules": { type: "boolean", default: false },
      "no-cache": { type: "boolean", default: false },
      "no-platform": { type: "boolean", default: false },
      "remote-schemas": { type: "boolean", default: false },
      progress: { type: "boolean", default: false },
      layer: { type: "string", multiple: true },
      explain: { type: "boolean", default: false },
      method: { type: "string" },
      header: { type: "string", short: "H", multiple: true },
      server: { type: "boolean", default: false },
    },
    HELP,
  );
  const { values, positionals } = parsed;
  const rules = allRuleMetas();
  if (values.explain) {
    const [cluster, chapter, from, url, ...extra] = positionals;
    if (!url || extra.length)
      throw new UsageError(
        `--explain takes CLUSTER CHAPTER FROM URL, e.g. --explain primary 10 workshop/curl http://content-generator/delay?ms=10\n${HELP}`,
      );
    const headers: Record<string, string> = {};
    for (const h of values.header ?? []) {
      const i = h.indexOf(":");
      if (i <= 0) throw new UsageError(`--header '${h}' is not 'name: value'`);
      headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
    }
    const out = await explain(
      process.cwd(),
      {
        cluster: cluster!,
        chapter: chapter!,
        from: from!,
        url,
        ...(values.method ? { method: values.method.toUpperCase() } : {}),
        ...(Object.keys(headers).length ? { headers } : {}),
      },
      values["no-platform"] ? { platform: false } : {},
    );
    process.stdout.write(out.text);
    return 0;
  }
  if (values["list-rules"]) {
    process.stdout.write(listRules(rules));
    return 0;
  }
  const fmt = values.format as Format;
  if (!FORMATS.includes(fmt))
    throw new UsageError(`unknown format '${values.format}'; use one of ${FORMATS.join(", ")}`);
  let maxWarnings = Infinity;
  if (values["max-warnings"] !== undefined) {
    maxWarnings = Number(values["max-warnings"]);
    if (!Number.isInteger(maxWarnings) || maxWarnings < 0)
      throw new UsageError(`--max-warnings needs a whole number, got '${values["max-warnings"]}'`);
  }
  const known = new Set(rules.map((r) => r.code));
  const layers = new Set(rules.map((r) => r.layer));
  for (const l of values.layer ?? [])
    if (!layers.has(l as never))
      throw new UsageError(`unknown layer '${l}'; layers: ${[...layers].join(", ")}`);
  // A layer is shorthand for its rules; with --rule too, either selects.
  const selected = [
    ...(values.rule ?? []),
    ...rules.filter((r) => (values.layer ?? []).includes(r.layer)).map((r) => r.code),
  ];
  for (const r of [...(values.rule ?? []), ...(values.disable ?? [])]) {
    const area = r.replace(/\/\*$/, "");
    // model/* and compose/* are the repository model's own codes (documented as repo/model).
    if (!known.has(r) && !/^(model|compose)\//.test(r) && ![...known].some((k) => k.startsWith(`${area}/`)))
      throw new UsageError(`unknown rule '${r}' (see --list-rules)`);
  }
  // Progress goes to stderr, never into the report on stdout.
  const progress =
    values.progress || process.stderr.isTTY === true
      ? stderrProgress(
          process.env.VALIDATE_PROGRESS_AFTER_MS
            ? { afterMs: Number(process.env.VALIDATE_PROGRESS_AFTER_MS) }
            : {},
        )
      : undefined;
  if (progress) setToolLog((line) => process.stderr.write(`progress: ${line}\n`));
  const filter = {
    ...(progress ? { progress } : {}),
    ...(selected.length ? { rules: selected } : {}),
    ...(values.disable ? { disable: values.disable } : {}),
    ...(values["no-cache"] ? {} : { cacheRoot: validateCacheRoot() }),
    ...(values.server ? { server: true } : {}),
  };
  let result;
  if (positionals.length) {
    if (values.cluster || values.chapter)
      throw new UsageError("--cluster and --chapter apply to repo mode only (no paths)");
    const stdin = positionals.includes("-") ? await readStdin() : undefined;
    result = await validatePaths(positionals, {
      ...filter,
      ...(stdin !== undefined ? { stdin } : {}),
      ...(values["remote-schemas"] ? { remoteSchemas: true } : {}),
    });
  } else {
    result = await validateRepo(process.cwd(), {
      ...filter,
      ...(values.cluster ? { clusters: values.cluster } : {}),
      ...(values.chapter ? { chapter: values.chapter } : {}),
      ...(values["no-platform"] ? { platform: false } : {}),
    });
  }
  process.stdout.write(format(fmt, result, rules, fmt === "pretty" && process.stdout.isTTY === true));
  const code = exitCodeOf(result, maxWarnings);
  if (code === 2 && fmt === "pretty")
    console.error("internal error in the validator (validate/internal): exit 2");
  else if (code === 1 && result.summary.errors === 0 && fmt === "pretty")
    console.error(`${result.summary.warnings} warnings, more than --max-warnings ${maxWarnings}`);
  return code;
});
