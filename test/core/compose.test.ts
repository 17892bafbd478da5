import { describe, expect, it } from "vitest";
import { compose, type ComposeInput } from "../../scripts/lib/compose/compose.ts";
import { mergeValues } from "../../scripts/lib/compose/values.ts";
import { clusterVariables, substitute } from "../../scripts/lib/compose/substitute.ts";
import { parseChapter } from "../../scripts/lib/model/chapter.ts";
import { parseCluster } from "../../scripts/lib/model/cluster.ts";
import { parseHelmfile } from "../../scripts/lib/model/helmfile.ts";
import type { Chapter, Cluster } from "../../scripts/lib/model/types.ts";
import { parseYaml } from "../../scripts/lib/yaml-source.ts";

function cluster(role: "primary" | "remote"): Cluster {
  const text = `name: c1
role: ${role}
chapter: 00-a
kubernetesVersion: "1.36"
istio: { meshID: m1, clusterName: c1, network: net-${role}${role === "remote" ? ", primaryCluster: p" : ""} }
argocd: { destination: { name: c1 }, repoURL: https://git.example/r.git }
`;
  const { value, findings } = parseCluster(text, "clusters/c1/cluster.yaml", "c1");
  if (!value) throw new Error(JSON.stringify(findings));
  return value;
}

function chapter(id: number, body: string): Chapter {
  const dir = `${String(id).padStart(2, "0")}-c`;
  const { value, findings } = parseChapter(
    `id: ${id}\ntitle: t\nsummary: s\n${body}`,
    `chapters/${dir}/chapter.yaml`,
    dir,
  );
  if (!value) throw new Error(JSON.stringify(findings));
  return value;
}

const releases = parseHelmfile(`repositories: [{ name: r, url: https://charts.example }]
releases:
  - { name: base, namespace: istio-system, chart: r/base, version: 1.0.0 }
  - { name: istiod, namespace: istio-system, chart: r/istiod, version: 1.0.0, needs: [base] }
`).value!.releases;

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: app }
spec:
  hosts: [web]
  http:
    - route:
        - destination: { host: web, subset: v1 }
          weight: 100
`;

function input(
  chapters: Chapter[],
  role: "primary" | "remote" = "primary",
  mesh: Record<string, string> = { "routing/web.yaml": VS },
): ComposeInput {
  return {
    cluster: cluster(role),
    chapters,
    target: chapters[chapters.length - 1]!,
    releases,
    meshFiles: new Map(Object.entries(mesh).map(([p, t]) => [p, parseYaml(t, `mesh/${p}`)])),
  };
}

describe("compose", () => {
  it("applies chapters in order: enables, merges values, substitutes cluster fields", () => {
    const chapters = [
      chapter(
        0,
        "releases:\n  - { name: base, enabled: true }\n  - { name: istiod, enabled: true, values: { global: { network: '${cluster.istio.network}', a: 1 } } }",
      ),
      chapter(1, "releases:\n  - { name: istiod, values: { global: { a: null, b: 2 } } }"),
    ];
    const { composition, findings } = compose(input(chapters));
    expect(findings).toEqual([]);
    const istiod = composition!.releases.find((r) => r.release.name === "istiod")!;
    expect(istiod.values).toEqual({ global: { network: "net-primary", b: 2 } });
    expect(istiod.chapters).toEqual(["00-c", "01-c"]);
  });

  it("passes the app images' registry and tag from cluster.yaml, by default what the images workflow pushes", () => {
    const images = chapter(
      0,
      "releases:\n  - { name: base, enabled: true, values: { global: { image: { registry: '${cluster.images.registry}', tag: '${cluster.images.tag}' } } } }",
    );
    const valuesFor = (c: Cluster) => {
      const { composition, findings } = compose({ ...input([images]), cluster: c });
      return { values: composition?.releases[0]?.values, findings };
    };
    const base = cluster("primary");
    // A GitHub repoURL: ghcr.io/<owner, lower case>, and an empty tag (the chart's appVersion).
    const fork = {
      ...base,
      argocd: { ...base.argocd, repoURL: "https://github.com/Alice-B/istio-gitops-workshop.git" },
    };
    expect(valuesFor(fork).values).toEqual({ global: { image: { registry: "ghcr.io/alice-b", tag: "" } } });
    expect(
      clusterVariables({ ...fork, argocd: { ...fork.argocd, repoURL: "git@github.com:Alice-B/w.git" } }),
    ).toMatchObject({
      "cluster.images.registry": "ghcr.io/alice-b",
    });
    // cluster.yaml `images` wins.
    expect(
      valuesFor({ ...fork, images: { registry: "registry.acme.io/workshop", tag: "2.0.0" } }).values,
    ).toEqual({
      global: { image: { registry: "registry.acme.io/workshop", tag: "2.0.0" } },
    });
    // Not on GitHub and no images.registry: an error that says what to set, never a guess.
    const { values, findings } = valuesFor(base);
    expect(values).toBeUndefined();
    expect(findings.map((f) => f.rule)).toEqual(["compose/unknown-placeholder"]);
    expect(findings[0]!.message).toContain("has no images.registry");
    expect(findings[0]!.hint).toBe(
      "set images.registry in clusters/c1/cluster.yaml to the registry you push the app images to",
    );
  });

  it("merges a release's namespaceMetadata over the chapters, substituted, and names unknown placeholders", () => {
    const chapters = [
      chapter(
        0,
        "releases:\n  - { name: base, enabled: true, namespaceMetadata: { labels: { a: '1', net: '${cluster.istio.network}' } } }",
      ),
      chapter(
        1,
        "releases:\n  - { name: base, namespaceMetadata: { annotations: { cp: '${cluster.istio.primaryCluster}' }, labels: { a: '2' } } }",
      ),
    ];
    const { composition, findings } = compose(input(chapters, "remote"));
    expect(findings).toEqual([]);
    expect(composition!.releases.find((r) => r.release.name === "base")!.namespaceMetadata).toEqual({
      labels: { a: "2", net: "net-remote" },
      annotations: { cp: "p" },
    });
    const bad = compose(
      input([
        chapter(
          0,
          "releases:\n  - { name: base, enabled: true, namespaceMetadata: { labels: { x: '${cluster.nope}' } } }",
        ),
      ]),
    );
    expect(bad.findings.map((f) => [f.rule, f.line])).toEqual([["compose/unknown-placeholder", 5]]);
    expect(bad.findings[0]!.message).toContain("namespaceMetadata of 'base'");
  });

  it("stops at the target chapter", () => {
    const chapters = [
      chapter(0, "releases: [{ name: base, enabled: true }]"),
      chapter(1, "releases: [{ name: istiod, enabled: true }]"),
    ];
    const { composition } = compose({ ...input(chapters), target: chapters[0]! });
    expect(composition!.releases.map((r) => r.release.name)).toEqual(["base"]);
  });

  it("skips entries for other roles", () => {
    const chapters = [
      chapter(
        0,
        "releases: [{ name: base, enabled: true, roles: [remote] }]\nmesh: { add: [{ path: routing/web.yaml, roles: [remote] }] }",
      ),
    ];
    expect(compose(input(chapters, "primary")).composition!.releases).toEqual([]);
    const remote = compose(input(chapters, "remote")).composition!;
    expect(remote.releases.map((r) => r.release.name)).toEqual(["base"]);
    expect(remote.mesh).toHaveLength(1);
  });

  it("gives each role its own values when one chapter lists a release once per role", () => {
    const chapters = [
      chapter(
        0,
        "releases:\n  - { name: base, enabled: true, roles: [primary], values: { x: p } }\n  - { name: base, enabled: true, roles: [remote], values: { x: r } }",
      ),
    ];
    expect(compose(input(chapters, "primary")).composition!.releases[0]!.values).toEqual({ x: "p" });
    expect(compose(input(chapters, "remote")).composition!.releases[0]!.values).toEqual({ x: "r" });
  });

  it("patches mesh resources of earlier chapters and records who patched them", () => {
    const chapters = [
      chapter(0, "mesh: { add: [routing/web.yaml] }"),
      chapter(
        1,
        `patches:
  - target: { apiVersion: networking.istio.io/v1, kind: VirtualService, namespace: app, name: web }
    patch:
      - { op: test, path: /spec/http/0/route/0/weight, value: 100 }
      - { op: replace, path: /spec/http/0/route/0/weight, value: 90 }`,
      ),
    ];
    const { composition, findings } = compose(input(chapters));
    expect(findings).toEqual([]);
    const vs = composition!.mesh[0]!;
    expect(
      (vs.object.spec as { http: Array<{ route: Array<{ weight: number }> }> }).http[0]!.route[0]!.weight,
    ).toBe(90);
    expect(vs.patchedBy).toEqual(["01-c"]);
    expect(vs.source).toEqual({ file: "mesh/routing/web.yaml", document: 0, chapter: "00-c" });
  });

  it("names the chapter and patch when a test op fails, and leaves the resource untouched", () => {
    const chapters = [
      chapter(0, "mesh: { add: [routing/web.yaml] }"),
      chapter(
        1,
        `patches:
  - description: shift traffic
    target: { apiVersion: networking.istio.io/v1, kind: VirtualService, namespace: app, name: web }
    patch:
      - { op: test, path: /spec/http/0/route/0/weight, value: 50 }`,
      ),
    ];
    const { composition, findings } = compose(input(chapters));
    expect(composition).toBeUndefined();
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "compose/patch-failed",
      file: "chapters/01-c/chapter.yaml",
      line: 5,
    });
    expect(findings[0]!.message).toContain("chapter 01-c, patch 1 (shift traffic)");
    expect(findings[0]!.message).toContain("test operation failed");
  });

  it("reports a patch whose target does not exist, or whose path does not resolve", () => {
    const missing = compose(
      input([
        chapter(
          0,
          "patches:\n  - target: { apiVersion: v1, kind: Service, namespace: app, name: ghost }\n    patch: [{ op: remove, path: /spec }]",
        ),
      ]),
    );
    expect(missing.findings[0]!.rule).toBe("compose/patch-target");
    expect(missing.findings[0]!.message).toContain("no Service 'app/ghost'");
    const badPath = compose(
      input([
        chapter(
          0,
          "mesh: { add: [routing/web.yaml] }\npatches:\n  - target: { apiVersion: networking.istio.io/v1, kind: VirtualService, namespace: app, name: web }\n    patch: [{ op: remove, path: /spec/tcp }]",
        ),
      ]),
    );
    expect(badPath.findings[0]!.rule).toBe("compose/patch-failed");
  });

  it("refuses patches that rename their target", () => {
    const chapters = [
      chapter(
        0,
        "mesh: { add: [routing/web.yaml] }\npatches:\n  - target: { apiVersion: networking.istio.io/v1, kind: VirtualService, namespace: app, name: web }\n    patch: [{ op: replace, path: /metadata/name, value: other }]",
      ),
    ];
    expect(compose(input(chapters)).findings[0]!.rule).toBe("compose/patch-identity");
  });

  it("removes mesh files, and reports removal of files never added, double adds and missing files", () => {
    const removed = compose(
      input([
        chapter(0, "mesh: { add: [routing/web.yaml] }"),
        chapter(1, "mesh: { remove: [routing/web.yaml] }"),
      ]),
    );
    expect(removed.composition!.mesh).toEqual([]);
    const rules = (chs: Chapter[]) => compose(input(chs)).findings.map((f) => f.rule);
    expect(rules([chapter(0, "mesh: { remove: [routing/web.yaml] }")])).toEqual(["compose/mesh-remove"]);
    expect(
      rules([
        chapter(0, "mesh: { add: [routing/web.yaml] }"),
        chapter(1, "mesh: { add: [routing/web.yaml] }"),
      ]),
    ).toEqual(["compose/mesh-add"]);
    expect(rules([chapter(0, "mesh: { add: [routing/nope.yaml] }")])).toEqual(["compose/mesh-missing"]);
  });

  it("reports duplicate resources, non-resources, unknown placeholders and unknown releases", () => {
    const mesh = {
      "routing/web.yaml": VS,
      "routing/again.yaml": VS,
      "routing/junk.yaml": "just: data\n",
      "routing/ph.yaml": VS.replace("name: web,", 'name: "${cluster.nope}",'),
    };
    const rules = (body: string) =>
      compose(input([chapter(0, body)], "primary", mesh)).findings.map((f) => f.rule);
    expect(rules("mesh: { add: [routing/web.yaml, routing/again.yaml] }")).toEqual([
      "compose/duplicate-resource",
    ]);
    expect(rules("mesh: { add: [routing/junk.yaml] }")).toEqual(["compose/not-a-resource"]);
    expect(rules("mesh: { add: [routing/ph.yaml] }")).toEqual(["compose/unknown-placeholder"]);
    expect(rules("releases: [{ name: ghost, enabled: true }]")).toEqual(["compose/unknown-release"]);
  });

  it("requires the releases an enabled release needs", () => {
    const { findings } = compose(input([chapter(0, "releases: [{ name: istiod, enabled: true }]")]));
    expect(findings[0]!.rule).toBe("compose/missing-need");
    expect(findings[0]!.message).toContain("needs 'base'");
  });

  it("does not mutate its inputs", () => {
    const chapters = [
      chapter(
        0,
        "mesh: { add: [routing/web.yaml] }\npatches:\n  - target: { apiVersion: networking.istio.io/v1, kind: VirtualService, namespace: app, name: web }\n    patch: [{ op: replace, path: /spec/hosts/0, value: other }]",
      ),
    ];
    const inp = input(chapters);
    compose(inp);
    const doc = inp.meshFiles.get("routing/web.yaml")!.documents[0]!.value as { spec: { hosts: string[] } };
    expect(doc.spec.hosts).toEqual(["web"]);
  });
});

describe("values and placeholders", () => {
  it("deep-merges maps, replaces lists and scalars, deletes on null", () => {
    expect(mergeValues({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3], e: 2 }, d: null })).toEqual({
      a: { b: 1, c: [3], e: 2 },
    });
  });
  it("substitutes known placeholders and lists unknown ones", () => {
    const { value, unknown } = substitute(
      { x: ["${cluster.name}-${cluster.role}", "${cluster.bogus}"] },
      { "cluster.name": "p", "cluster.role": "primary" },
    );
    expect(value).toEqual({ x: ["p-primary", "${cluster.bogus}"] });
    expect(unknown).toEqual(["${cluster.bogus}"]);
  });
});
