/**
 * helmfile.yaml must work on its own, without Argo CD: the real helmfile binary reads the rendered
 * environment and values files and installs exactly what the chapter enables, with the same values.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { writeTreeAtomically } from "../../scripts/lib/fs/tree.ts";
import { renderClusters } from "../../scripts/lib/render/pipeline.ts";
import { renderedRoot } from "../../scripts/lib/render/layout.ts";
import { resolveTool } from "../../scripts/lib/tools/resolve.ts";
import { REPO_ROOT, tempCopy } from "../helpers/temp-repo.ts";

const run = promisify(execFile);

async function helmfile(cwd: string, ...args: string[]): Promise<string> {
  const [bin, helm] = [await resolveTool("helmfile"), await resolveTool("helm")];
  const env = {
    ...process.env,
    HELMFILE_UPGRADE_NOTICE_DISABLED: "true",
    HELM_CACHE_HOME: path.join(cwd, ".helm-cache"),
  };
  const { stdout } = await run(bin, ["--helm-binary", helm, ...args], {
    cwd,
    env,
    maxBuffer: 32 * 1024 * 1024,
  });
  return stdout;
}

type BuiltRelease = { name: string; installed: boolean; values: string[] };

function releasesOf(buildOutput: string): BuiltRelease[] {
  return parseAllDocuments(buildOutput).flatMap(
    (d) => (d.toJS() as { releases?: BuiltRelease[] } | null)?.releases ?? [],
  );
}

describe("helmfile on the fixture repository (real binary)", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempCopy("repo-basic"));
    for (const r of await renderClusters(dir))
      await writeTreeAtomically(path.join(dir, renderedRoot(r.cluster.name)), r.files);
  });
  afterAll(async () => cleanup());

  it("`helmfile -e <cluster> build` installs exactly the releases the cluster's chapter enables", async () => {
    const primary = releasesOf(await helmfile(dir, "-e", "primary", "build"));
    expect(Object.fromEntries(primary.map((r) => [r.name, r.installed]))).toEqual({
      "istio-base": true,
      istiod: true,
      hello: true,
    });
    expect(primary.find((r) => r.name === "istiod")!.values).toEqual([
      "clusters/primary/rendered/values/istiod.yaml",
    ]);
    const remote = releasesOf(await helmfile(dir, "-e", "remote", "build"));
    expect(Object.fromEntries(remote.map((r) => [r.name, r.installed]))).toEqual({
      "istio-base": true,
      istiod: true,
      hello: false,
    });
  });

  it("`helmfile template` of the local chart gives the same objects as `pnpm render`", async () => {
    const out = await helmfile(dir, "-e", "primary", "-l", "name=hello", "template", "--skip-deps");
    const objects = parseAllDocuments(out)
      .map((d) => d.toJS())
      .filter(Boolean) as Array<{ kind: string; spec: Record<string, unknown> }>;
    const [rendered] = await renderClusters(dir, { clusters: ["primary"] });
    const ours = parse(rendered!.files.get("app/hello/demo/deployment-hello-v1.yaml")!);
    const theirs = objects.find((o) => o.kind === "Deployment")!;
    expect(theirs.spec).toEqual(ours.spec);
    expect(ours.spec.replicas).toBe(2);
  });
});

describe("helmfile.yaml of this repository (real binary)", () => {
  it("builds for every declared environment, with every release pinned", async () => {
    for (const env of ["primary", "remote"]) {
      const releases = releasesOf(await helmfile(REPO_ROOT, "-e", env, "build"));
      expect(releases.length).toBeGreaterThanOrEqual(12);
      expect(releases.map((r) => r.name)).toEqual(
        expect.arrayContaining([
          "istio-base",
          "istiod",
          "istio-ingress",
          "cert-manager",
          "prometheus",
          "grafana",
          "jaeger",
          "kiali",
          "workshop-app",
          "argo-cd",
        ]),
      );
      for (const r of releases) expect(r.values).toEqual([`clusters/${env}/rendered/values/${r.name}.yaml`]);
    }
  });
});
