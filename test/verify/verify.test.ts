/**
 * `pnpm verify`: the Kubernetes side against a real kube-apiserver (objects created for real,
 * statuses written by the test, as Argo CD, the kubelet and the deployment controller would),
 * the request side against real HTTP servers on 127.0.0.1, and the binomial test by itself.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalApiServer, type LocalApiServer } from "../../scripts/lib/kube/local-server.ts";
import { binomialTwoSidedP, checkSplit } from "../../scripts/lib/verify/binomial.ts";
import { checkApplications, checkWorkloads } from "../../scripts/lib/verify/cluster-checks.ts";
import { formatVerify } from "../../scripts/lib/verify/report.ts";
import { sendRequest } from "../../scripts/lib/verify/requests.ts";
import { verifyCluster } from "../../scripts/lib/verify/verify.ts";
import { effectiveExpectations } from "../../scripts/lib/behaviour/expectations.ts";
import { loadRepoOrThrow } from "../../scripts/lib/model/repo.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const run = promisify(execFile);

describe("the binomial test of a weighted route", () => {
  it("computes exact two-sided p-values", () => {
    expect(binomialTwoSidedP(5, 10, 0.5)).toBeCloseTo(1, 10);
    expect(binomialTwoSidedP(0, 10, 0.5)).toBeCloseTo(2 / 1024, 10);
    // The sum of every outcome's pmf at most pmf(30) (R's binom.test definition), computed apart
    // with exact binomial coefficients: 0.0169454.
    expect(binomialTwoSidedP(30, 100, 0.2)).toBeCloseTo(0.0169454, 6);
  });

  it("accepts counts consistent with the weights and rejects others, and undeclared versions", () => {
    expect(checkSplit({ v1: 80, v2: 20 }, { v1: 158, v2: 42 }).ok).toBe(true);
    const off = checkSplit({ v1: 80, v2: 20 }, { v1: 100, v2: 100 });
    expect(off.ok).toBe(false);
    expect(off.routes.find((r) => r.route === "v2")!.p).toBeLessThan(1e-6);
    expect(checkSplit({ v1: 100 }, { v1: 199, v3: 1 }).ok).toBe(false);
    expect(checkSplit({ v1: 90, v2: 10 }, { v1: 200 }).ok).toBe(false);
    // Bonferroni: the per-version level is (1 - confidence) / versions.
    expect(checkSplit({ a: 1, b: 1, c: 2 }, { a: 50, b: 50, c: 100 }, 0.95).alpha).toBeCloseTo(0.05 / 3);
  });
});

describe("requests sent for real to local HTTP servers", () => {
  let server: Server;
  let base: string;
  let n = 0;
  beforeAll(async () => {
    // Answers like a workshop app: v2 every fifth request (an 80/20 split), 404 on /missing.
    server = createServer((req, res) => {
      if (req.url === "/missing") return void res.writeHead(404).end("{}");
      const version = n++ % 5 === 4 ? "v2" : "v1";
      res.setHeader("content-type", "application/json");
      res.setHeader("x-version", version);
      res.end(JSON.stringify({ served: { service: "content-generator", version }, host: req.headers.host }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("checks statuses, and a split by the body's served.version or a header", async () => {
    const ok = await sendRequest({
      name: "split",
      url: `${base}/bs`,
      weights: { v1: 80, v2: 20 },
      samples: 100,
    });
    expect(ok.ok, ok.message).toBe(true);
    expect(ok.split!.routes.map((r) => r.count)).toEqual([80, 20]);
    expect(ok.message).toContain("consistent with the weights at 99% confidence");
    const wrong = await sendRequest({
      name: "even",
      url: `${base}/bs`,
      weights: { v1: 50, v2: 50 },
      samples: 100,
      versionFrom: "header:x-version",
    });
    expect(wrong.ok).toBe(false);
    expect(wrong.message).toContain("NOT consistent with the weights");
    const missing = await sendRequest({ name: "missing", url: `${base}/missing`, status: 200 });
    expect(missing.ok).toBe(false);
    expect(missing.message).toMatch(/1x 404; expected HTTP 200/);
    const host = await sendRequest({ name: "host", url: `${base}/bs`, headers: { host: "web.example" } });
    expect(host.ok).toBe(true);
  });

  it("reports a refused connection as a failed check, not a crash", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const r = await sendRequest({ name: "down", url: `http://127.0.0.1:${port}/` });
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/1x error.*ECONNREFUSED/);
  });
});

describe("the Kubernetes side against a real kube-apiserver", () => {
  let api: LocalApiServer;
  let kc: KubeConfig;
  let tmp: string;
  const post = async (p: string, body: unknown) => {
    const r = await api.rest.request("POST", p, body);
    expect(r.status, `${p}: ${r.text}`).toBe(201);
  };
  const status = async (p: string, s: unknown) => {
    const r = await api.rest.request("PATCH", `${p}/status`, { status: s }, "application/merge-patch+json");
    expect(r.status, `${p}: ${r.text}`).toBe(200);
  };
  const pod = (name: string, ns: string, containers: string[]) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels: { app: "web" } },
    spec: { containers: containers.map((c) => ({ name: c, image: "ghcr.io/acme/web:1.4.0" })) },
  });
  const deployment = (name: string, ns: string, replicas: number) => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: "x" }] } },
    },
  });

  beforeAll(async () => {
    api = await startLocalApiServer();
    kc = new KubeConfig();
    kc.loadFromFile(api.kubeconfig);
    tmp = await mkdtemp(path.join(os.tmpdir(), "verify-test-"));
    // Argo CD's Application kind (enough of its CRD), two Applications with statuses as Argo CD writes them.
    await post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "applications.argoproj.io" },
      spec: {
        group: "argoproj.io",
        names: { kind: "Application", plural: "applications" },
        scope: "Namespaced",
        versions: [
          {
            name: "v1alpha1",
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
          },
        ],
      },
    });
    for (const [name, labels] of [
      ["argocd", {}],
      ["shop", { "istio-injection": "enabled" }],
      ["plain", {}],
    ] as const)
      await post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });
    // The CRD is served asynchronously.
    for (let i = 0; i < 50; i++) {
      const r = await api.rest.request("GET", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications");
      if (r.status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const app = (name: string, sync: string, health: string) => ({
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Application",
      metadata: { name, namespace: "argocd" },
      spec: { project: "default" },
      status: {
        sync: { status: sync },
        health: { status: health, ...(health !== "Healthy" ? { message: "Deployment web: 0/2 ready" } : {}) },
      },
    });
    await post(
      "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications",
      app("primary-mesh", "Synced", "Healthy"),
    );
    await post(
      "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications",
      app("primary-app", "OutOfSync", "Degraded"),
    );
    // shop/web: 2 replicas ready; one pod has the sidecar, one does not (started before injection).
    await post("/apis/apps/v1/namespaces/shop/deployments", deployment("web", "shop", 2));
    await status("/apis/apps/v1/namespaces/shop/deployments/web", { replicas: 2, readyReplicas: 2 });
    await post("/api/v1/namespaces/shop/pods", pod("web-a", "shop", ["web", "istio-proxy"]));
    await post("/api/v1/namespaces/shop/pods", pod("web-b", "shop", ["web"]));
    for (const p of ["web-a", "web-b"])
      await status(`/api/v1/namespaces/shop/pods/${p}`, { conditions: [{ type: "Ready", status: "True" }] });
    // plain/api: none ready.
    await post("/apis/apps/v1/namespaces/plain/deployments", deployment("api", "plain", 1));
  }, 180_000);
  afterAll(async () => {
    await api?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("Applications: Synced and Healthy passes, anything else fails with Argo CD's message", async () => {
    const apps = await checkApplications(kc);
    expect(apps.map((a) => [a.id, a.ok])).toEqual([
      ["application/argocd/primary-app", false],
      ["application/argocd/primary-mesh", true],
    ]);
    expect(apps[0]!.message).toBe("sync OutOfSync, health Degraded (Deployment web: 0/2 ready)");
  });

  it("Deployments' readiness and the sidecar where the namespace is injected", async () => {
    const byId = new Map((await checkWorkloads(kc)).map((c) => [c.id, c]));
    expect(byId.get("deployment/shop/web")?.ok).toBe(true);
    expect(byId.get("deployment/plain/api")?.ok).toBe(false);
    expect(byId.get("deployment/plain/api")?.message).toBe("0/1 replicas ready");
    expect(byId.get("sidecar/shop/web-a")?.ok).toBe(true);
    expect(byId.get("sidecar/shop/web-b")?.ok).toBe(false);
    expect(byId.get("sidecar/shop/web-b")?.message).toContain("rollout restart deployment/web");
    // No sidecar check in a namespace without injection.
    expect([...byId.keys()].some((k) => k.startsWith("sidecar/plain/"))).toBe(false);
  });

  it("verifyCluster and the CLI: one report, in pretty, JSON and JUnit, exit 1 on a failure", async () => {
    const requests = path.join(tmp, "requests.yaml");
    await writeFile(
      requests,
      `- name: apiserver-version\n  url: ${api.url}/nonexistent-plain-http\n  status: 200\n`,
    );
    const report = await verifyCluster(ROOT, {
      cluster: "primary",
      kubeconfig: api.kubeconfig,
      context: "validate",
      requestsFile: requests,
    });
    expect(report.context).toBe("validate");
    expect(report.checks.some((c) => c.id === "application/argocd/primary-mesh" && c.ok)).toBe(true);
    expect(report.checks.find((c) => c.id === "request/apiserver-version")?.ok).toBe(false);
    const junit = formatVerify(report, "junit");
    expect(junit).toMatch(/<testsuites name="pnpm verify" tests="\d+" failures="[1-9]\d*">/);
    expect(junit).toContain('<testcase classname="verify.primary.sidecar" name="sidecar/shop/web-b"');
    const json = JSON.parse(formatVerify(report, "json")) as { summary: { failed: number } };
    expect(json.summary.failed).toBeGreaterThanOrEqual(4);
    expect(formatVerify(report, "pretty")).toMatch(/FAIL {2}sidecar\/shop\/web-b/);

    // At chapter 15 without --ingress: the chapter's own expectations are listed as not sent
    // (gateway ones with the hint, workload ones as needing kubectl exec), never as passed;
    // --requests still adds its own.
    const at15 = await verifyCluster(ROOT, {
      cluster: "primary",
      chapter: "15",
      kubeconfig: api.kubeconfig,
      context: "validate",
      requestsFile: requests,
    });
    expect(at15.checks.filter((c) => c.id.startsWith("request/")).map((c) => c.id)).toEqual([
      "request/apiserver-version",
    ]);
    // Every expectation in force at chapter 15 (the cumulative set, counted from the chapters
    // themselves) is listed, none sent.
    const model = await loadRepoOrThrow(ROOT);
    const ch15 = model.chapters.find((c) => c.id === 15)!;
    const inForce = effectiveExpectations(model.chapters, ch15.dir, "primary").requests.length;
    expect(inForce).toBeGreaterThan(25);
    expect(at15.notSent).toHaveLength(inForce);
    expect(at15.notSent!.find((n) => n.name === "portal-blue-by-default")).toMatchObject({
      file: "chapters/10-traffic-splitting-advanced/chapter.yaml",
      reason: expect.stringMatching(/--ingress-https URL/),
    });
    expect(at15.notSent!.find((n) => n.name === "admins-get-v2")!.reason).toMatch(/kubectl exec/);
    const junit15 = formatVerify(at15, "junit");
    expect(junit15).toContain(`: not sent" tests="${inForce}" failures="0" skipped="${inForce}">`);
    expect(junit15).toContain(
      'name="request/portal-blue-by-default">\n      <skipped message="enters through',
    );
    expect(formatVerify(at15, "pretty").endsWith(`; ${inForce} expectations not sent\n`)).toBe(true);

    const cli = await run(
      path.join(ROOT, "node_modules/.bin/tsx"),
      [
        "scripts/verify.ts",
        "primary",
        "--kubeconfig",
        api.kubeconfig,
        "--context",
        "validate",
        "--format",
        "json",
      ],
      { cwd: ROOT },
    ).catch((e: { code: number; stdout: string }) => e);
    expect((cli as { code?: number }).code).toBe(1);
    expect(JSON.parse((cli as { stdout: string }).stdout).cluster).toBe("primary");
  }, 60_000);

  it("names the context and what to do when the cluster cannot be reached", async () => {
    const stale = path.join(tmp, "stale-kubeconfig");
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const { readFile } = await import("node:fs/promises");
    await writeFile(
      stale,
      (await readFile(api.kubeconfig, "utf8")).replace(api.url, `https://127.0.0.1:${port}`),
    );
    const err = await verifyCluster(ROOT, {
      cluster: "primary",
      kubeconfig: stale,
      context: "validate",
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /cannot reach the Kubernetes API server https:\/\/127\.0\.0\.1:\d+ of kube context 'validate'/,
    );
  });
});
