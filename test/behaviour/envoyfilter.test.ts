/**
 * `envoyfilter/match-nothing` on the configuration Istio generates: the real mesh simulation
 * helper judges each patch (generated with and without it), the rule reports the ones that change
 * nothing at their `match:` with what the proxies do have, and the manifest guesses stay for when
 * the helper has no verdict. Then the same through `pnpm validate` on a copy of the repository.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasEnvoyFilters,
  runBehaviour,
  simInputOf,
  type BehaviourScope,
} from "../../scripts/lib/behaviour/layer.ts";
import type { SimEnvoyFilter } from "../../scripts/lib/behaviour/protocol.ts";
import { runSim } from "../../scripts/lib/behaviour/sim.ts";
import { resolveMeshSim } from "../../scripts/lib/behaviour/sim-binary.ts";
import type { Scope } from "../../scripts/lib/validate/engine.ts";
import { validateRepo } from "../../scripts/lib/validate/index.ts";
import { pathScope, REPO_ROOT, run } from "../validate/helpers.ts";

const RULE = "envoyfilter/match-nothing";

const WORKLOADS = `apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: demo}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: demo}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: app, image: "example/app:1", ports: [{containerPort: 8080, name: http}]}]
---
apiVersion: v1
kind: Namespace
metadata: {name: istio-ingress}
---
apiVersion: v1
kind: Service
metadata: {name: istio-ingress, namespace: istio-ingress}
spec:
  selector: {istio: ingressgateway}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-ingress, namespace: istio-ingress}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  template:
    metadata:
      labels: {istio: ingressgateway}
      annotations: {inject.istio.io/templates: gateway}
    spec:
      containers: [{name: istio-proxy, image: auto}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: istio-ingress}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: [api.example.com]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-ingress}
spec:
  hosts: [api.example.com]
  gateways: [web]
  http: [{route: [{destination: {host: api.demo.svc.cluster.local, port: {number: 80}}}]}]
`;

const LUA = `      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.lua
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
            inlineCode: "function envoy_on_request(h) end"
`;

// Patch 0 applies; patch 1 names a port the pod does not serve (the Service port; the manifests
// can tell too); patch 2 a filter name no listener has, patch 3 a filter other inbound chains have
// (the passthrough's tcp_proxy) but not port 8080's, an HTTP port: only the generated
// configuration can tell those two.
const API_FILTER = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: api-lua, namespace: demo}
spec:
  workloadSelector: {labels: {app: api}}
  configPatches:
    - applyTo: HTTP_FILTER
      match:
        context: SIDECAR_INBOUND
        listener:
          portNumber: 8080
          filterChain:
            filter:
              name: envoy.filters.network.http_connection_manager
              subFilter: {name: envoy.filters.http.router}
${LUA}    - applyTo: HTTP_FILTER
      match:
        context: SIDECAR_INBOUND
        listener:
          portNumber: 80
          filterChain:
            filter:
              name: envoy.filters.network.http_connection_manager
              subFilter: {name: envoy.filters.http.router}
${LUA}    - applyTo: HTTP_FILTER
      match:
        context: SIDECAR_INBOUND
        listener:
          filterChain:
            filter: {name: envoy.filters.network.http_connection_managr}
${LUA}    - applyTo: NETWORK_FILTER
      match:
        context: SIDECAR_INBOUND
        listener:
          portNumber: 8080
          filterChain:
            filter: {name: envoy.filters.network.tcp_proxy}
      patch:
        operation: REMOVE
`;

// A virtual host the gateway's route configuration has, and one it does not: the manifest rule
// does not read route configurations at all.
const GATEWAY_FILTER = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: ingress-vhost, namespace: istio-ingress}
spec:
  workloadSelector: {labels: {istio: ingressgateway}}
  configPatches:
    - applyTo: VIRTUAL_HOST
      match:
        context: GATEWAY
        routeConfiguration: {vhost: {name: "api.example.com:8080"}}
      patch:
        operation: MERGE
        value: {response_headers_to_remove: [x-debug]}
    - applyTo: VIRTUAL_HOST
      match:
        context: GATEWAY
        routeConfiguration: {vhost: {name: "api.example.com:80"}}
      patch:
        operation: MERGE
        value: {response_headers_to_remove: [x-debug]}
`;

const files = [
  { file: "case/workloads.yaml", text: WORKLOADS },
  { file: "case/api-lua.yaml", text: API_FILTER },
  { file: "case/ingress-vhost.yaml", text: GATEWAY_FILTER },
];

const behaviourScope = (texts = files): BehaviourScope => ({
  cluster: "primary",
  chapter: "01-case",
  chapterFile: "chapters/01-case/chapter.yaml",
  context: "cluster primary at chapter 01-case",
  clusterDomain: "cluster.local",
  files: texts,
  expectations: { clients: [], requests: [] },
});

/** The 1-based line of the n-th `match:` in a text. */
function matchLine(text: string, n: number): number {
  const lines = text.split("\n");
  let seen = -1;
  for (let i = 0; i < lines.length; i++) if (/^\s+match:/.test(lines[i]!) && ++seen === n) return i + 1;
  throw new Error(`no match #${n}`);
}

describe("EnvoyFilter verdicts from the generated configuration", () => {
  let bin = "";
  let verdicts: SimEnvoyFilter[] = [];
  beforeAll(async () => {
    bin = await resolveMeshSim();
    const got: SimEnvoyFilter[][] = [];
    // A scope with EnvoyFilters and no expectations still runs, and hands its verdicts over.
    const findings = await runBehaviour([behaviourScope()], {
      run: (input) => runSim(input, { bin }),
      onEnvoyFilters: (_s, v) => got.push(v),
    });
    expect(findings).toEqual([]);
    expect(got).toHaveLength(1);
    verdicts = got[0]!;
  }, 1_200_000);

  const scope = (generated: boolean): Scope => ({
    ...pathScope(files.map((f) => ({ ...f, kind: "manifests" as const }))),
    complete: true,
    ...(generated
      ? { generated: { envoyFilters: new Map(verdicts.map((v) => [`${v.namespace}/${v.name}`, v])) } }
      : {}),
  });

  it("asks the helper only where there is an EnvoyFilter (the other scopes' cache keys stay)", () => {
    const without = behaviourScope(files.slice(0, 1));
    expect(hasEnvoyFilters(without)).toBe(false);
    expect(simInputOf(without, undefined, 0).input).not.toHaveProperty("envoyFilters");
    expect(simInputOf(behaviourScope(), undefined, 0).input.envoyFilters).toBe(true);
  });

  it("judges each patch: applied where it changes the proxies' configuration, not where it matches nothing", () => {
    const api = verdicts.find((v) => v.name === "api-lua")!;
    expect(api.proxies).toEqual(["demo/api"]);
    expect(api.patches.map((p) => p.applied)).toEqual([true, false, false, false]);
    expect(api.patches[3]!.contains!.join("\n")).toContain("envoy.filters.network.tcp_proxy");
    expect(api.patches[1]!.contains!.join("\n")).toContain("inbound ports 8080");
    expect(api.patches[2]!.contains!.join("\n")).toContain("envoy.filters.network.http_connection_manager");
    const gw = verdicts.find((v) => v.name === "ingress-vhost")!;
    expect(gw.proxies).toEqual(["istio-ingress/istio-ingress"]);
    expect(gw.patches.map((p) => p.applied)).toEqual([true, false]);
    expect(gw.patches[1]!.contains!.join("\n")).toContain("virtual hosts api.example.com:8080");
  });

  it("reports the patches that change nothing at their match, once, with what the proxies have", async () => {
    const r = await run([scope(true)], { rules: [RULE] });
    const hits = r.findings.filter((f) => f.rule === RULE);
    expect(hits.map((f) => `${f.file}:${f.line}`)).toEqual([
      `case/api-lua.yaml:${matchLine(API_FILTER, 1)}`,
      `case/api-lua.yaml:${matchLine(API_FILTER, 2)}`,
      `case/api-lua.yaml:${matchLine(API_FILTER, 3)}`,
      `case/ingress-vhost.yaml:${matchLine(GATEWAY_FILTER, 1)}`,
    ]);
    expect(hits[0]!.message).toContain(
      "configPatches[1] (HTTP_FILTER, context SIDECAR_INBOUND) matches nothing in the configuration istiod generates for demo/api",
    );
    expect(hits[0]!.detail).toContain("demo/api (sidecar), SIDECAR_INBOUND listeners: inbound ports 8080");
    expect(hits[1]!.detail).toContain("network filters envoy.filters.network.http_connection_manager");
    expect(hits[3]!.message).toContain("(or only merges values they already have)");
    expect(hits[3]!.detail).toContain("route configurations http.8080");
  });

  it("says nothing when the helper is not built: the manifest rule judges those EnvoyFilters", async () => {
    const env = { ...process.env, MESH_SIM_BIN: path.join(os.tmpdir(), "efsim-no-such-helper") };
    const seen: unknown[] = [];
    expect(await runBehaviour([behaviourScope()], { env, onEnvoyFilters: (_s, v) => seen.push(v) })).toEqual(
      [],
    );
    expect(seen).toEqual([]);
  });

  it("without a verdict, the manifest rule decides what it can: the port, not the filter name or the virtual host", async () => {
    const r = await run([scope(false)], { rules: [RULE] });
    const hits = r.findings.filter((f) => f.rule === RULE);
    expect(hits.map((f) => `${f.file}:${f.message}`)).toEqual([
      expect.stringMatching(
        /^case\/api-lua\.yaml:.*configPatches\[1\] matches SIDECAR_INBOUND listener port 80/,
      ),
    ]);
    expect(hits[0]!.detail).toBeUndefined();
  });
});

describe("pnpm validate on a copy of the repository", () => {
  let dir = "";
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("reports a misspelt filter name from the generated configuration, and the manifest rule alone cannot", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "efsim-repo-"));
    for (const p of ["apps/chart", "chapters", "clusters", "mesh", "helmfile.yaml", "charts.lock.yaml"])
      await cp(path.join(REPO_ROOT, p), path.join(dir, p), { recursive: true });
    const rel = "mesh/resilience/content-generator-local-rate-limit.yaml";
    const file = path.join(dir, rel);
    const text = await readFile(file, "utf8");
    const broken = text.replace(
      "name: envoy.filters.network.http_connection_manager",
      "name: envoy.filters.network.http_connection_managr",
    );
    expect(broken).not.toBe(text);
    await writeFile(file, broken);
    await resolveMeshSim();
    const cacheRoot = path.join(dir, ".cache");
    const options = {
      clusters: ["primary"],
      chapter: "14-circuit-breakers",
      rules: [RULE],
      platform: true,
      cacheRoot,
    };
    const r = await validateRepo(dir, options);
    const hits = r.findings.filter((f) => f.rule === RULE);
    expect(hits.map((f) => `${f.file}:${f.line}`)).toEqual([`${rel}:${matchLine(broken, 0)}`]);
    expect(hits[0]!.message).toContain(
      "matches nothing in the configuration istiod generates for workshop/content-generator-v1, workshop/content-generator-v2, workshop/content-generator-v3",
    );
    expect(hits[0]!.detail).toContain("network filters envoy.filters.network.http_connection_manager");
    // No helper (MESH_SIM_BIN names a missing file: the layer never builds one): the manifest
    // rule has nothing to say about filter names.
    const env = { ...process.env, MESH_SIM_BIN: path.join(dir, "no-mesh-sim") };
    const blind = await validateRepo(dir, { ...options, env });
    expect(blind.findings.filter((f) => f.rule === RULE)).toEqual([]);
  }, 900_000);
});
