/**
 * `pnpm validate --explain <cluster> <chapter> <from> <url>`: one request through the configuration
 * istiod would send to each proxy, hop by hop: an offline `istioctl proxy-config` + `x describe`.
 * The same composition, render and helper as the behaviour layer, for a request typed by hand.
 */
import { UsageError } from "../cli/run-main.ts";
import { loadConfig, type ValidateConfig } from "../validate/config.ts";
import { collectRepo } from "../validate/repo-mode.ts";
import { loadRepo } from "../model/repo.ts";
import { openPlatform } from "../render/platform-input.ts";
import type { ExpectRequest } from "../model/types.ts";
import { formatTrace } from "./compare.ts";
import { findHelper, simInputOf } from "./layer.ts";
import { makeTestKeys } from "./request.ts";
import { runSim } from "./sim.ts";
import type { SimResult } from "./protocol.ts";

export interface ExplainRequest {
  cluster: string;
  chapter: string;
  /** "<namespace>/<workload>", or "gateway:<namespace>/<workload>" for a call from outside into a gateway. */
  from: string;
  url: string;
  method?: string;
  headers?: Record<string, string>;
}

export interface Explained {
  result: SimResult;
  /** The hop trace, then the helper's hops as JSON (every field it reported). */
  text: string;
}

const REF = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function parseFrom(from: string): ExpectRequest["from"] {
  const gateway = from.startsWith("gateway:");
  const ref = gateway ? from.slice("gateway:".length) : from;
  if (!REF.test(ref))
    throw new UsageError(
      `--explain: '${from}' is not a source; give <namespace>/<workload> (e.g. workshop/curl) or gateway:<namespace>/<workload> (e.g. gateway:istio-ingress/istio-ingress)`,
    );
  const [namespace, name] = ref.split("/") as [string, string];
  return { kind: gateway ? "gateway" : "workload", namespace, name };
}

export async function explain(
  root: string,
  req: ExplainRequest,
  options: { env?: NodeJS.ProcessEnv; platform?: boolean } = {},
): Promise<Explained> {
  const env = options.env ?? process.env;
  if (!/^(https?|tcp):\/\/[^/:?#]+(:[0-9]+)?(\/.*)?$/.test(req.url))
    throw new UsageError(
      `--explain: '${req.url}' is not a URL like http://content-generator/delay or tcp://redis:6379`,
    );
  const from = parseFrom(req.from);
  const bin = await findHelper(env);
  if (!bin)
    throw new UsageError(
      "--explain needs the mesh simulation helper: run `pnpm tools mesh-sim` once, or set MESH_SIM_BIN",
    );
  const config: ValidateConfig = loadConfig(root, env);
  const loaded = await loadRepo(root);
  if (!loaded.model) throw new UsageError("the repository model has errors; run `pnpm validate` first");
  if (!loaded.model.clusters.some((c) => c.name === req.cluster))
    throw new UsageError(
      `--explain: unknown cluster '${req.cluster}'; clusters: ${loaded.model.clusters.map((c) => c.name).join(", ")}`,
    );
  const platform =
    options.platform === false ? undefined : await openPlatform(root, { env }).catch(() => undefined);
  const { scopes } = await collectRepo(
    root,
    config,
    { clusters: [req.cluster], chapter: req.chapter },
    undefined,
    loaded,
    platform,
  );
  const scope = scopes.find((s) => s.behaviour)?.behaviour;
  if (!scope)
    throw new UsageError(`--explain: cluster ${req.cluster} does not render at chapter ${req.chapter}`);
  const request: ExpectRequest = {
    name: "explain",
    lesson: "(typed by hand)",
    from,
    request: {
      url: req.url,
      ...(req.method ? { method: req.method } : {}),
      ...(req.headers ? { headers: req.headers } : {}),
    },
    then: {},
    file: scope.chapterFile,
    chapter: scope.chapter,
    position: { file: scope.chapterFile, line: 1, column: 1 },
    thenPositions: {},
  };
  const { input } = simInputOf(
    { ...scope, expectations: { ...scope.expectations, requests: [request] } },
    makeTestKeys(),
    Math.floor(Date.now() / 1000),
  );
  const output = await runSim(input, { bin, env });
  const result = output.results.find((r) => r.id === "explain");
  if (!result) throw new Error("the mesh simulation helper returned no result for the request");
  const lines = [
    `${req.method ?? "GET"} ${req.url} from ${req.from}, ${scope.context}:`,
    formatTrace(result),
    ...(result.notEvaluable ? [`not evaluable offline: ${result.notEvaluable}`] : []),
    ...output.configErrors.map((e) => `config error: ${e.kind} ${e.namespace}/${e.name}: ${e.message}`),
    "",
    "hops (as the helper reports them):",
    JSON.stringify(result.hops, null, 2),
  ];
  return { result, text: `${lines.join("\n")}\n` };
}
