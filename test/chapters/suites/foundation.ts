/** Chapters 03-05: the app without a mesh, its baseline load test, and Istio's installation. */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { lesson } from "../lesson.ts";
import { ROOT, rendered, type Loose, SERVICES } from "../render-cache.ts";

/** The pinned Istio chart version, from helmfile.yaml's istiod release. */
const ISTIO: string = /- name: istiod\n(?: {4}.*\n)*? {4}version: (\S+)/.exec(
  readFileSync(path.join(ROOT, "helmfile.yaml"), "utf8"),
)![1]!;

const wave = (app: Loose): number => Number(app.metadata.annotations["argocd.argoproj.io/sync-wave"]);

describe("03 installing the application with Helmfile", () => {
  it("deploys workshop-app on the primary only", async () => {
    const [primary, remote, before] = await Promise.all([
      rendered("primary", 3),
      rendered("remote", 3),
      rendered("primary", 2),
    ]);
    expect(before.releases()).not.toContain("workshop-app");
    expect(primary.releases()).toContain("workshop-app");
    expect(remote.releases()).not.toContain("workshop-app");
    expect(primary.application("workshop-app").spec.source.path).toBe(
      "clusters/primary/rendered/app/workshop-app",
    );
  });

  it("owns the workshop Namespace as a mesh resource, not yet injected, never pruned", async () => {
    const ns = (await rendered("primary", 3)).mesh("Namespace", undefined, "workshop");
    expect(ns.metadata.labels?.["istio-injection"]).toBeUndefined();
    expect(ns.metadata.annotations["argocd.argoproj.io/sync-options"]).toContain("Prune=false");
  });

  it("rolls the portal with maxSurge 1 / maxUnavailable 0 and two replicas", async () => {
    const d = (await rendered("primary", 3)).app("Deployment", "frontend-portal-v1");
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.strategy.type ?? "RollingUpdate").toBe("RollingUpdate");
    expect(d.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
  });

  it("keeps database credentials out of git: the chart refers to a Secret created by hand", async () => {
    const r = await rendered("primary", 3);
    expect([...r.files.keys()].filter((f) => f.includes("/secret-"))).toEqual([]);
    const pg = r.app("StatefulSet", "postgres");
    const refs = JSON.stringify(pg.spec.template.spec.containers[0].env);
    expect(refs).toContain('"name":"postgres-auth"');
  });

  it("runs every service of the demo app", async () => {
    const r = await rendered("primary", 3);
    for (const svc of SERVICES) {
      expect(r.app("Service", svc).spec.ports[0].port).toBe(80);
    }
  });
});

describe("04 performance baseline", () => {
  it("runs the load-test Job against the portal Service with the standard scenario", async () => {
    const r = await rendered("primary", 4);
    const job = r.app("Job", "load-test");
    const args: string[] = job.spec.template.spec.containers[0].args;
    expect(args).toContain("--url=http://frontend-portal.workshop/");
    expect(args).toContain("--rate=50");
    expect(args).toContain("--connections=10");
    expect(args).toContain("--duration=60s");
    expect(args).toContain("--warmup=10s");
    expect((await rendered("primary", 3)).hasApp("Job", "load-test")).toBe(false);
  });
});

describe("05 installing Istio: the lesson's reasons", () => {
  const text = () => lesson("05-installing-istio").replace(/\s+/g, " ");
  const mirror = process.env.CHART_MIRROR;
  const crdDir = process.env.VALIDATE_CRD_DIR;

  it("does not warn of a duplicate EXTERNAL_ISTIOD: the chart sets it once", () => {
    expect(text()).not.toMatch(/gets the variable twice/);
    expect(text()).toContain("so the Deployment gets it once");
  });

  it.skipIf(!mirror)(
    "matches the pinned istiod chart, which skips global.externalIstiod when env sets it",
    () => {
      const tgz = path.join(mirror!, "istio-release.storage.googleapis.com_charts", `istiod-${ISTIO}.tgz`);
      const template = execFileSync("tar", ["-xzOf", tgz, "istiod/templates/deployment.yaml"], {
        encoding: "utf8",
      });
      expect(template).toContain(
        "{{- if and .Values.global.externalIstiod (not (and .Values.env .Values.env.EXTERNAL_ISTIOD)) }}",
      );
    },
  );

  it.skipIf(!crdDir)("gives the real reason for server-side apply: Istio's CRDs fit in 256 KiB", () => {
    const file = readdirSync(crdDir!).find((f) => f.startsWith(`istio-${ISTIO}`));
    expect(file).toBeDefined();
    const crds = parseAllDocuments(readFileSync(path.join(crdDir!, file!), "utf8"))
      .map((d) => d.toJSON())
      .filter((o) => o?.kind === "CustomResourceDefinition");
    expect(crds.length).toBeGreaterThan(10);
    // What client-side apply would store in the last-applied-configuration annotation.
    const largest = Math.max(...crds.map((c) => JSON.stringify(c).length));
    expect(largest).toBeLessThan(256 * 1024);
    expect(text()).not.toMatch(/Istio's CRDs are larger than the 256 KiB/);
    expect(text()).toContain("Istio's CRDs still fit");
  });
});

describe("05 installing Istio", () => {
  it("installs base -> istiod -> ingress gateway in sync waves that follow `needs`", async () => {
    const r = await rendered("primary", 5);
    const base = r.application("istio-base");
    const istiod = r.application("istiod");
    const ingress = r.application("istio-ingress");
    expect(wave(base)).toBeLessThan(wave(istiod));
    expect(wave(istiod)).toBeLessThan(wave(ingress));
    expect(istiod.spec.sources[0].targetRevision).toBe("1.30.3");
    // Istio's CRDs are too large for client-side apply.
    expect(base.spec.syncPolicy.syncOptions).toContain("ServerSideApply=true");
    expect((await rendered("remote", 5)).releases()).toEqual([]);
  });

  it("gives istiod this cluster's mesh ID, cluster name and network", async () => {
    const v = (await rendered("primary", 5)).values("istiod");
    expect(v.global.meshID).toBe("mesh1");
    expect(v.global.multiCluster.clusterName).toBe("primary");
    expect(v.global.network).toBe("network1");
    expect(v.pilot.env.EXTERNAL_ISTIOD).toBe("true");
  });

  it("labels the workshop namespace for sidecar injection", async () => {
    const ns = (await rendered("primary", 5)).mesh("Namespace", undefined, "workshop");
    expect(ns.metadata.labels["istio-injection"]).toBe("enabled");
  });

  it("tells Argo CD to ignore the webhook fields istiod rewrites", async () => {
    const cm = (await rendered("primary", 5)).values("argo-cd").configs.cm;
    expect(
      cm[
        "resource.customizations.ignoreDifferences.admissionregistration.k8s.io_ValidatingWebhookConfiguration"
      ],
    ).toContain("failurePolicy");
    expect(
      cm[
        "resource.customizations.ignoreDifferences.admissionregistration.k8s.io_MutatingWebhookConfiguration"
      ],
    ).toContain("caBundle");
    const istiod = (await rendered("primary", 5)).application("istiod");
    expect(istiod.spec.syncPolicy.syncOptions).toContain("RespectIgnoreDifferences=true");
  });

  it("exposes the ingress gateway through a LoadBalancer and retires the baseline Job", async () => {
    const r = await rendered("primary", 5);
    expect(r.values("istio-ingress").service.type).toBe("LoadBalancer");
    expect(r.hasApp("Job", "load-test")).toBe(false);
  });
});
