/**
 * The Argo CD sync model (rules/argocd-model.ts): pattern matching, AppProject permissions and the
 * argocd-cm resource filter as Argo CD v3.5.1 implements them, ownership of objects, and the
 * engine handing a peer cluster's argocd-cm to the remote's scope. The last tests render the real
 * chart packages of the offline mirror with the pinned helm.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import jsYaml from "js-yaml";
import { $ } from "zx";
import { describe, expect, it } from "vitest";
import type { FileInput, Scope } from "../../scripts/lib/validate/engine.ts";
import { toResource, type Resource } from "../../scripts/lib/validate/resource.ts";
import { ResourceIndex } from "../../scripts/lib/validate/resource-index.ts";
import {
  argoModel,
  destinationCluster,
  destinationPermitted,
  globMatch,
  groupKindPermitted,
  isExcluded,
  pathMatch,
  resourceFilter,
  trackingId,
} from "../../scripts/lib/validate/rules/argocd-model.ts";
import { resolveTool } from "../../scripts/lib/tools/resolve.ts";
import { pathScope, run, SHARED_DIR } from "./helpers.ts";

let nextId = 0;
function resources(yaml: string, file = "x.yaml"): Resource[] {
  return jsYaml
    .loadAll(yaml)
    .map((value, index) =>
      toResource(nextId++, { index, value, positionOf: () => ({ file, line: 1, column: 1 }) }, file),
    );
}
const one = (yaml: string) => resources(yaml)[0]!;

describe("pattern matching", () => {
  it("globMatch is gobwas/glob without separators: * crosses '/', alternatives, classes, escapes", () => {
    expect(globMatch("*", "https://kubernetes.default.svc")).toBe(true);
    expect(globMatch("https://*.example.com", "https://a.b.example.com")).toBe(true);
    expect(globMatch("kube-{system,public}", "kube-public")).toBe(true);
    expect(globMatch("kube-{system,public}", "kube-node-lease")).toBe(false);
    expect(globMatch("ns-[a-c]", "ns-b")).toBe(true);
    expect(globMatch("ns-[!a-c]", "ns-b")).toBe(false);
    expect(globMatch("ns-?", "ns-1")).toBe(true);
    expect(globMatch("a\\*", "a*")).toBe(true);
    expect(globMatch("a\\*", "ab")).toBe(false);
    expect(globMatch("", "")).toBe(true);
    expect(globMatch("", "x")).toBe(false);
    // Does not compile: Argo CD logs and treats it as no match.
    expect(globMatch("{a,b", "a")).toBe(false);
  });

  it("pathMatch is Go's filepath.Match: * stops at '/', ^ negates a class, a bad pattern matches nothing", () => {
    expect(pathMatch("*", "ClusterRole")).toBe(true);
    expect(pathMatch("*", "a/b")).toBe(false);
    expect(pathMatch("Cluster*", "ClusterRoleBinding")).toBe(true);
    expect(pathMatch("[^C]*", "ClusterRole")).toBe(false);
    expect(pathMatch("", "")).toBe(true);
    expect(pathMatch("", "apps")).toBe(false);
    expect(pathMatch("[", "x")).toBe(false);
  });
});

describe("ownership and destinations", () => {
  it("parses Argo CD 3 tracking ids, for namespaced, core and cluster-scoped objects", () => {
    const role = one(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: "cert-manager:leaderelection", namespace: kube-system, annotations: {argocd.argoproj.io/tracking-id: "primary-cert-manager:rbac.authorization.k8s.io/Role:kube-system/cert-manager:leaderelection"}}`);
    expect(trackingId(role)).toEqual({
      app: "primary-cert-manager",
      group: "rbac.authorization.k8s.io",
      kind: "Role",
      namespace: "kube-system",
      name: "cert-manager:leaderelection",
    });
    const ns = one(`apiVersion: v1
kind: Namespace
metadata: {name: istio-system, annotations: {argocd.argoproj.io/tracking-id: "remote-mesh:/Namespace:/istio-system"}}`);
    expect(trackingId(ns)).toMatchObject({ app: "remote-mesh", group: "", kind: "Namespace", namespace: "" });
  });

  it("an object belongs to its tracking-id's Application, else to the deepest directory source holding its file", () => {
    const apps = resources(
      `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: root, namespace: argocd}
spec: {destination: {name: in-cluster, namespace: argocd}, source: {repoURL: r, path: clusters/p/rendered}}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: mesh, namespace: argocd}
spec: {destination: {name: in-cluster, namespace: istio-system}, source: {repoURL: r, path: clusters/p/rendered/mesh, directory: {recurse: true}}}`,
      "clusters/p/rendered/argocd.yaml",
    );
    const deep = resources(
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}`,
      "clusters/p/rendered/mesh/workshop/a.yaml",
    );
    const tracked = resources(
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, annotations: {argocd.argoproj.io/tracking-id: "root:/ConfigMap:argocd/b"}}`,
      "clusters/p/rendered/mesh/b.yaml",
    );
    // Not recursive: a file in a subfolder of root's path is not root's.
    const nested = resources(
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}`,
      "clusters/p/rendered/other/c.yaml",
    );
    const model = argoModel(new ResourceIndex([...apps, ...deep, ...tracked, ...nested]));
    expect(model.ownerOf(deep[0]!)?.name).toBe("mesh");
    expect(model.ownerOf(tracked[0]!)?.name).toBe("root");
    expect(model.ownerOf(nested[0]!)).toBeUndefined();
    expect(model.ownerOf(apps[1]!)?.name).toBe("root");
    // Without a namespace, an object goes to its Application's destination namespace.
    expect(model.namespaceOf(deep[0]!, model.byName.get("mesh")!)).toBe("istio-system");
  });

  it("in-cluster is known by name and server; a registered cluster only by what the Application says", () => {
    expect(destinationCluster({ name: "in-cluster" })).toEqual({
      name: "in-cluster",
      server: "https://kubernetes.default.svc",
    });
    expect(destinationCluster({ server: "https://kubernetes.default.svc" })).toEqual({
      name: "in-cluster",
      server: "https://kubernetes.default.svc",
    });
    expect(destinationCluster({ name: "remote" })).toEqual({ name: "remote" });
  });
});

describe("AppProject permissions (isDestinationMatched, IsGroupKindNamePermitted)", () => {
  const project = (spec: string) =>
    one(`apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: p}\nspec: ${spec}`);
  const inCluster = destinationCluster({ name: "in-cluster" });

  it("matches namespace and cluster by glob, by name or by server", () => {
    const p = project(
      `{destinations: [{name: in-cluster, namespace: observability}, {server: "https://kubernetes.default.svc", namespace: "kube-*"}]}`,
    );
    expect(destinationPermitted(p, inCluster, "observability")).toBe(true);
    expect(destinationPermitted(p, inCluster, "kube-system")).toBe(true);
    expect(destinationPermitted(p, inCluster, "cert-manager")).toBe(false);
  });

  it("a deny entry (!) refuses what it does not match, but a namespace deny only with a matching server", () => {
    const p = project(
      `{destinations: [{server: "*", namespace: "*"}, {server: "*", namespace: "!kube-system"}]}`,
    );
    const remote = { name: "remote", server: "https://r" };
    expect(destinationPermitted(p, remote, "workshop")).toBe(true);
    expect(destinationPermitted(p, remote, "kube-system")).toBe(false);
    // isDestinationMatched's namespace deny case requires dstServerMatched (Argo CD's docs use server: '*').
    const byName = project(
      `{destinations: [{name: "*", namespace: "*"}, {name: "*", namespace: "!kube-system"}]}`,
    );
    expect(destinationPermitted(byName, remote, "kube-system")).toBe(true);
    const denyCluster = project(
      `{destinations: [{name: "*", namespace: "*"}, {name: "!remote", namespace: "*"}]}`,
    );
    expect(destinationPermitted(denyCluster, remote, "workshop")).toBe(false);
  });

  it("is undecided when only the unknown half of the cluster identity could match", () => {
    const byServer = project(`{destinations: [{server: "https://remote.example.com", namespace: "*"}]}`);
    expect(destinationPermitted(byServer, { name: "remote" }, "workshop")).toBeUndefined();
    const byName = project(`{destinations: [{name: remote, namespace: istio-system}]}`);
    expect(destinationPermitted(byName, { name: "remote" }, "kube-system")).toBe(false);
    expect(destinationPermitted(byName, { name: "remote" }, "istio-system")).toBe(true);
    const scoped = project(
      `{permitOnlyProjectScopedClusters: true, destinations: [{name: remote, namespace: "*"}]}`,
    );
    expect(destinationPermitted(scoped, { name: "remote" }, "istio-system")).toBeUndefined();
    expect(destinationPermitted(scoped, { name: "other" }, "istio-system")).toBe(false);
  });

  it("namespaced kinds: no whitelist allows all, an empty one none; cluster kinds need the whitelist", () => {
    expect(groupKindPermitted(project(`{}`), "", "Service", "x", true)).toBe(true);
    expect(groupKindPermitted(project(`{namespaceResourceWhitelist: []}`), "", "Service", "x", true)).toBe(
      false,
    );
    expect(
      groupKindPermitted(
        project(`{namespaceResourceBlacklist: [{group: "", kind: ResourceQuota}]}`),
        "",
        "ResourceQuota",
        "q",
        true,
      ),
    ).toBe(false);
    expect(groupKindPermitted(project(`{}`), "rbac.authorization.k8s.io", "ClusterRole", "x", false)).toBe(
      false,
    );
    const named = project(
      `{clusterResourceWhitelist: [{group: "rbac.authorization.k8s.io", kind: "Cluster*", name: "istio-*"}]}`,
    );
    expect(groupKindPermitted(named, "rbac.authorization.k8s.io", "ClusterRole", "istio-reader", false)).toBe(
      true,
    );
    expect(groupKindPermitted(named, "rbac.authorization.k8s.io", "ClusterRole", "kiali", false)).toBe(false);
  });
});

describe("argocd-cm resource filter (ResourcesFilter.IsExcludedResource)", () => {
  const cm = (data: string) =>
    one(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm, namespace: argocd}\ndata: ${data}`);

  it("without argocd-cm: the stock Argo CD 3 exclusions (EndpointSlice, Endpoints, CertificateRequest ...)", () => {
    const f = resourceFilter(undefined);
    expect(isExcluded(f, "discovery.k8s.io", "EndpointSlice", "https://r").excluded).toBe(true);
    expect(isExcluded(f, "", "Endpoints", undefined).excluded).toBe(true);
    expect(isExcluded(f, "cert-manager.io", "CertificateRequest", undefined).excluded).toBe(true);
    expect(isExcluded(f, "", "Service", undefined).excluded).toBe(false);
  });

  it("an argocd-cm without the key excludes only the built-in core list", () => {
    const f = resourceFilter(cm(`{url: "https://argocd.example.com"}`));
    expect(isExcluded(f, "discovery.k8s.io", "EndpointSlice", undefined).excluded).toBe(false);
    expect(isExcluded(f, "coordination.k8s.io", "Lease", undefined).excluded).toBe(true);
    expect(isExcluded(f, "events.k8s.io", "Event", undefined).excluded).toBe(true);
    expect(isExcluded(f, "", "Event", undefined).excluded).toBe(true);
  });

  it("clusters match the destination's server URL; unknown URLs leave cluster-specific entries undecided", () => {
    const f = resourceFilter(
      cm(
        `{resource.exclusions: "- {apiGroups: ['discovery.k8s.io'], kinds: [EndpointSlice], clusters: ['https://kubernetes.default.svc']}"}`,
      ),
    );
    expect(
      isExcluded(f, "discovery.k8s.io", "EndpointSlice", "https://kubernetes.default.svc").excluded,
    ).toBe(true);
    expect(isExcluded(f, "discovery.k8s.io", "EndpointSlice", "https://remote.example.com").excluded).toBe(
      false,
    );
    expect(isExcluded(f, "discovery.k8s.io", "EndpointSlice", undefined).excluded).toBeUndefined();
    const any = resourceFilter(
      cm(`{resource.exclusions: "- {apiGroups: ['*'], kinds: [EndpointSlice], clusters: ['*']}"}`),
    );
    expect(isExcluded(any, "discovery.k8s.io", "EndpointSlice", undefined).excluded).toBe(true);
  });

  it("kinds match exactly (or *), groups by glob", () => {
    const f = resourceFilter(
      cm(`{resource.exclusions: "- {apiGroups: ['*.k8s.io'], kinds: ['Endpoint*']}"}`),
    );
    expect(isExcluded(f, "discovery.k8s.io", "EndpointSlice", undefined).excluded).toBe(false);
    const g = resourceFilter(
      cm(`{resource.exclusions: "- {apiGroups: ['*.k8s.io'], kinds: ['EndpointSlice']}"}`),
    );
    expect(isExcluded(g, "discovery.k8s.io", "EndpointSlice", undefined).excluded).toBe(true);
  });

  it("inclusions: what they name is allowed; for a cluster they name, everything else is excluded", () => {
    const f = resourceFilter(
      cm(
        `{resource.inclusions: "- {apiGroups: [''], kinds: [Service, ConfigMap], clusters: ['https://kubernetes.default.svc']}"}`,
      ),
    );
    const inCluster = "https://kubernetes.default.svc";
    expect(isExcluded(f, "", "Service", inCluster).excluded).toBe(false);
    expect(isExcluded(f, "apps", "Deployment", inCluster)).toMatchObject({
      excluded: true,
      byInclusions: true,
    });
    expect(isExcluded(f, "apps", "Deployment", "https://remote.example.com").excluded).toBe(false);
  });
});

describe("the engine passes a peer cluster's argocd-cm (the primary's Argo CD syncs the remote)", () => {
  const remoteFiles = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: remote-istiod, namespace: argocd}
spec:
  project: default
  destination: {name: remote, namespace: istio-system}
  source: {repoURL: "https://istio-release.storage.googleapis.com/charts", chart: istiod, targetRevision: 1.30.3}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: istiod
  namespace: istio-system
  labels: {kubernetes.io/service-name: istiod}
  annotations: {argocd.argoproj.io/tracking-id: "remote-istiod:discovery.k8s.io/EndpointSlice:istio-system/istiod"}
addressType: IPv4
endpoints: [{addresses: [192.0.2.10]}]
`;
  const primaryCm = (exclusions: string) => `apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-cm, namespace: argocd}
data:
  resource.exclusions: |
${exclusions.replace(/^/gm, "    ")}
`;
  const input = (file: string, text: string): FileInput => ({ file, text, kind: "manifests" });
  const scope = (file: string, text: string, peerGroup?: string): Scope => ({
    ...pathScope([input(file, text)]),
    ...(peerGroup ? { peerGroup } : {}),
  });
  const findings = async (primaryText: string, remoteGroup: string) => {
    const res = await run(
      [
        scope(
          "clusters/primary/rendered/platform/argo-cd/argocd/configmap-argocd-cm.yaml",
          primaryText,
          "mesh1@19",
        ),
        scope("clusters/remote/rendered/platform/istiod/istio-system/all.yaml", remoteFiles, remoteGroup),
      ],
      { rules: ["argocd/resource-excluded"] },
    );
    return res.findings.map((f) => f.message);
  };

  it("uses the primary's argocd-cm in the remote's scope", async () => {
    // The primary's settings no longer exclude EndpointSlices: the remote's is synced.
    expect(
      await findings(primaryCm("- {apiGroups: [coordination.k8s.io], kinds: [Lease]}"), "mesh1@19"),
    ).toEqual([]);
    const hits = await findings(
      primaryCm("- {apiGroups: ['', discovery.k8s.io], kinds: [Endpoints, EndpointSlice]}"),
      "mesh1@19",
    );
    expect(hits).toHaveLength(1);
    expect(hits[0]).toContain("configmap-argocd-cm.yaml");
  });

  it("without a peer's argocd-cm, assumes the stock Argo CD 3 exclusions", async () => {
    const hits = await findings(
      primaryCm("- {apiGroups: [coordination.k8s.io], kinds: [Lease]}"),
      "other-mesh@19",
    );
    expect(hits).toHaveLength(1);
    expect(hits[0]).toContain("no argocd-cm rendered");
  });
});

describe("argocd/crd-wave with rendered platform charts", () => {
  it("finds the Application of a chart's CRDs by tracking-id, and orders another Application's custom resources after it", async () => {
    const text = (meshWave: number) => `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: primary-istio-base, namespace: argocd, annotations: {argocd.argoproj.io/sync-wave: "1"}}
spec:
  project: default
  destination: {name: in-cluster, namespace: istio-system}
  source: {repoURL: "https://example.com/charts", chart: my-crds, targetRevision: 1.0.0}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: primary-mesh, namespace: argocd, annotations: {argocd.argoproj.io/sync-wave: "${meshWave}"}}
spec:
  project: default
  destination: {name: in-cluster, namespace: istio-system}
  source: {repoURL: "https://git.example.com/workshop.git", targetRevision: main, path: clusters/primary/rendered/mesh, directory: {recurse: true}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
  annotations: {argocd.argoproj.io/tracking-id: "primary-istio-base:apiextensions.k8s.io/CustomResourceDefinition:/widgets.example.com"}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  namespace: istio-system
  annotations: {argocd.argoproj.io/tracking-id: "primary-mesh:example.com/Widget:istio-system/w"}
`;
    const check = async (meshWave: number) =>
      (
        await run([pathScope([{ file: "all.yaml", text: text(meshWave), kind: "manifests" }])], {
          rules: ["argocd/crd-wave"],
        })
      ).findings.map((f) => f.message);
    expect(await check(1)).toEqual([
      expect.stringContaining(
        "Application argocd/primary-mesh (wave 1) syncs example.com resources such as Widget istio-system/w, but Application argocd/primary-istio-base installs their CRDs in wave 1",
      ),
    ]);
    expect(await check(2)).toEqual([]);
  });
});

describe("the real charts (offline mirror, pinned helm)", () => {
  const charts = path.join(SHARED_DIR, "charts");
  const argoCd = path.join(charts, "argoproj.github.io_argo-helm/argo-cd-10.1.1.tgz");
  const istiod = path.join(charts, "istio-release.storage.googleapis.com_charts/istiod-1.30.3.tgz");
  const have = existsSync(argoCd) && existsSync(istiod);
  if (!have && process.env.CI) throw new Error(`chart mirror missing: ${argoCd}, ${istiod}`);

  async function template(release: string, chart: string, ns: string, values: string[]): Promise<string> {
    const helm = await resolveTool("helm");
    const dir = await mkdtemp(path.join(os.tmpdir(), "argocd-model-"));
    try {
      const env = {
        ...process.env,
        HELM_CACHE_HOME: path.join(dir, "c"),
        HELM_CONFIG_HOME: path.join(dir, "g"),
      };
      const sets = values.flatMap((v) => ["--set", v]);
      return (await $({ quiet: true, env })`${helm} template ${release} ${chart} --namespace ${ns} ${sets}`)
        .stdout;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const tracked = (text: string, app: string) =>
    jsYaml
      .loadAll(text)
      .filter((d): d is Record<string, Record<string, unknown>> => typeof d === "object" && d !== null)
      .map((d) => {
        const md = d.metadata as Record<string, unknown>;
        const group = String(d.apiVersion).includes("/") ? String(d.apiVersion).split("/")[0] : "";
        md.annotations = {
          ...(md.annotations as object),
          "argocd.argoproj.io/tracking-id": `${app}:${group}/${String(d.kind)}:${String(md.namespace ?? "")}/${String(md.name)}`,
        };
        return jsYaml.dump(d);
      })
      .join("---\n");

  it.skipIf(!have)(
    "istiod's remote profile with an IP remotePilotAddress: the chart's default argocd-cm drops its EndpointSlice",
    async () => {
      const cmText = await template("argo-cd", argoCd, "argocd", []);
      const remote = await template("istiod", istiod, "istio-system", [
        "profile=remote",
        "global.remotePilotAddress=192.0.2.10",
        "global.configCluster=true",
      ]);
      const app = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: remote-istiod, namespace: argocd}
spec:
  project: default
  destination: {name: remote, namespace: istio-system}
  source: {repoURL: "https://istio-release.storage.googleapis.com/charts", chart: istiod, targetRevision: 1.30.3}
`;
      const res = await run(
        [
          {
            ...pathScope([
              { file: "primary/argo-cd.yaml", text: tracked(cmText, "primary-argo-cd"), kind: "manifests" },
            ]),
            peerGroup: "g",
          },
          {
            ...pathScope([
              {
                file: "remote/istiod.yaml",
                text: `${app}---\n${tracked(remote, "remote-istiod")}`,
                kind: "manifests",
              },
            ]),
            peerGroup: "g",
          },
        ],
        { rules: ["argocd/resource-excluded", "argocd/namespace-metadata-order"] },
      );
      const messages = res.findings.map((f) => `${f.rule} ${f.message}`);
      expect(messages).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            /^argocd\/resource-excluded EndpointSlice istio-system\/istiod .*ConfigMap argocd\/argocd-cm .*selector-less Service istio-system\/istiod has no endpoints/,
          ),
          // The remote profile is recognised from what it renders (webhook, no istiod Deployment).
          expect.stringMatching(
            /^argocd\/namespace-metadata-order Application argocd\/remote-istiod .*controlPlaneClusters from nothing/,
          ),
        ]),
      );
    },
    60_000,
  );
});
