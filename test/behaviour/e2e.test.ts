/**
 * The behaviour layer end to end, with the real helper (scripts/go/mesh-sim, built into the tool
 * cache on first use) on the repository's real render (helm, the platform charts from the offline
 * mirror): every expectation holds at every chapter of both clusters; each mutation of the render
 * that breaks a lesson's promise fails at least one expectation; on an empty render none passes.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Document, parseDocument } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { runBehaviour, type BehaviourScope } from "../../scripts/lib/behaviour/layer.ts";
import { runSim } from "../../scripts/lib/behaviour/sim.ts";
import { resolveMeshSim } from "../../scripts/lib/behaviour/sim-binary.ts";
import type { Finding } from "../../scripts/lib/findings.ts";
import { loadRepo } from "../../scripts/lib/model/repo.ts";
import { openPlatform } from "../../scripts/lib/render/platform-input.ts";
import { collectRepo } from "../../scripts/lib/validate/repo-mode.ts";
import { validateRepo } from "../../scripts/lib/validate/index.ts";
import { REPO_ROOT, testConfig } from "../validate/helpers.ts";

async function behaviourScopes(
  selection: { clusters?: string[]; chapter?: string } = {},
): Promise<BehaviourScope[]> {
  const loaded = await loadRepo(REPO_ROOT);
  const platform = await openPlatform(REPO_ROOT, {});
  const { scopes } = await collectRepo(REPO_ROOT, testConfig(), selection, undefined, loaded, platform);
  return scopes.flatMap((s) => (s.behaviour ? [s.behaviour] : []));
}

const failedNames = (findings: Finding[]) =>
  new Set(
    findings
      .filter((f) => f.rule.startsWith("behaviour/"))
      .map((f) => /expectation '([^']+)'/.exec(f.message)?.[1]),
  );

// Mutations reach into arbitrary rendered YAML; a typed walk would only restate the CRDs.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

/** Edits the one rendered object of `kind` named `name`; `edit` changes its parsed form in place. */
function mutate(scope: BehaviourScope, kind: string, name: string, edit: (o: Loose) => void): BehaviourScope {
  let hit = false;
  const files = scope.files.map((f) => {
    if (!new RegExp(`^kind: ${kind}$`, "m").test(f.text) || !f.text.includes(`name: ${name}`)) return f;
    const doc = parseDocument(f.text);
    const o = doc.toJS() as Loose;
    if (o?.kind !== kind || o.metadata?.name !== name) return f;
    hit = true;
    edit(o);
    return { ...f, text: new Document(o).toString() };
  });
  if (!hit) throw new Error(`no ${kind} ${name} in the render of ${scope.context}`);
  return { ...scope, files };
}

function drop(scope: BehaviourScope, kind: string, name: string): BehaviourScope {
  const files = scope.files.filter(
    (f) =>
      !(new RegExp(`^kind: ${kind}$`, "m").test(f.text) && new RegExp(`^  name: ${name}$`, "m").test(f.text)),
  );
  if (files.length === scope.files.length)
    throw new Error(`no ${kind} ${name} in the render of ${scope.context}`);
  return { ...scope, files };
}

describe("with the helper", () => {
  let bin = "";
  const run = (scopes: BehaviourScope[]) => runBehaviour(scopes, { run: (input) => runSim(input, { bin }) });
  const byChapter = new Map<string, BehaviourScope>();

  beforeAll(async () => {
    bin = await resolveMeshSim();
    for (const s of await behaviourScopes({ clusters: ["primary"] })) byChapter.set(s.chapter, s);
  }, 900_000);

  const at = (chapter: string) => {
    const s = [...byChapter.values()].find((x) => x.chapter.startsWith(chapter));
    if (!s) throw new Error(`no scope at chapter ${chapter}`);
    return s;
  };

  it("every expectation holds at every chapter, on both clusters", async () => {
    const remote = await behaviourScopes({ clusters: ["remote"] });
    const findings = await run([...byChapter.values(), ...remote]);
    expect(findings.map((f) => `${f.file}:${f.line} ${f.message}`)).toEqual([]);
  }, 300_000);

  it("on an empty render no expectation passes", async () => {
    const scopes = [...byChapter.values()].filter((s) => s.expectations.requests.length);
    const findings = await run(scopes.map((s) => ({ ...s, files: [], meshConfigValues: undefined })));
    const failed = failedNames(findings);
    const passed = scopes
      .flatMap((s) => s.expectations.requests.map((r) => r.name))
      .filter((n) => !failed.has(n));
    expect([...new Set(passed)]).toEqual([]);
  }, 300_000);

  const MUTATIONS: Array<[string, string, (s: BehaviourScope) => BehaviourScope, string[]]> = [
    [
      "swap a subset's labels",
      "10",
      (s) =>
        mutate(s, "DestinationRule", "content-generator", (o) => {
          const [v1, v2] = o.spec.subsets;
          [v1.labels, v2.labels] = [v2.labels, v1.labels];
        }),
      ["admins-get-v2"],
    ],
    [
      "drop a header match",
      "10",
      (s) =>
        mutate(s, "VirtualService", "content-generator", (o) => {
          delete o.spec.http.find((r: { name: string }) => r.name === "admins-canary").match;
        }),
      ["content-split-90-10"],
    ],
    [
      "reorder routes",
      "10",
      (s) =>
        mutate(s, "VirtualService", "content-generator", (o) => {
          o.spec.http.unshift(o.spec.http.pop());
        }),
      ["admins-get-v2", "helper-paths-v1"],
    ],
    // The egress gateway's ServiceEntry: without it the gateway has no cluster for httpbin.org:443.
    // (Removing the workshop's own `external-api` changes no verdict: the VirtualService bound to
    // `mesh` already gives the sidecars a route for httpbin.org:80.)
    [
      "remove a ServiceEntry",
      "17",
      (s) => drop(s, "ServiceEntry", "external-api-tls"),
      ["external-api-through-egress-gateway", "egress-gateway-originates-tls"],
    ],
    [
      "weaken PeerAuthentication",
      "16",
      (s) =>
        mutate(s, "PeerAuthentication", "default", (o) => {
          o.spec.mtls.mode = "PERMISSIVE";
        }),
      ["plaintext-client-refused"],
    ],
    [
      "break a principal",
      "16",
      (s) =>
        mutate(s, "AuthorizationPolicy", "content-generator", (o) => {
          o.spec.rules[0].from[0].source.principals[0] = "cluster.local/ns/workshop/sa/frontend-portl";
        }),
      ["real-call-paths-mutual-tls"],
    ],
  ];

  for (const [what, chapter, change, expected] of MUTATIONS)
    it(`${what} (chapter ${chapter}) fails an expectation`, async () => {
      const before = failedNames(await run([at(chapter)]));
      expect([...before]).toEqual([]);
      const after = failedNames(await run([change(at(chapter))]));
      for (const name of expected) expect(after, `${what}: ${name}`).toContain(name);
    }, 120_000);
});

describe("pnpm validate's behaviour layer on a copy of the repository", () => {
  it("reports a broken promise at its line in chapter.yaml, with the trace, at every chapter it breaks", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "behaviour-repo-"));
    try {
      for (const p of ["apps/chart", "chapters", "clusters", "mesh", "helmfile.yaml", "charts.lock.yaml"])
        await cp(path.join(REPO_ROOT, p), path.join(dir, p), { recursive: true });
      // Chapter 13 without the admins' route timeout the summary promises.
      const file = path.join(dir, "chapters/13-fault-injection/chapter.yaml");
      const text = await readFile(file, "utf8");
      const broken = text.replace(
        "      - op: add\n        path: /spec/http/1/timeout\n        value: 2s\n",
        "",
      );
      expect(broken).not.toBe(text);
      await writeFile(file, broken);
      await resolveMeshSim();
      const r = await validateRepo(dir, { clusters: ["primary"], rules: ["behaviour/*"], platform: true });
      const failed = r.findings.filter((f) => f.rule === "behaviour/expectation");
      expect(failed.map((f) => `${f.file}:${f.message.split(" does not hold")[0]}`)).toEqual([
        "chapters/13-fault-injection/chapter.yaml:expectation 'admins-route-timeout'",
      ]);
      const line = broken.split("\n").findIndex((l) => l.includes("name: admins-route-timeout"));
      expect(failed[0]!.line).toBeGreaterThan(line + 1);
      expect(failed[0]!.message).toContain("route timeout is none, expected 2s");
      expect(failed[0]!.context).toContain("chapters 13-fault-injection .. 19-multicluster (7)");
      expect(failed[0]!.detail).toContain("route 'admins-canary'");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
