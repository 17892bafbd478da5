#!/usr/bin/env tsx
/**
 * pnpm bench [--sizes 1000,10000] [--runs 1] [--no-repo] [--no-behaviour] [--against REF]
 *
 * Generates synthetic meshes (services, service accounts, deployments, VirtualServices,
 * DestinationRules, AuthorizationPolicies, PeerAuthentications) into a temp dir and measures, in
 * the same run and on the same files:
 *   (a) kubeconform alone, with exactly the flags of the validator's schema layer;
 *   (b) the full `pnpm validate PATH` (every layer: YAML, kubeconform, CEL, semantics) as a child
 *       process, three times: cold (empty caches), warm (nothing changed since the last run), and
 *       with 1% of the files edited (a typical pull request); the caches are the validator's own
 *       (kubeconform verdicts and parsed YAML per file content, see schema-cache.ts).
 * Prints resources per second, peak memory (max RSS via /usr/bin/time) and the ratio.
 * Then repo mode on this repository (--no-repo skips it): `pnpm validate`
 * with the platform charts rendered, cold and warm, against `pnpm validate --no-platform` (app,
 * mesh and Applications only: what repo mode validated before the platform render) in the same
 * run. Needs the chart packages (`pnpm charts`, or CHART_MIRROR).
 * Then the behaviour layer (--no-behaviour skips it): its time per cluster x chapter, cold (the
 * helper runs) and warm (its cached output), the render not counted. Needs the helper
 * (`pnpm tools mesh-sim`); without it, the table says so.
 * With --against REF (a commit, tag or branch), also this tree's warm `pnpm validate` against
 * REF's, in the same run: on one synthetic mesh (the largest size) and on each tree's own
 * repository, runs interleaved so that a busy machine slows both alike. That is how "no slower
 * than before" is checked: the peer is the project itself, one change earlier.
 * Set VALIDATE_SCHEMA_ROOT=../shared/schemas when offline.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { runMain, UsageError } from "./lib/cli/run-main.ts";
import { loadConfig } from "./lib/validate/config.ts";
import { effectiveSchemaLocations } from "./lib/validate/schema-sources.ts";
import { validateCacheRoot } from "./lib/validate/schema-cache.ts";
import { kubeconformArgs, resolveKubeconform } from "./lib/validate/kubeconform.ts";
import { fastLoader } from "./lib/validate/source.ts";
import { findHelper, runBehaviour } from "./lib/behaviour/layer.ts";
import { loadRepo } from "./lib/model/repo.ts";
import { openPlatform } from "./lib/render/platform-input.ts";
import { collectRepo } from "./lib/validate/repo-mode.ts";

const TIME = "/usr/bin/time";
const ROOT = process.cwd();

function service(i: number, ns: string, caller: { ns: string; name: string }): string {
  const name = `svc-${i}`;
  const labels = (v: string) => `{app: ${name}, version: ${v}}`;
  const deployment = (v: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}-${v}, namespace: ${ns}, labels: ${labels(v)}}
spec:
  replicas: 2
  selector: {matchLabels: ${labels(v)}}
  template:
    metadata: {labels: ${labels(v)}}
    spec:
      serviceAccountName: ${name}
      containers:
        - name: app
          image: ghcr.io/example/${name}:${v}
          ports: [{name: http, containerPort: 8080}]
          resources: {requests: {cpu: 50m, memory: 64Mi}}`;
  return [
    `apiVersion: v1
kind: ServiceAccount
metadata: {name: ${name}, namespace: ${ns}}`,
    `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 80, targetPort: http}]`,
    deployment("v1"),
    deployment("v2"),
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}]
  http:
    - match: [{headers: {x-canary: {exact: "true"}}}]
      route: [{destination: {host: ${name}, subset: v2}}]
    - route:
        - {destination: {host: ${name}, subset: v1}, weight: 90}
        - {destination: {host: ${name}, subset: v2}, weight: 10}
      timeout: 2s
      retries: {attempts: 2, perTryTimeout: 500ms}`,
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}}
spec:
  host: ${name}
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 100, connectTimeout: 250ms}}, outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s}}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]`,
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: ${name}}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/${caller.ns}/sa/${caller.name}]}}], to: [{operation: {methods: [GET, POST]}}]}]`,
  ].join("\n---\n");
}

/** Writes a mesh of about `size` resources (7 per service, plus a Namespace and PeerAuthentication per namespace). */
async function generate(dir: string, size: number): Promise<number> {
  const perService = 7;
  const services = Math.max(1, Math.round(size / perService));
  const namespaces = Math.max(1, Math.round(services / 50));
  let count = 0;
  for (let n = 0; n < namespaces; n++) {
    const ns = `team-${n}`;
    await mkdir(path.join(dir, ns), { recursive: true });
    await writeFile(
      path.join(dir, ns, "namespace.yaml"),
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}, labels: {istio-injection: enabled}}\n---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: ${ns}}\nspec: {mtls: {mode: STRICT}}\n`,
    );
    count += 2;
  }
  for (let i = 0; i < services; i++) {
    const ns = `team-${i % namespaces}`;
    const j = i === 0 ? 0 : i - 1;
    await writeFile(
      path.join(dir, ns, `svc-${i}.yaml`),
      service(i, ns, { ns: `team-${j % namespaces}`, name: `svc-${j}` }) + "\n",
    );
    count += perService;
  }
  return count;
}

interface Measure {
  seconds: number;
  maxRssMb?: number;
  code: number;
  stdout: string;
}

/** The errors and warnings the validator reported (its JSON output), or its exit code. */
function summaryOf(m: Measure): string {
  try {
    const out = JSON.parse(m.stdout) as { summary: { errors: number; warnings: number } };
    return `${out.summary.errors} errors, ${out.summary.warnings} warnings`;
  } catch {
    return `exit ${m.code}`;
  }
}

async function manifestFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && !e.name.startsWith(".")) out.push(...(await manifestFiles(p)));
    else if (e.isFile() && e.name.endsWith(".yaml")) out.push(p);
  }
  return out.sort();
}

function measure(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd: string = ROOT,
): Promise<Measure> {
  const timed = existsSync(TIME);
  const [bin, argv] = timed ? [TIME, ["-f", "__TIME__ %e %M", cmd, ...args]] : [cmd, args];
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      bin,
      argv,
      { cwd, maxBuffer: 1 << 30, env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        const seconds = (performance.now() - started) / 1000;
        const m = /__TIME__ ([\d.]+) (\d+)/.exec(stderr);
        resolve({
          seconds: m ? Number(m[1]) : seconds,
          ...(m ? { maxRssMb: Number(m[2]) / 1024 } : {}),
          code: err ? Number((err as { code?: number }).code ?? 1) : 0,
          stdout,
        });
      },
    );
  });
}

const HELP = `usage: pnpm bench [--sizes 1000,10000] [--runs 1] [--no-repo] [--no-behaviour] [--against REF]

Measures kubeconform alone against \`pnpm validate PATH\` (cold, warm, 1% edited) on synthetic
meshes of each size, then repo mode with and without the platform charts, and with --server
(--no-repo skips repo mode), then the behaviour layer per cluster x chapter, cold and warm
(--no-behaviour skips it). --against REF also compares this tree's warm \`pnpm validate\` with
REF's (a commit, tag or branch), on the largest synthetic mesh and on each tree's repository.
Set VALIDATE_SCHEMA_ROOT=../shared/schemas when offline.`;

runMain(async () => {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        sizes: { type: "string", default: "1000,10000" },
        runs: { type: "string", default: "1" },
        "no-repo": { type: "boolean", default: false },
        "no-behaviour": { type: "boolean", default: false },
        against: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${HELP}`);
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const sizes = values.sizes.split(",").map(Number);
  const runs = Number(values.runs);
  if (sizes.some((s) => !Number.isInteger(s) || s < 10) || !Number.isInteger(runs) || runs < 1)
    throw new UsageError("--sizes takes whole numbers >= 10, --runs a whole number >= 1");
  // The locations `pnpm validate PATH` uses (the pinned bundle unless a mirror or list is set).
  const loaded = loadConfig(ROOT);
  const config = {
    ...loaded,
    schemaLocations: await effectiveSchemaLocations(loaded, "paths", validateCacheRoot()),
  };
  const kubeconform = await resolveKubeconform();
  // As `pnpm validate` runs it: through the launcher's cached bundle, built here once beforehand
  // (a source change costs one rebuild of about half a second, not counted below).
  const launch = [path.join(ROOT, "scripts/launch.mjs"), path.join(ROOT, "scripts/validate.ts")];
  await measure(process.execPath, [...launch, "--help"]);
  const rows: string[][] = [];
  const parser = (await fastLoader())
    ? "js-yaml fast path"
    : "yaml package only (add js-yaml for the fast path)";
  console.log(
    `schema locations: ${config.schemaSource === "env" ? "VALIDATE_SCHEMA_ROOT (offline mirror)" : config.schemaLocations.join(", ")}; ${os.availableParallelism()} CPUs; ${runs} run(s) each, best kept; YAML parser: ${parser}\n`,
  );
  for (const size of sizes) {
    const dir = await mkdtemp(path.join(os.tmpdir(), `bench-${size}-`));
    try {
      const resources = await generate(dir, size);
      const best = async (cmd: string, args: string[]) => {
        let result: Measure | undefined;
        for (let r = 0; r < runs; r++) {
          const m = await measure(cmd, args);
          if (!result || m.seconds < result.seconds) result = m;
        }
        return result!;
      };
      const kc = await best(
        kubeconform,
        kubeconformArgs([dir], {
          schemaLocations: config.schemaLocations,
          kubernetesVersion: config.kubernetesVersion,
          skipKinds: [],
        }),
      );
      // The validator's caches live in a folder of this run only, so "cold" really is cold.
      const cacheDir = path.join(dir, ".validate-cache");
      const validate = async (label: string, prepare: () => Promise<void>) => {
        let result: Measure | undefined;
        for (let r = 0; r < runs; r++) {
          await prepare();
          const m = await measure(process.execPath, [...launch, dir, "--format", "json"], {
            VALIDATE_CACHE_DIR: cacheDir,
          });
          if (!result || m.seconds < result.seconds) result = m;
        }
        return { label, m: result! };
      };
      const files = await manifestFiles(dir);
      let edits = 0;
      const runsOfValidate = [
        await validate("pnpm validate, cold (empty caches)", () =>
          rm(cacheDir, { recursive: true, force: true }),
        ),
        await validate("pnpm validate, warm (no file changed)", async () => {}),
        // A typical pull request: a few files edited since the last run.
        await validate("pnpm validate, 1% of files changed", async () => {
          edits++;
          for (const f of files.filter((_, i) => i % 100 === 0))
            await writeFile(f, `${await readFile(f, "utf8")}# edit ${edits}\n`);
        }),
      ];
      const rate = (m: Measure) => Math.round(resources / m.seconds).toLocaleString("en-US");
      const mem = (m: Measure) => (m.maxRssMb ? `${m.maxRssMb.toFixed(0)} MB` : "n/a");
      rows.push([
        String(resources),
        "kubeconform alone",
        `${kc.seconds.toFixed(2)} s`,
        rate(kc),
        mem(kc),
        "1.00",
        kc.code === 0 ? "valid" : `exit ${kc.code}`,
      ]);
      for (const { label, m } of runsOfValidate) {
        rows.push([
          String(resources),
          label,
          `${m.seconds.toFixed(2)} s`,
          rate(m),
          mem(m),
          (m.seconds / kc.seconds).toFixed(2),
          summaryOf(m),
        ]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const header = [
    "resources",
    "run",
    "wall time",
    "resources/s",
    "peak RSS",
    "time vs kubeconform",
    "result",
  ];
  const table = [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
  console.log(table);
  if (!values["no-repo"]) console.log(`\n${await repoBench(launch, runs)}`);
  if (!values["no-behaviour"]) console.log(`\n${await behaviourBench()}`);
  if (values.against) console.log(`\n${await againstBench(values.against, Math.max(...sizes), runs)}`);
  return 0;
});

/**
 * This tree's warm `pnpm validate` against REF's: REF is checked out into a temp worktree (with
 * this tree's node_modules), both validate the same synthetic mesh and then their own repository,
 * each primed once (cold) and then timed warm, alternately.
 */
async function againstBench(ref: string, size: number, runs: number): Promise<string> {
  const git = (args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile("git", args, { cwd: ROOT }, (err, stdout, stderr) =>
        err
          ? reject(new UsageError(`--against ${ref}: git ${args[0]}: ${stderr.trim() || err.message}`))
          : resolve(stdout.trim()),
      ),
    );
  const commit = await git(["rev-parse", "--verify", `${ref}^{commit}`]);
  const tmp = await mkdtemp(path.join(os.tmpdir(), "bench-against-"));
  const other = path.join(tmp, "tree");
  await git(["worktree", "add", "--detach", other, commit]);
  try {
    await symlink(path.join(ROOT, "node_modules"), path.join(other, "node_modules"));
    const mesh = path.join(tmp, "mesh");
    await mkdir(mesh);
    const resources = await generate(mesh, size);
    const trees = [
      { label: "this tree", root: ROOT },
      { label: `${ref} (${commit.slice(0, 12)})`, root: other },
    ];
    const launchOf = (root: string) => [
      path.join(root, "scripts/launch.mjs"),
      path.join(root, "scripts/validate.ts"),
    ];
    const rows = [
      ["run", ...trees.map((t) => t.label), "ratio"],
      ["---", "---", "---", "---"],
    ];
    for (const [label, args] of [
      [`\`pnpm validate PATH\`, ${resources} synthetic resources, warm`, [mesh]],
      ["`pnpm validate` on its own repository, warm", []],
    ] as const) {
      const best: Measure[] = [];
      const caches = trees.map((_, i) => path.join(tmp, `cache-${i}-${args.length}`));
      const once = (i: number) =>
        measure(
          process.execPath,
          [...launchOf(trees[i]!.root), ...args, "--format", "json"],
          { VALIDATE_CACHE_DIR: caches[i] },
          trees[i]!.root,
        );
      for (let i = 0; i < trees.length; i++) await once(i); // prime: cold, not counted
      for (let r = 0; r < runs; r++)
        for (let i = 0; i < trees.length; i++) {
          const m = await once(i);
          if (!best[i] || m.seconds < best[i]!.seconds) best[i] = m;
        }
      const [mine, theirs] = best as [Measure, Measure];
      rows.push([
        label,
        ...best.map((m) => `${m.seconds.toFixed(2)} s (${summaryOf(m)})`),
        (mine.seconds / theirs.seconds).toFixed(2),
      ]);
    }
    return `this tree against ${ref} (best of ${runs}, warm caches):\n${rows.map((r) => `| ${r.join(" | ")} |`).join("\n")}`;
  } finally {
    await git(["worktree", "remove", "--force", other]).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Repo mode on this repository: with the platform charts vs without, cold and warm caches. */
async function repoBench(launch: string[], runs: number): Promise<string> {
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), "bench-repo-"));
  try {
    const run = async (label: string, args: string[], cold: boolean) => {
      let best: Measure | undefined;
      for (let r = 0; r < runs; r++) {
        if (cold) await rm(cacheDir, { recursive: true, force: true });
        const m = await measure(process.execPath, [...launch, "--format", "json", ...args], {
          VALIDATE_CACHE_DIR: cacheDir,
        });
        if (!best || m.seconds < best.seconds) best = m;
      }
      return { label, m: best! };
    };
    const peerCold = await run("`pnpm validate --no-platform`, cold", ["--no-platform"], true);
    const peerWarm = await run("`pnpm validate --no-platform`, warm", ["--no-platform"], false);
    const cold = await run("`pnpm validate` (platform charts too), cold", [], true);
    const warm = await run("`pnpm validate` (platform charts too), warm", [], false);
    // The server layer: etcd + kube-apiserver started, every cluster's chapters applied (goal: < 60 s warm).
    const server = await run("`pnpm validate --server` (real API server too), warm", ["--server"], false);
    const resources = (m: Measure) => {
      try {
        const s = m.stdout.slice(m.stdout.indexOf("{"));
        return String((JSON.parse(s) as { summary: { resources: number } }).summary.resources);
      } catch {
        return "?";
      }
    };
    const rows = [
      ["run", "resources", "wall time", "peak RSS", "time vs --no-platform (same caches)", "result"],
      ["---", "---", "---", "---", "---", "---"],
    ];
    for (const [{ label, m }, peer] of [
      [peerCold, peerCold],
      [peerWarm, peerWarm],
      [cold, peerCold],
      [warm, peerWarm],
      [server, peerWarm],
    ] as const)
      rows.push([
        label,
        resources(m),
        `${m.seconds.toFixed(2)} s`,
        m.maxRssMb ? `${m.maxRssMb.toFixed(0)} MB` : "n/a",
        (m.seconds / peer.m.seconds).toFixed(2),
        summaryOf(m),
      ]);
    return `repo mode on this repository (every cluster x chapter):\n${rows.map((r) => `| ${r.join(" | ")} |`).join("\n")}`;
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
}

/**
 * The behaviour layer per cluster x chapter: cold (empty output cache: one helper run each) and
 * warm (the cache answers). The render happens once before and is not counted: it is the same
 * work the other layers need.
 */
async function behaviourBench(): Promise<string> {
  if (!(await findHelper(process.env)))
    return "behaviour layer: not measured, the mesh simulation helper is not built (`pnpm tools mesh-sim`)";
  const loaded = await loadRepo(ROOT);
  const config = loadConfig(ROOT);
  const platform = await openPlatform(ROOT, {}).catch(() => undefined);
  const { scopes } = await collectRepo(ROOT, config, {}, undefined, loaded, platform);
  const live = scopes.flatMap((s) => (s.behaviour?.expectations.requests.length ? [s.behaviour] : []));
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), "bench-behaviour-"));
  try {
    const times = new Map<string, { requests: number; cold?: number; warm?: number }>();
    for (const pass of ["cold", "warm"] as const) {
      await runBehaviour(live, {
        cacheRoot: cacheDir,
        onScope: (s, ms) => {
          const k = `${s.cluster} | ${s.chapter}`;
          const e = times.get(k) ?? { requests: s.expectations.requests.length };
          e[pass] = ms;
          times.set(k, e);
        },
      });
    }
    const rows = [
      ["cluster", "chapter", "requests", "cold (helper runs)", "warm (cached output)"],
      ["---", "---", "---", "---", "---"],
    ];
    let cold = 0;
    let warm = 0;
    for (const [k, e] of times) {
      cold += e.cold ?? 0;
      warm += e.warm ?? 0;
      rows.push([
        ...k.split(" | "),
        String(e.requests),
        `${((e.cold ?? 0) / 1000).toFixed(2)} s`,
        `${((e.warm ?? 0) / 1000).toFixed(3)} s`,
      ]);
    }
    rows.push([
      "all",
      `${times.size} scopes`,
      "",
      `${(cold / 1000).toFixed(2)} s`,
      `${(warm / 1000).toFixed(3)} s`,
    ]);
    return `behaviour layer per cluster x chapter (render not counted):\n${rows.map((r) => `| ${r.join(" | ")} |`).join("\n")}`;
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
}
