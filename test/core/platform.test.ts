/**
 * The platform render with real helm and the locked packages of the chart mirror: objects as
 * Argo CD would apply them (tracking annotation, destination namespace, CRD API versions handed to
 * later waves), unstable output caught by rendering twice, charts that cannot be had offline, the
 * per-release diff of a promotion, and repo-mode validation over platform + mesh + app together.
 */
import path from "node:path";
import os from "node:os";
import { mkdtemp, rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { Composition } from "../../scripts/lib/compose/compose.ts";
import { loadRepoOrThrow, type RepoModel } from "../../scripts/lib/model/repo.ts";
import { composeCluster } from "../../scripts/lib/render/pipeline.ts";
import { helmTemplateDeps } from "../../scripts/lib/render/helm-template.ts";
import { renderCluster } from "../../scripts/lib/render/render.ts";
import {
  renderPlatform,
  TRACKING_ANNOTATION,
  type ChartTemplateRequest,
  type PlatformDeps,
} from "../../scripts/lib/render/platform.ts";
import { platformChanges } from "../../scripts/lib/render/platform-diff.ts";
import { helmPlatformDeps, openReleaseCache } from "../../scripts/lib/render/platform-helm.ts";
import { openPlatform, type PlatformInput } from "../../scripts/lib/render/platform-input.ts";
import { validateRepo } from "../../scripts/lib/validate/index.ts";
import { CHART_MIRROR, SCHEMA_ROOT } from "../validate/helpers.ts";
import { REPO_ROOT } from "../helpers/temp-repo.ts";

let model: RepoModel;
let input: PlatformInput;
let cache: string;
const requests: ChartTemplateRequest[] = [];

beforeAll(async () => {
  model = await loadRepoOrThrow(REPO_ROOT);
  cache = await mkdtemp(path.join(os.tmpdir(), "platform-test-"));
  const base = await openPlatform(REPO_ROOT, {
    mirror: CHART_MIRROR,
    env: { ...process.env, ISTIO_GITOPS_CHARTS_DIR: path.join(cache, "charts") },
  });
  const raw = helmPlatformDeps();
  const recording: PlatformDeps = {
    templateChart(req) {
      requests.push(req);
      return raw.templateChart(req);
    },
  };
  input = { packages: base.packages, deps: recording, cache: await openReleaseCache(cache) };
}, 120_000);
afterAll(async () => rm(cache, { recursive: true, force: true }));

const compose = (cluster: string, chapter: string): Promise<Composition> =>
  composeCluster(
    model,
    model.clusters.find((c) => c.name === cluster)!,
    chapter,
  );

function objects(files: Map<string, string>) {
  return [...files].map(([file, text]) => {
    const o = parseAllDocuments(text)[0]!.toJS() as {
      apiVersion: string;
      kind: string;
      metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
    };
    return { file, o };
  });
}

describe("the platform render of chapter 19", () => {
  it("renders every upstream release of each cluster, each object tracked by its Application", async () => {
    for (const cluster of ["primary", "remote"]) {
      const c = await compose(cluster, "19");
      const p = await renderPlatform(c, input.packages, input.deps, input.cache);
      expect(p.missing).toEqual([]);
      expect(p.findings).toEqual([]);
      const releases = c.releases.filter((r) => !r.release.local).map((r) => r.release.name);
      expect(p.rendered.map((r) => r.release.name).sort()).toEqual([...releases].sort());
      for (const { file, o } of objects(p.files)) {
        const release = file.split("/")[1]!;
        const id = o.metadata.annotations?.[TRACKING_ANNOTATION];
        const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : "";
        expect(id, file).toBe(
          `${cluster}-${release}:${group}/${o.kind}:${o.metadata.namespace ?? ""}/${o.metadata.name}`,
        );
      }
    }
  }, 300_000);

  it("gives namespaced objects the release namespace, as Argo CD applies them", async () => {
    const p = await renderPlatform(await compose("primary", "19"), input.packages, input.deps, input.cache);
    const jaeger = objects(p.files).filter(({ file }) => file.startsWith("platform/jaeger/"));
    expect(jaeger.length).toBeGreaterThan(0);
    for (const { o } of jaeger) expect(o.metadata.namespace).toBe("observability");
    // The chart of chapter 06 now has the Service the mesh config, Kiali and Grafana point at.
    expect(p.files.has("platform/jaeger/observability/service-jaeger.yaml")).toBe(true);
  });

  it("hands the CRD API versions of earlier waves to later charts, with the cluster's Kubernetes version", async () => {
    requests.length = 0;
    await renderPlatform(await compose("primary", "19"), input.packages, input.deps);
    const of = (release: string) => requests.find((r) => r.release.name === release)!;
    expect(of("istio-base").apiVersions).not.toContain("networking.istio.io/v1");
    expect(of("istiod").apiVersions).toContain("networking.istio.io/v1");
    expect(of("istio-ingress").apiVersions).toContain("security.istio.io/v1");
    expect(of("grafana").apiVersions).toContain("monitoring.coreos.com/v1");
    expect(of("istiod").kubeVersion).toBe("1.36");
  });

  it("uses the composed values file the Application reads", async () => {
    requests.length = 0;
    const c = await compose("remote", "19");
    await renderPlatform(c, input.packages, input.deps);
    expect(requests.find((r) => r.release.name === "istiod")!.valuesYaml).toContain("profile: remote");
  });
});

describe("the Argo CD objects the renderer writes, against what the charts render", () => {
  it("the AppProject permits every namespace the platform Applications put objects into", async () => {
    for (const chapter of ["07", "08", "19"]) {
      const c = await compose("primary", chapter);
      const files = await renderCluster(c, helmTemplateDeps(REPO_ROOT));
      const project = parseAllDocuments(files.get("argocd/project.yaml")!)[0]!.toJS() as {
        spec: { destinations: Array<{ namespace: string }> };
      };
      const permitted = new Set(project.spec.destinations.map((d) => d.namespace));
      const p = await renderPlatform(c, input.packages, input.deps, input.cache);
      const used = new Set(
        objects(p.files).flatMap(({ o }) => (o.metadata.namespace ? [o.metadata.namespace] : [])),
      );
      expect(used).toContain("kube-system");
      for (const ns of used) expect(permitted, `chapter ${chapter}: ${ns}`).toContain(ns);
    }
  }, 300_000);

  it("every Application retries a failed automated sync", async () => {
    const files = await renderCluster(await compose("primary", "19"), helmTemplateDeps(REPO_ROOT));
    const apps = [...files].filter(([f]) => f.startsWith("argocd/") && f !== "argocd/project.yaml");
    expect(apps.length).toBeGreaterThan(10);
    for (const [f, text] of apps) {
      const app = parseAllDocuments(text)[0]!.toJS() as {
        spec: { syncPolicy: { retry?: { limit: number } } };
      };
      expect(app.spec.syncPolicy.retry?.limit, f).toBeGreaterThan(0);
    }
  });
});

describe("unstable chart output", () => {
  it("catches a chart that renders a random password, and is quiet once it is pinned", async () => {
    const c = await compose("primary", "07");
    const unpinned: Composition = {
      ...c,
      releases: c.releases.map((r) =>
        r.release.name === "grafana" ? { ...r, values: { ...r.values, admin: {} } } : r,
      ),
    };
    // No cache: both renders really run.
    const raw = helmPlatformDeps();
    const bad = await renderPlatform(unpinned, input.packages, raw);
    const grafana = bad.rendered.find((r) => r.release.name === "grafana")!;
    expect(grafana.unstable.map((u) => `${u.kind}/${u.name} ${u.template}`)).toEqual(
      expect.arrayContaining(["Secret/grafana templates/secret.yaml"]),
    );
    const good = await renderPlatform(c, input.packages, raw);
    for (const r of good.rendered) expect(r.unstable, r.release.name).toEqual([]);
  }, 180_000);
});

describe("charts that cannot be had offline", () => {
  it("are listed with the setting that would provide them, and the others still render", async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), "no-mirror-"));
    try {
      const partial = await openPlatform(REPO_ROOT, {
        mirror: empty,
        env: { ...process.env, ISTIO_GITOPS_CHARTS_DIR: path.join(empty, "cache") },
      });
      const p = await renderPlatform(await compose("primary", "05"), partial.packages, input.deps);
      expect(p.rendered).toEqual([]);
      expect(p.missing.map((m) => m.release.name).sort()).toEqual([
        "argo-cd",
        "istio-base",
        "istio-ingress",
        "istiod",
      ]);
      for (const m of p.missing) expect(m.reason).toContain("CHART_MIRROR");
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe("what a promotion changes in the platform", () => {
  it("lists per release the objects added, removed and changed", async () => {
    const [a, b] = [
      await renderPlatform(await compose("primary", "05"), input.packages, input.deps, input.cache),
      await renderPlatform(await compose("primary", "06"), input.packages, input.deps, input.cache),
    ];
    const changes = platformChanges(a, b);
    const jaeger = changes.find((c) => c.release === "jaeger")!;
    expect(jaeger.added).toContain("observability/service-jaeger");
    expect(jaeger.removed).toEqual([]);
    // Chapter 06 gives istiod a tracing provider: its mesh config changes.
    expect(changes.find((c) => c.release === "istiod")?.changed).toContain("istio-system/configmap-istio");
    expect(changes.find((c) => c.release === "argo-cd")).toBeUndefined();
    expect(platformChanges(b, b)).toEqual([]);
  });
});

describe("repo mode over platform + mesh + app", () => {
  it("finds nothing on this repository at any chapter, and validates every chart's objects", async () => {
    const r = await validateRepo(REPO_ROOT, {
      env: {
        VALIDATE_SCHEMA_ROOT: SCHEMA_ROOT,
        CHART_MIRROR,
        ISTIO_GITOPS_CHARTS_DIR: path.join(cache, "charts"),
      },
      cacheRoot: cache,
      // The lessons' promises have their own end-to-end test with the helper (test/behaviour/e2e.test.ts).
      disable: ["behaviour/*"],
    });
    expect(
      r.findings
        .filter((f) => f.severity !== "info")
        .map((f) => `${f.rule} ${f.file}:${f.line} ${f.message}`),
    ).toEqual([]);
    // Far more than the app and mesh alone: every chart's objects went through every layer.
    expect(r.summary.resources).toBeGreaterThan(4000);
  }, 300_000);

  it("without the charts, warns once per release and still validates the rest", async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), "no-mirror-"));
    try {
      const r = await validateRepo(REPO_ROOT, {
        env: {
          VALIDATE_SCHEMA_ROOT: SCHEMA_ROOT,
          CHART_MIRROR: empty,
          ISTIO_GITOPS_CHARTS_DIR: path.join(empty, "c"),
        },
        chapter: "19",
        clusters: ["remote"],
      });
      const warned = r.findings.filter((f) => f.rule === "charts/not-validated");
      expect(warned.map((f) => f.message.split("'")[1]).sort()).toEqual([
        "istio-base",
        "istio-eastwest",
        "istiod",
      ]);
      for (const f of warned) expect(f.file).toBe("helmfile.yaml");
      expect(r.summary.errors).toBe(0);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  }, 120_000);
});
