/** Chapters 18-19: the cost of the mesh, and the primary-remote multicluster. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { planPromotion, withChapter } from "../../../scripts/lib/gitops/plan.ts";
import { lesson, shellCommands, syncPause } from "../lesson.ts";
import { ROOT, rendered, repoModel, type Loose } from "../render-cache.ts";

/** The long flags a CLI script declares to parseCli (`name: { type: ... }`). */
function cliFlags(script: string): string[] {
  const source = readFileSync(path.join(ROOT, "scripts", script), "utf8");
  return [...source.matchAll(/^\s+"?([a-z][a-z-]*)"?: \{ type: "(?:string|boolean)"/gm)].map((m) => m[1]!);
}

/** The `--flag`s of a command line. */
const flagsOf = (cmd: string) => [...cmd.matchAll(/ --([a-z][a-z-]*)/g)].map((m) => m[1]!);

describe("18 performance tests with the mesh", () => {
  it("limits the workshop proxies' configuration to the hosts they call", async () => {
    const r = await rendered("primary", 18);
    const sidecar = r.mesh("Sidecar", "workshop", "default");
    expect(sidecar.spec.workloadSelector).toBeUndefined();
    expect(sidecar.spec.egress[0].hosts).toEqual(
      expect.arrayContaining([
        "./*",
        "istio-system/*",
        "istio-egress/*",
        "observability/jaeger.observability.svc.cluster.local",
      ]),
    );
    expect(sidecar.spec.egress[0].hosts).not.toContain("*/*");
  });

  it("sizes every sidecar explicitly", async () => {
    const r = await rendered("primary", 18);
    const annotations = r.app("Deployment", "content-generator-v1").spec.template.metadata.annotations;
    expect(annotations["sidecar.istio.io/proxyCPU"]).toBe("50m");
    expect(annotations["sidecar.istio.io/proxyMemory"]).toBe("64Mi");
    expect(annotations["sidecar.istio.io/proxyMemoryLimit"]).toBe("256Mi");
  });

  it("runs the chapter 04 scenario again, inside the mesh, and lets it in", async () => {
    const [now, baseline] = await Promise.all([rendered("primary", 18), rendered("primary", 4)]);
    const args = (r: Loose) => r.app("Job", "load-test").spec.template.spec.containers[0].args;
    expect(args(now)).toEqual(args(baseline));
    const allow = now.mesh("AuthorizationPolicy", "workshop", "frontend-portal");
    expect(allow.spec.rules.flatMap((x: Loose) => x.from[0].source.principals)).toContain(
      "cluster.local/ns/workshop/sa/load-test",
    );
  });

  it("names the identity the Job really runs as, in the lesson and in the policy", async () => {
    const r = await rendered("primary", 18);
    const job = r.app("Job", "load-test");
    const sa = job.spec.template.spec.serviceAccountName;
    expect(sa).toBe("load-test");
    expect(r.hasApp("ServiceAccount", sa)).toBe(true);
    const identity = `cluster.local/ns/${job.metadata.namespace}/sa/${sa}`;
    const allow = r.mesh("AuthorizationPolicy", "workshop", "frontend-portal");
    expect(allow.spec.rules.flatMap((x: Loose) => x.from[0].source.principals ?? [])).toContain(identity);
    const text = lesson("18-performance-with-mesh");
    expect(text).toContain(`\`${identity}\``);
    expect(text).not.toMatch(/workshop\/default\b/);
  });
});

describe("19 multicluster: the lesson's commands", () => {
  const text = lesson("19-multicluster");
  const cmds = shellCommands(text);

  it("promotes the remote with a command that reaches chapter 19 once the primary is there", async () => {
    const promote = cmds.filter((c) => c.startsWith("pnpm promote remote"));
    expect(promote).toHaveLength(1);
    const to = /--to (\S+)/.exec(promote[0]!)?.[1];
    const model = withChapter(await repoModel(), "primary", "19-multicluster");
    expect(planPromotion(model, "remote", to).to.id).toBe(19);
    for (const flag of flagsOf(promote[0]!)) expect(cliFlags("promote.ts")).toContain(flag);
  });

  it("is the only lesson that promotes the remote (which follows its primary there in one step)", async () => {
    const model = await repoModel();
    const promoting = model.chapters
      .filter((c) => shellCommands(lesson(c.dir)).some((x) => x.startsWith("pnpm promote remote")))
      .map((c) => c.id);
    expect(promoting).toEqual([19]);
  });

  it("attaches the remote secret only after the remote is promoted (its istio-system annotated)", () => {
    const at = (prefix: string) => cmds.findIndex((c) => c.startsWith(prefix));
    expect(at("pnpm promote remote")).toBeGreaterThan(-1);
    expect(at("istioctl create-remote-secret")).toBeGreaterThan(at("pnpm promote remote"));
  });

  it("registers the remote with flags cluster:register has, and a reachable --server", () => {
    const register = cmds.find((c) => c.startsWith("pnpm cluster:register remote"));
    expect(register).toBeDefined();
    const known = cliFlags("cluster-register.ts");
    expect(known).toEqual(expect.arrayContaining(["context", "server", "argocd-context"]));
    for (const flag of flagsOf(register!)) expect(known, flag).toContain(flag);
    expect(register).toContain('--server "$REMOTE_API"');
    // The remote secret embeds an API server URL too: the same reachable one.
    expect(cmds.find((c) => c.startsWith("istioctl create-remote-secret"))).toContain(
      '--server "$REMOTE_API"',
    );
    expect(text).toContain("REMOTE_API=https://$(docker inspect");
    for (const flag of flagsOf(cmds.find((c) => c.startsWith("pnpm bootstrap"))!))
      expect(cliFlags("bootstrap.ts")).toContain(flag);
  });

  it("pauses automated sync, root first, before scaling the primary's v3 away, and resumes it", async () => {
    const r = await rendered("primary", 19);
    const p = syncPause(text, r, "workshop-app", /scale deploy content-generator-v3 --replicas 0/);
    expect(p.paused).toEqual(p.expected);
    expect(p.changedAfterPause).toBe(true);
    expect(p.resumed).toBe(true);
    expect(text).not.toMatch(/within a few minutes/);
  });

  it("says what Kiali and Jaeger, installed on the primary only, can show of the remote", async () => {
    const remote = await rendered("remote", 19);
    expect(remote.releases()).not.toContain("kiali");
    expect(remote.releases()).not.toContain("jaeger");
    expect(remote.releases()).not.toContain("prometheus");
    expect(text).not.toMatch(/traces of those requests have spans from both clusters/);
    expect(text).toContain("kiali-prepare-remote-cluster.sh");
    expect(text).toMatch(/run a collector on the remote/);
  });
});

describe("19 multicluster, primary-remote on different networks", () => {
  it("keeps the primary's istiod as an external control plane with its mesh identity", async () => {
    const v = (await rendered("primary", 19)).values("istiod");
    expect(v.profile).toBeUndefined();
    expect(v.global).toMatchObject({
      meshID: "mesh1",
      network: "network1",
      multiCluster: { clusterName: "primary" },
    });
    expect(v.pilot.env.EXTERNAL_ISTIOD).toBe("true");
  });

  it("installs Istio's remote profile on the remote cluster", async () => {
    const r = await rendered("remote", 19);
    expect(r.values("istio-base").profile).toBe("remote");
    const v = r.values("istiod");
    expect(v.profile).toBe("remote");
    expect(v.global.multiCluster.clusterName).toBe("remote");
    expect(v.global.network).toBe("network2");
    expect(v.istiodRemote.injectionPath).toBe("/inject/cluster/remote/net/network2");
    // The README's placeholder, to be replaced with the primary east-west gateway's address.
    expect(v.global.remotePilotAddress).toMatch(/^[0-9.]+$|^[a-z0-9.-]+$/);
    expect(r.releases()).not.toContain("argo-cd");
  });

  it("runs an east-west gateway on each network", async () => {
    for (const [cluster, network] of [
      ["primary", "network1"],
      ["remote", "network2"],
    ] as const) {
      const r = await rendered(cluster, 19);
      const v = r.values("istio-eastwest");
      expect(v.networkGateway).toBe(network);
      expect(v.name).toBe("istio-eastwestgateway");
      expect(r.application("istio-eastwest").spec.destination.namespace).toBe("istio-system");
    }
  });

  it("exposes istiod (15012, 15017) and the services (15443, AUTO_PASSTHROUGH) on the primary", async () => {
    const r = await rendered("primary", 19);
    const cross = r.mesh("Gateway", "istio-system", "cross-network-gateway");
    // name: istio-eastwestgateway -> the chart labels the pods istio: eastwestgateway.
    expect(cross.spec.selector).toEqual({ istio: "eastwestgateway" });
    expect(cross.spec.servers[0]).toMatchObject({
      port: { number: 15443 },
      tls: { mode: "AUTO_PASSTHROUGH" },
      hosts: ["*.local"],
    });
    const istiod = r.mesh("Gateway", "istio-system", "istiod-gateway");
    expect(istiod.spec.servers.map((s: Loose) => [s.port.number, s.tls.mode])).toEqual([
      [15012, "PASSTHROUGH"],
      [15017, "PASSTHROUGH"],
    ]);
    const vs = r.mesh("VirtualService", "istio-system", "istiod-vs");
    expect(vs.spec.tls.map((t: Loose) => [t.match[0].port, t.route[0].destination.port.number])).toEqual([
      [15012, 15012],
      [15017, 443],
    ]);
    // Configuration lives on the primary (the config cluster) only.
    expect(
      (await rendered("remote", 19)).meshObjects().filter((o) => o.apiVersion.includes("istio.io")),
    ).toEqual([]);
  });

  it("labels each istio-system with its network and points the remote at its control plane", async () => {
    const primary = (await rendered("primary", 19)).mesh("Namespace", undefined, "istio-system");
    expect(primary.metadata.labels["topology.istio.io/network"]).toBe("network1");
    const remote = await rendered("remote", 19);
    // On the remote they must exist before istiod's remote install and the east-west gateway:
    // Argo CD sets them as it creates istio-system for istio-base, in an earlier wave than both.
    expect(remote.hasMesh("Namespace", undefined, "istio-system")).toBe(false);
    const base = remote.application("istio-base");
    const meta = base.spec.syncPolicy.managedNamespaceMetadata;
    expect(meta.labels["topology.istio.io/network"]).toBe("network2");
    expect(meta.annotations["topology.istio.io/controlPlaneClusters"]).toBe("primary");
    expect(base.spec.syncPolicy.syncOptions).toContain("CreateNamespace=true");
    const wave = (release: string) =>
      Number(remote.application(release).metadata.annotations["argocd.argoproj.io/sync-wave"]);
    expect(wave("istio-base")).toBeLessThan(wave("istiod"));
    expect(wave("istio-base")).toBeLessThan(wave("istio-eastwest"));
    expect(remote.mesh("Namespace", undefined, "workshop").metadata.labels["istio-injection"]).toBe(
      "enabled",
    );
  });

  it("splits the demo app: the remote runs content-generator v1 and v3 only", async () => {
    const r = await rendered("remote", 19);
    const deployments = r
      .appFiles()
      .filter((f) => f.includes("/deployment-"))
      .map((f) => r.yaml(f))
      .filter((d: Loose) => d.spec.replicas > 0)
      .map((d: Loose) => d.metadata.name)
      .sort();
    expect(deployments).toEqual(["content-generator-v1", "content-generator-v3"]);
    expect(r.appFiles().some((f) => f.includes("statefulset-"))).toBe(false);
    // The primary still runs the whole application.
    expect((await rendered("primary", 19)).hasApp("Deployment", "frontend-portal-v1")).toBe(true);
  });

  it("prefers the caller's network and cluster for content-generator and fails over to the other", async () => {
    const dr = (await rendered("primary", 19)).mesh("DestinationRule", "workshop", "content-generator");
    const expected = {
      enabled: true,
      failoverPriority: ["topology.istio.io/network", "topology.istio.io/cluster"],
    };
    expect(dr.spec.trafficPolicy.loadBalancer.localityLbSetting).toEqual(expected);
    expect(dr.spec.subsets[0].trafficPolicy.loadBalancer.localityLbSetting).toEqual(expected);
    expect(dr.spec.subsets[0].trafficPolicy.loadBalancer.consistentHash).toBeDefined();
    // Locality failover only acts on endpoints outlier detection has ejected.
    expect(dr.spec.trafficPolicy.outlierDetection.consecutive5xxErrors).toBeGreaterThan(0);
  });

  it("syncs the remote from the primary's Argo CD through its registered cluster", async () => {
    const r = await rendered("remote", 19);
    expect(r.application("istiod").spec.destination.name).toBe("remote");
    expect(r.application("istiod").metadata.namespace).toBe("argocd");
  });

  it("commits no remote secret", async () => {
    for (const cluster of ["primary", "remote"] as const) {
      const r = await rendered(cluster, 19);
      for (const [file, text] of r.files) {
        expect(text, file).not.toMatch(/istio\/multiCluster|kind: Secret[\s\S]*kubeconfig/);
      }
    }
  });
});
