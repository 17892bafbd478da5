/**
 * The server layer against a real etcd + kube-apiserver (the pinned builds, `pnpm tools kube-apiserver etcd`):
 * the fixture set of broken objects under fixtures/server/ is refused with located findings, a
 * promotion's immutable-field changes are found on top of the previous chapter, and nothing of the
 * server is left behind.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalApiServer, type LocalApiServer } from "../../scripts/lib/kube/local-server.ts";
import { fieldPathToYamlPath, statusCauses } from "../../scripts/lib/kube/server-apply.ts";
import { parseWarnings } from "../../scripts/lib/kube/rest.ts";
import type { Scope } from "../../scripts/lib/validate/engine.ts";
import { validateScopes } from "../../scripts/lib/validate/engine.ts";
import { FIXTURES, fileInput, filesUnder, pathScope, testConfig } from "./helpers.ts";

const SERVER = path.join(FIXTURES, "server");

describe("server field paths and Status causes (pure)", () => {
  const obj = {
    metadata: { name: "x", labels: { "app.kubernetes.io/name": "web" } },
    spec: { template: { spec: { containers: [{ name: "a" }, { name: "app", imagez: "x" }] } } },
  };
  it("maps validation paths, SSA paths with list keys, and map keys in brackets", () => {
    expect(fieldPathToYamlPath("spec.template.spec.containers[1].imagez", obj)).toEqual([
      "spec",
      "template",
      "spec",
      "containers",
      1,
      "imagez",
    ]);
    expect(fieldPathToYamlPath('.spec.template.spec.containers[name="app"].imagez', obj)).toEqual([
      "spec",
      "template",
      "spec",
      "containers",
      1,
      "imagez",
    ]);
    expect(fieldPathToYamlPath("metadata.labels[app.kubernetes.io/name]", obj)).toEqual([
      "metadata",
      "labels",
      "app.kubernetes.io/name",
    ]);
    // Stops at the deepest node that exists (a missing required field points at its parent).
    expect(fieldPathToYamlPath("spec.selector.matchLabels", obj)).toEqual(["spec"]);
  });

  it("reads causes from details, or the path an SSA message starts with", () => {
    expect(
      statusCauses(
        {
          reason: "Invalid",
          message: "x",
          details: {
            causes: [{ field: "metadata.name", message: 'Invalid value: "A_b": a lowercase RFC 1123 label' }],
          },
        },
        "",
      ),
    ).toEqual({
      reason: "Invalid",
      causes: [
        {
          field: "metadata.name",
          message: 'metadata.name: Invalid value: "A_b": a lowercase RFC 1123 label',
        },
      ],
    });
    const ssa = statusCauses(
      {
        reason: "BadRequest",
        message:
          "failed to create typed patch object (/v1, Kind=ConfigMap): .dataa: field not declared in schema",
      },
      "",
    );
    expect(ssa.causes[0]!.field).toBe(".dataa");
  });

  it("unquotes Warning headers", () => {
    expect(parseWarnings(['299 - "policy/v1beta1 is \\"deprecated\\""', '299 - "a", 299 - "b"'])).toEqual([
      'policy/v1beta1 is "deprecated"',
      "a",
      "b",
    ]);
    expect(parseWarnings(undefined)).toEqual([]);
  });
});

describe("layer 5 against a real kube-apiserver", () => {
  let server: LocalApiServer;
  beforeAll(async () => {
    server = await startLocalApiServer();
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
  });

  /** One scope per chapter folder (01, 02, ...), of one cluster. */
  const chapterScopes = (dir: string, cluster: string): Scope[] => {
    const byChapter = new Map<string, string[]>();
    for (const f of filesUnder(dir)) {
      const chapter = path.basename(path.dirname(f));
      byChapter.set(chapter, [...(byChapter.get(chapter) ?? []), f]);
    }
    return [...byChapter]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([chapter, files], i) => ({
        ...pathScope(files.map((f) => fileInput(f))),
        cluster,
        chapterOrder: i,
        chapter,
        context: `cluster ${cluster} at chapter ${chapter}`,
      }));
  };

  const run = (scopes: Scope[]) =>
    validateScopes(scopes, testConfig(), { rules: ["server/*"] }, [], { server: { server } });

  it("refuses what only the API server checks, at the field it names", async () => {
    const result = await run([pathScope(filesUnder(path.join(SERVER, "fresh")).map((f) => fileInput(f)))]);
    const errors = result.findings.filter((f) => f.rule === "server/rejected");
    const at = (file: string) => errors.filter((f) => f.file.endsWith(file));
    // Selector vs template labels: at the template's labels (line 13 of the fixture).
    const sel = at("deployment-selector.yaml");
    expect(sel.map((f) => f.message).join("\n")).toMatch(/`selector` does not match template `labels`/);
    expect(sel.find((f) => /selector/.test(f.message))?.line).toBe(12);
    // RFC 1123 / 1035 names: at metadata.name.
    const name = at("service-name.yaml");
    expect(name.map((f) => f.message).join("\n")).toMatch(/Web_API.*(RFC 1035|RFC 1123)/);
    expect(name[0]!.line).toBe(4);
    // Strict field validation: the unknown key, not the object's first line.
    const unknown = at("unknown-field.yaml");
    expect(unknown).toHaveLength(1);
    expect(unknown[0]!.message).toMatch(/dataa.*field not declared in schema/);
    expect([unknown[0]!.line, unknown[0]!.column]).toEqual([8, 1]);
    // The valid ServiceAccount beside it is accepted.
    expect(errors.some((f) => f.message.includes("ServiceAccount"))).toBe(false);
    expect(errors.every((f) => f.severity === "error" && f.hint.length > 10)).toBe(true);
  }, 60_000);

  it("applies a cluster's chapters in order: immutable fields a promotion changes are refused; pruned objects come back", async () => {
    const result = await run(chapterScopes(path.join(SERVER, "promotion"), "primary"));
    const errors = result.findings.filter((f) => f.rule === "server/rejected");
    const job = errors.filter((f) => f.file.endsWith("02/job-migrate.yaml"));
    expect(job.map((f) => f.message).join("\n")).toMatch(/field is immutable/);
    expect(job[0]!.message).toContain("as promoting cluster primary to chapter 02 would");
    expect(job[0]!.line).toBeGreaterThan(6);
    const dep = errors.filter((f) => f.file.endsWith("02/deployment-worker.yaml"));
    expect(dep.map((f) => f.message).join("\n")).toMatch(/spec\.selector.*field is immutable/);
    // Chapter 01 applies on an empty cluster, and 03's Job seed was pruned by 02, so it is created anew;
    // 03's Deployment is what 02 had (refused), still over 01's selector: refused again.
    expect(errors.filter((f) => f.file.includes("/01/"))).toEqual([]);
    expect(errors.filter((f) => f.file.endsWith("03/job-seed.yaml"))).toEqual([]);
    expect(errors.filter((f) => f.file.endsWith("03/deployment-worker.yaml")).length).toBeGreaterThan(0);
  }, 60_000);

  it("a ValidatingAdmissionPolicy shipped with CRDs judges the next chapter's CRDs", async () => {
    const result = await run(chapterScopes(path.join(SERVER, "vap"), "remote"));
    const errors = result.findings.filter((f) => f.rule === "server/rejected");
    expect(errors.map((f) => `${f.file}: ${f.message}`).join("\n")).toMatch(
      /02\/crd-routes\.yaml: .*safe-upgrades\.gateway\.example\.test.*experimental CRDs on top of standard/,
    );
    expect(errors.filter((f) => f.file.includes("/01/"))).toEqual([]);
  }, 60_000);

  it("promote's step: the starting chapter applied for real as a baseline, the target dry-run on top", async () => {
    const [from, to] = chapterScopes(path.join(SERVER, "promotion"), "primary");
    const result = await validateScopes([to!], testConfig(), { rules: ["server/*"] }, [], {
      server: {
        server,
        baseline: [{ cluster: "primary", label: "chapter 01", files: from!.files }],
      },
    });
    const errors = result.findings.filter((f) => f.rule === "server/rejected");
    // Only the target's findings: the baseline is never reported.
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((f) => f.file.includes("/02/"))).toBe(true);
    expect(errors.map((f) => f.message).join("\n")).toContain(
      "applied over the object as chapter 01 left it, as promoting cluster primary to chapter 02 would",
    );
    // Dry-run: the server keeps the baseline's Deployment, not the target's (refused anyway) and
    // not the target's Job; and the walk's clean-up removed the baseline's objects at the end.
    const job = await server.rest.request("GET", "/apis/batch/v1/namespaces/shop/jobs/migrate");
    expect(job.status).toBe(404);
    // What the promotion deletes: 01's Job seed, which 02 does not have, at its file in 01.
    const pruned = result.findings.filter((f) => f.rule === "server/pruned");
    expect(
      pruned.map((f) => [path.basename(path.dirname(f.file)), path.basename(f.file), f.severity]),
    ).toEqual([["01", "job-seed.yaml", "info"]]);
    expect(pruned[0]!.message).toContain("promoting cluster primary to chapter 02 deletes Job shop/seed");
  }, 60_000);

  it("uses no server when no scope has objects", async () => {
    const r = await validateScopes([pathScope([])], testConfig(), { rules: ["server/*"] }, [], {
      server: {},
    });
    expect(r.findings).toEqual([]);
  });

  it("keeps the server's files in a private folder that stop() removes", () => {
    expect(existsSync(server.kubeconfig)).toBe(true);
  });
});
