import { describe, expect, it } from "vitest";
import { parseCluster } from "../../scripts/lib/model/cluster.ts";
import { parseChapter, resolveChapterRef } from "../../scripts/lib/model/chapter.ts";
import { parseHelmfile, syncWaves } from "../../scripts/lib/model/helmfile.ts";
import { checkChapterSequence, checkPins, loadRepo } from "../../scripts/lib/model/repo.ts";
import type { Chapter, Cluster } from "../../scripts/lib/model/types.ts";
import { tempCopy } from "../helpers/temp-repo.ts";
import { writeFile } from "node:fs/promises";
import path from "node:path";

const CLUSTER = `name: primary
role: primary
chapter: 00-start
kubernetesVersion: "1.36"
istio:
  meshID: mesh1
  clusterName: primary
  network: network1
argocd:
  destination:
    name: in-cluster
  repoURL: https://git.example.com/r.git
`;

describe("cluster.yaml", () => {
  it("loads a valid cluster and fills Argo CD defaults", () => {
    const { value, findings } = parseCluster(CLUSTER, "clusters/primary/cluster.yaml", "primary");
    expect(findings).toEqual([]);
    expect(value?.argocd.targetRevision).toBe("main");
    expect(value?.argocd.namespace).toBe("argocd");
    expect(value?.chapterPosition).toMatchObject({ line: 3, column: 10 });
  });

  it("reads the optional images (registry and tag) and rejects a registry with a scheme or upper case", () => {
    const ok = parseCluster(
      `${CLUSTER}images:\n  registry: ghcr.io/alice\n  tag: 0.2.0\n`,
      "clusters/primary/cluster.yaml",
      "primary",
    );
    expect(ok.findings).toEqual([]);
    expect(ok.value?.images).toEqual({ registry: "ghcr.io/alice", tag: "0.2.0" });
    for (const registry of ["https://ghcr.io/alice", "ghcr.io/Alice"]) {
      const bad = parseCluster(
        `${CLUSTER}images:\n  registry: ${registry}\n`,
        "clusters/primary/cluster.yaml",
        "primary",
      );
      expect(
        bad.findings.map((f) => [f.rule, f.line]),
        registry,
      ).toEqual([["model/cluster", 14]]);
    }
  });

  it("reports an unknown key with file, line, column, the key and the allowed keys", () => {
    const text = CLUSTER.replace("  network: network1\n", "  network: network1\n  netwrok: typo\n");
    const { value, findings } = parseCluster(text, "clusters/primary/cluster.yaml", "primary");
    expect(value).toBeUndefined();
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      file: "clusters/primary/cluster.yaml",
      line: 9,
      column: 3,
      rule: "model/cluster",
      severity: "error",
    });
    expect(findings[0]!.message).toContain("unknown key 'netwrok'");
    expect(findings[0]!.hint).toContain("meshID, clusterName, network");
    expect(findings[0]!.hint).toContain("[key: istio.netwrok]");
  });

  it("reports a bad enum and a missing key at their positions", () => {
    const text = CLUSTER.replace("role: primary", "role: leader").replace('kubernetesVersion: "1.36"\n', "");
    const { findings } = parseCluster(text, "c.yaml", "primary");
    const byMsg = (s: string) => findings.find((f) => f.message.includes(s));
    expect(byMsg("not one of the allowed values")).toMatchObject({ line: 2 });
    expect(byMsg("not one of the allowed values")!.hint).toContain('"primary", "remote"');
    expect(byMsg("missing required key 'kubernetesVersion'")).toBeDefined();
  });

  it("rejects a name that differs from the folder and a remote without its primary", () => {
    const mismatch = parseCluster(CLUSTER, "clusters/other/cluster.yaml", "other");
    expect(mismatch.findings[0]!.message).toContain("does not match its folder clusters/other/");
    const remote = parseCluster(CLUSTER.replace("role: primary", "role: remote"), "c.yaml", "primary");
    expect(remote.findings[0]!.message).toContain("must name the primary cluster");
  });

  it("rejects a destination with both name and server", () => {
    const text = CLUSTER.replace("    name: in-cluster\n", "    name: in-cluster\n    server: https://x\n");
    const { findings } = parseCluster(text, "c.yaml", "primary");
    expect(findings.length).toBeGreaterThan(0);
    expect(findings[0]!.line).toBeGreaterThanOrEqual(10);
  });

  it("reports YAML syntax errors and duplicate keys with positions", () => {
    const dup = parseCluster(
      CLUSTER.replace("role: primary", "role: primary\nrole: remote"),
      "c.yaml",
      "primary",
    );
    expect(dup.findings[0]).toMatchObject({ rule: "yaml/duplicate-key", line: 3 });
    const broken = parseCluster("name: [unclosed\n", "c.yaml", "primary");
    expect(broken.findings[0]!.rule).toBe("yaml/syntax");
  });
});

const CHAPTER = `id: 3
title: Three
summary: |
  Does things.
releases:
  - name: istiod
    enabled: true
    values: { a: 1 }
mesh:
  add:
    - routing/a.yaml
    - path: routing/b.yaml
      roles: [remote]
  remove: [old.yaml]
patches:
  - target: { apiVersion: v1, kind: Service, namespace: ns, name: svc }
    patch:
      - { op: replace, path: /spec/x, value: 1 }
`;

describe("chapter.yaml", () => {
  it("loads a valid chapter with positions for each entry", () => {
    const { value, findings } = parseChapter(CHAPTER, "chapters/03-three/chapter.yaml", "03-three");
    expect(findings).toEqual([]);
    expect(value?.summary).toBe("Does things.");
    expect(value?.mesh.add.map((a) => a.path)).toEqual(["routing/a.yaml", "routing/b.yaml"]);
    expect(value?.mesh.add[1]?.roles).toEqual(["remote"]);
    expect(value?.patches[0]?.position.line).toBe(16);
  });

  it("rejects unknown keys deep inside a patch target", () => {
    const text = CHAPTER.replace("name: svc }", "name: svc, namesapce: x }");
    const { findings } = parseChapter(text, "chapters/03-three/chapter.yaml", "03-three");
    expect(findings[0]!.message).toContain("unknown key 'namesapce'");
    expect(findings[0]).toMatchObject({ line: 16 });
  });

  it("requires value for replace and from for move", () => {
    const text = CHAPTER.replace(
      "{ op: replace, path: /spec/x, value: 1 }",
      "{ op: replace, path: /spec/x }",
    );
    const { findings } = parseChapter(text, "c.yaml", "03-three");
    expect(findings.some((f) => f.message.includes("missing required key 'value'"))).toBe(true);
  });

  it("rejects an id that does not match the folder and duplicate release entries", () => {
    expect(parseChapter(CHAPTER, "c.yaml", "04-four").findings[0]!.hint).toBe("set id: 4");
    const dup = CHAPTER.replace("    values: { a: 1 }\n", "    values: { a: 1 }\n  - name: istiod\n");
    expect(parseChapter(dup, "c.yaml", "03-three").findings[0]!.message).toContain(
      "listed twice for the same cluster role",
    );
    const byRole = CHAPTER.replace(
      "    values: { a: 1 }\n",
      "    roles: [primary]\n    values: { a: 1 }\n  - name: istiod\n    roles: [remote]\n    values: { a: 2 }\n",
    );
    const ok = parseChapter(byRole, "c.yaml", "03-three");
    expect(ok.findings).toEqual([]);
    expect(ok.value!.releases.map((r) => r.roles)).toEqual([["primary"], ["remote"]]);
  });

  it("resolves chapter references by number, padded number or folder", () => {
    const chapters = [
      { id: 0, dir: "00-a" },
      { id: 5, dir: "05-b" },
    ] as Chapter[];
    expect(resolveChapterRef("5", chapters)?.dir).toBe("05-b");
    expect(resolveChapterRef("05", chapters)?.dir).toBe("05-b");
    expect(resolveChapterRef("00-a", chapters)?.dir).toBe("00-a");
    expect(resolveChapterRef("7", chapters)).toBeUndefined();
  });
});

describe("helmfile.yaml", () => {
  const HF = `repositories:
  - { name: istio, url: https://istio.example }
releases:
  - { name: base, namespace: istio-system, chart: istio/base, version: 1.30.3 }
  - { name: istiod, namespace: istio-system, chart: istio/istiod, version: 1.30.3, needs: [istio-system/base] }
  - { name: gw, namespace: gw, chart: istio/gateway, version: 1.30.3, needs: [istio-system/istiod] }
  - { name: app, namespace: app, chart: ./apps/chart, needs: [istiod] }
`;
  it("reads releases with repository URLs and needs, and derives sync waves", () => {
    const { value, findings } = parseHelmfile(HF);
    expect(findings).toEqual([]);
    expect(value!.releases.find((r) => r.name === "istiod")).toMatchObject({
      repoURL: "https://istio.example",
      chartName: "istiod",
      needs: ["base"],
    });
    expect(value!.releases.find((r) => r.name === "app")).toMatchObject({ local: true });
    expect(Object.fromEntries(syncWaves(value!.releases))).toEqual({ base: 0, istiod: 1, gw: 2, app: 2 });
  });

  it("requires exact chart versions, known repositories, known needs and no cycles", () => {
    const bad = HF.replace("version: 1.30.3 }", "version: ^1.30 }")
      .replace("chart: istio/gateway", "chart: nope/gateway")
      .replace("needs: [istiod]", "needs: [ghost]");
    const messages = parseHelmfile(bad)
      .findings.map((f) => f.message)
      .join("\n");
    expect(messages).toContain("must pin an exact chart version");
    expect(messages).toContain("no repository 'nope'");
    expect(messages).toContain("unknown release 'ghost'");
    const cyclic = HF.replace("needs: [istio-system/base]", "needs: [gw]");
    expect(parseHelmfile(cyclic).findings[0]!.message).toContain("cycle");
  });
});

describe("repository checks", () => {
  const ch = (id: number, dir: string) => ({ id, dir, file: `chapters/${dir}/chapter.yaml` }) as Chapter;
  it("finds gaps and repeats in the chapter sequence", () => {
    expect(checkChapterSequence([ch(0, "00-a"), ch(1, "01-b")])).toEqual([]);
    expect(checkChapterSequence([ch(0, "00-a"), ch(2, "02-c")])[0]!.message).toContain(
      "chapter 01 is missing",
    );
    expect(checkChapterSequence([ch(0, "00-a"), ch(0, "00-b")])[0]!.message).toContain("appears twice");
  });

  it("finds unknown pins and a remote ahead of its primary", () => {
    const pos = { file: "f", line: 3, column: 10 };
    const primary = {
      name: "p",
      role: "primary",
      chapter: "00-a",
      istio: {},
      file: "clusters/p/cluster.yaml",
      chapterPosition: pos,
    } as unknown as Cluster;
    const remote = {
      name: "r",
      role: "remote",
      chapter: "01-b",
      istio: { primaryCluster: "p" },
      file: "clusters/r/cluster.yaml",
      chapterPosition: pos,
    } as unknown as Cluster;
    const findings = checkPins([primary, remote], [ch(0, "00-a"), ch(1, "01-b")]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ rule: "repo/remote-ahead", line: 3 });
    const unknown = checkPins([{ ...primary, chapter: "09-x" }], [ch(0, "00-a")]);
    expect(unknown[0]!.message).toContain("unknown chapter '09-x'");
  });

  it("loads the fixture repository and reports a broken one", async () => {
    const { dir, cleanup } = await tempCopy("repo-basic");
    try {
      const ok = await loadRepo(dir);
      expect(ok.findings).toEqual([]);
      expect(ok.model!.chapters.map((c) => c.dir)).toEqual(["00-start", "01-mesh", "02-split"]);
      await writeFile(
        path.join(dir, "clusters/remote/cluster.yaml"),
        (await import("node:fs"))
          .readFileSync(path.join(dir, "clusters/remote/cluster.yaml"), "utf8")
          .replace("01-mesh", "02-split"),
      );
      await writeFile(
        path.join(dir, "clusters/primary/cluster.yaml"),
        (await import("node:fs"))
          .readFileSync(path.join(dir, "clusters/primary/cluster.yaml"), "utf8")
          .replace("02-split", "01-mesh"),
      );
      const bad = await loadRepo(dir);
      expect(bad.model).toBeUndefined();
      expect(bad.findings.map((f) => f.rule)).toContain("repo/remote-ahead");
    } finally {
      await cleanup();
    }
  });
});
