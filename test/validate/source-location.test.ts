/**
 * Findings at the file the user edits (issue 16): a finding on a chapter ahead of a cluster's pin
 * is located at the source that produced the node (here the chapter.yaml patch that adds the bad
 * route), in every output format, with the in-memory rendered place kept as detail.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateRepo, type ValidationResult } from "../../scripts/lib/validate/index.ts";
import { format } from "../../scripts/lib/validate/format.ts";
import { platformPosition, sameShapePath, sourcePosition } from "../../scripts/lib/validate/relocate.ts";
import { allRuleMetas } from "../../scripts/lib/validate/rules/index.ts";
import { tempCopy } from "../helpers/temp-repo.ts";
import { SCHEMA_ROOT } from "./helpers.ts";

const RENDERED = "clusters/primary/rendered/mesh/shop/virtualservice-shop.yaml";

describe("findings ahead of the pin, at their source", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let result: ValidationResult;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempCopy("../validate/fixtures/repo-mesh"));
    // The fixture's clusters pin 01-mesh; 02-canary's patch routes to a subset no rule defines.
    result = await validateRepo(dir, {
      env: { VALIDATE_SCHEMA_ROOT: SCHEMA_ROOT },
      platform: false,
      disable: ["schema/invalid", "schema/missing", "repo/rendered-stale"],
    });
  });
  afterAll(async () => cleanup());

  it("points at the chapter.yaml patch line and keeps the rendered file as detail", () => {
    expect(result.findings.map((f) => `${f.rule} ${f.file}:${f.line}`)).toEqual([
      "vs/subset-not-found chapters/02-canary/chapter.yaml:22",
    ]);
    const f = result.findings[0]!;
    expect(f.column).toBeGreaterThan(1);
    expect(f.rendered).toEqual({ file: RENDERED, line: 22, column: 13 });
    for (const x of result.findings) expect(existsSync(path.join(dir, x.file)), x.file).toBe(true);
    expect(existsSync(path.join(dir, RENDERED))).toBe(false);
  });

  it("says so in pretty, GitHub, SARIF and JUnit output", () => {
    const rules = allRuleMetas();
    const pretty = format("pretty", result, rules);
    expect(pretty).toContain("chapters/02-canary/chapter.yaml:22:");
    expect(pretty).toContain(`rendered: ${RENDERED}:22:13`);
    const github = format("github", result, rules);
    expect(github).toMatch(/^::error file=chapters\/02-canary\/chapter\.yaml,line=22,/m);
    expect(github).toContain(`(rendered as ${RENDERED}:22:13)`);
    const sarif = JSON.parse(format("sarif", result, rules)) as {
      runs: Array<{
        results: Array<{
          locations: Array<{ physicalLocation: { artifactLocation: { uri: string }; region: unknown } }>;
          relatedLocations?: Array<{ physicalLocation: { artifactLocation: { uri: string } } }>;
        }>;
      }>;
    };
    const r = sarif.runs[0]!.results[0]!;
    expect(r.locations[0]!.physicalLocation.artifactLocation.uri).toBe("chapters/02-canary/chapter.yaml");
    expect(r.relatedLocations?.[0]?.physicalLocation.artifactLocation.uri).toBe(RENDERED);
    expect(format("junit", result, rules)).toContain(`rendered as ${RENDERED}:22:13`);
  });
});

describe("sourcePosition", () => {
  const files: Record<string, string> = {
    "mesh/a.yaml":
      "apiVersion: v1\nkind: Service\nmetadata:\n  name: other\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n    - port: 80\n",
    "helmfile.yaml": "releases:\n  - name: istio\n    chart: x\n  - name: istiod\n    chart: y\n",
    "charts/app/templates/all.yaml":
      "{{- if .Values.on }}\napiVersion: v1\nkind: ConfigMap\n---\napiVersion: apps/v1\nkind: Deployment\n",
  };
  const read = (rel: string) => files[rel];
  const svc = { apiVersion: "v1", kind: "Service", name: "web", namespace: "demo", object: {} };

  it("an unpatched mesh object: the same node in its mesh file", () => {
    const object = { spec: { ports: [{ port: 80 }] } };
    expect(
      sourcePosition({ ...svc, object }, ["spec", "ports", 0, "port"], ["mesh/a.yaml (added in 01-x)"], read),
    ).toEqual({ file: "mesh/a.yaml", line: 12, column: 7 });
  });

  it("an Application: its helmfile.yaml release (the longest matching name); a chart object: its kind line", () => {
    const app = {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Application",
      name: "primary-istiod",
      object: {},
    };
    expect(sourcePosition(app, ["spec"], ["helmfile.yaml"], read)).toEqual({
      file: "helmfile.yaml",
      line: 4,
      column: 5,
    });
    const dep = { apiVersion: "apps/v1", kind: "Deployment", name: "web", object: {} };
    expect(sourcePosition(dep, [], ["./charts/app/templates/all.yaml"], read)).toEqual({
      file: "charts/app/templates/all.yaml",
      line: 6,
      column: 1,
    });
  });

  it("a platform chart's object: its release in a multi-document helmfile.yaml", () => {
    const helmfile =
      "environments:\n  primary: {}\n---\nreleases:\n  - name: jaegertracing\n  - name: jaeger\n";
    const read = (rel: string) => (rel === "helmfile.yaml" ? helmfile : undefined);
    expect(
      platformPosition("clusters/primary/rendered/platform/jaeger/observability/svc.yaml", read),
    ).toEqual({
      file: "helmfile.yaml",
      line: 6,
      column: 5,
    });
    expect(platformPosition("clusters/primary/rendered/mesh/x.yaml", read)).toBeUndefined();
  });

  it("a node a patch moved (a route inserted above it): found by its keys and value, if only one fits", () => {
    const source = {
      spec: {
        http: [
          { route: [{ destination: { subset: "v9" } }] },
          { route: [{ destination: { subset: "v2" } }] },
        ],
      },
    };
    const path = ["spec", "http", 2, "route", 0, "destination", "subset"];
    expect(sameShapePath(source, path, "v9")).toEqual([
      "spec",
      "http",
      0,
      "route",
      0,
      "destination",
      "subset",
    ]);
    expect(sameShapePath(source, path, "v7")).toBeUndefined();
    const twice = { spec: { http: [source.spec.http[0], source.spec.http[0]] } };
    expect(sameShapePath(twice, path, "v9")).toBeUndefined();
  });

  it("a patched object: the operation that wrote the node, else (an ancestor, an untouched node) the mesh file", () => {
    const files2: Record<string, string> = {
      "mesh/vs.yaml":
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: web\n  namespace: demo\nspec:\n  hosts: [web]\n  http:\n    - route:\n        - destination: { host: web }\n          weight: 100\n",
      "chapters/02-x/chapter.yaml":
        "id: 2\npatches:\n  - target: { apiVersion: networking.istio.io/v1, kind: VirtualService, namespace: demo, name: web }\n    patch:\n      - { op: test, path: /spec/http/0/route/0/weight, value: 100 }\n      - { op: replace, path: /spec/http/0/route/0/weight, value: 90 }\n",
    };
    const vs = {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      name: "web",
      namespace: "demo",
      object: { spec: { hosts: ["web"], http: [{ route: [{ destination: { host: "web" }, weight: 90 }] }] } },
    };
    const sources = ["mesh/vs.yaml (added in 01-x)", "chapters/02-x/chapter.yaml (patches)"];
    const at = (p: Array<string | number>) => sourcePosition(vs, p, sources, (rel) => files2[rel]);
    expect(at(["spec", "http", 0, "route", 0, "weight"])).toEqual({
      file: "chapters/02-x/chapter.yaml",
      line: 6,
      column: 59, // its `value:`
    });
    expect(at(["spec", "hosts"])).toEqual({ file: "mesh/vs.yaml", line: 7, column: 3 });
    expect(at([])?.file).toBe("mesh/vs.yaml");
  });

  it("says nothing when the sources do not exist", () => {
    expect(sourcePosition(svc, [], ["mesh/gone.yaml (added in 01-x)"], read)).toBeUndefined();
  });
});
