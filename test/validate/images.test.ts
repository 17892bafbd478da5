/**
 * The images this repository publishes, read from its images workflow, and `k8s/image-not-published`
 * on the repository itself: every app image the chapters render is one the workflow pushes. The
 * workflow as it was before the app images were made real (kept as a fixture) pushed no tag the
 * chart pinned; the same render checked against it must fail.
 */
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { collectRepo } from "../../scripts/lib/validate/repo-mode.ts";
import { validateScopes } from "../../scripts/lib/validate/engine.ts";
import { publishedImages, type PublishedImages } from "../../scripts/lib/validate/images-workflow.ts";
import { validateRepo } from "../../scripts/lib/validate/index.ts";
import { parseImage, placeholderHost } from "../../scripts/lib/validate/rules/k8s-image-not-published.ts";
import { CHART_MIRROR, FIXTURES, REPO_ROOT, SCHEMA_ROOT, testConfig } from "./helpers.ts";

const read = (rel: string) =>
  existsSync(path.join(REPO_ROOT, rel)) ? readFileSync(path.join(REPO_ROOT, rel), "utf8") : undefined;
const WORKFLOW = read(".github/workflows/images.yaml")!;
const APP_VERSION = (parse(read("apps/chart/Chart.yaml")!) as { appVersion: string }).appVersion;
const SERVICES = [
  "auth-service",
  "content-generator",
  "frontend-portal",
  "image-processor",
  "load-test",
  "mailing-service",
];
const literal = (p: PublishedImages) => p.tags.flatMap((t) => ("tag" in t ? [t.tag] : []));

describe("publishedImages (.github/workflows/images.yaml)", () => {
  it("reads every service under ghcr.io/<owner, lower case> and the tags the workflow pushes", () => {
    const p = publishedImages(WORKFLOW, { owner: "Some-Owner", readFile: read, gitTags: [] });
    expect(p.unresolved).toEqual([]);
    expect(p.repositories).toEqual(SERVICES.map((s) => `ghcr.io/some-owner/${s}`));
    // The chart's appVersion (read by the workflow with yq) and the branch from main; one tag per commit.
    expect(literal(p)).toEqual([APP_VERSION, "main"]);
    expect(p.tags).toContainEqual({ pattern: "sha-[0-9a-f]{7}", why: "every pushed commit" });
    // Pull requests build without pushing: no pr-N tags.
    expect(p.tags.some((t) => "pattern" in t && t.pattern.includes("pr-"))).toBe(false);
  });

  it("adds the version of each v* git tag (semver rule) and nothing for other tags", () => {
    const p = publishedImages(WORKFLOW, {
      owner: "o",
      readFile: read,
      gitTags: ["v0.2.0", "mesh/primary/1-x"],
    });
    expect(literal(p)).toEqual([APP_VERSION, "0.2.0", "main"]);
  });

  it("says what it cannot resolve instead of guessing: no owner (not a GitHub repoURL), no Chart.yaml", () => {
    const p = publishedImages(WORKFLOW, { readFile: () => undefined, gitTags: [] });
    expect(p.repositories).toEqual([]);
    expect(p.unresolved.join("\n")).toContain("github.repository_owner");
    expect(p.unresolved.join("\n")).toContain("apps/chart/Chart.yaml");
    expect(literal(p)).toEqual(["main"]);
  });

  it("reads literal build-push-action tags and skips jobs that never push", () => {
    const wf = `on: { push: { branches: [main] } }
jobs:
  a:
    runs-on: ubuntu-24.04
    steps:
      - uses: docker/build-push-action@0000000000000000000000000000000000000000
        with: { push: true, tags: "ghcr.io/\${{ github.repository_owner }}/web:1.2.3" }
  b:
    runs-on: ubuntu-24.04
    steps:
      - uses: docker/build-push-action@0000000000000000000000000000000000000000
        with: { push: false, tags: "ghcr.io/x/never:9" }
`;
    const p = publishedImages(wf, { owner: "acme", readFile: () => undefined, gitTags: [] });
    expect(p.repositories).toEqual(["ghcr.io/acme/web"]);
    expect(literal(p)).toEqual(["1.2.3"]);
  });
});

describe("image references", () => {
  it("splits host, repository, tag and digest as container runtimes do", () => {
    expect(parseImage("ghcr.io/acme/web:1.2.3")).toEqual({
      host: "ghcr.io",
      repository: "ghcr.io/acme/web",
      tag: "1.2.3",
    });
    expect(parseImage("localhost:5000/web")).toEqual({
      host: "localhost:5000",
      repository: "localhost:5000/web",
    });
    expect(parseImage("redis:7")).toEqual({ repository: "redis", tag: "7" });
    expect(parseImage("library/redis@sha256:abc")).toEqual({
      repository: "library/redis",
      digest: "sha256:abc",
    });
  });

  it("knows placeholder registries from real ones", () => {
    for (const h of [
      "example.com",
      "registry.example.org",
      "registry.local",
      "localhost:5000",
      "images.invalid",
      "r.example",
      "x.test",
    ])
      expect(placeholderHost(h), h).toBe(true);
    for (const h of [
      "ghcr.io",
      "docker.io",
      "quay.io",
      "registry.k8s.io",
      "registry.istio.io",
      "kind-registry:5000",
    ])
      expect(placeholderHost(h), h).toBe(false);
  });
});

describe("k8s/image-not-published on this repository", () => {
  const env = { VALIDATE_SCHEMA_ROOT: SCHEMA_ROOT };

  it("finds no image the images workflow does not push, at any chapter of any cluster", async () => {
    // The platform charts too: their images must be pinned upstream ones.
    const r = await validateRepo(REPO_ROOT, {
      env: {
        ...env,
        CHART_MIRROR,
        ISTIO_GITOPS_CHARTS_DIR: path.join(os.tmpdir(), "istio-gitops-charts-test"),
      },
      cacheRoot: path.join(os.tmpdir(), "istio-gitops-validate-cache-test"),
      rules: ["k8s/image-not-published"],
    });
    expect(r.findings.map((f) => `${f.file}:${f.line} ${f.message}`)).toEqual([]);
    expect(r.summary.resources).toBeGreaterThan(4000);
  }, 600_000);

  it("finds the app images that the workflow as it was never pushed (0.1.0 without a v0.1.0 tag)", async () => {
    const config = testConfig();
    const before = publishedImages(
      readFileSync(path.join(FIXTURES, "images/images-workflow-before.yaml"), "utf8"),
      {
        owner: "istio-gitops-workshop",
        readFile: read,
        gitTags: [],
      },
    );
    const { scopes } = await collectRepo(REPO_ROOT, config, { clusters: ["primary"], chapter: "19" });
    const old = scopes.map((s) => (s.repo ? { ...s, repo: { ...s.repo, publishedImages: before } } : s));
    const r = await validateScopes(old, config, { rules: ["k8s/image-not-published"] });
    const hits = r.findings.filter((f) => f.rule === "k8s/image-not-published");
    // Every workshop service of the primary at chapter 19, the load test included.
    const images = new Set(hits.map((f) => /pulls '([^']+)'/.exec(f.message)?.[1]));
    expect([...images].sort()).toEqual(
      SERVICES.map((s) => `ghcr.io/istio-gitops-workshop/${s}:${APP_VERSION}`),
    );
    expect(hits[0]!.message).toContain(`never pushes the tag '${APP_VERSION}'`);
    expect(hits[0]!.file).toMatch(/^clusters\/primary\/rendered\/app\/workshop-app\//);
  }, 120_000);
});
