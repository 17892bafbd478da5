/**
 * bootstrap and cluster:register against two small Kubernetes API servers on loopback that speak
 * the endpoints the commands use (discovery, server-side apply, get), so the real CLI and the real
 * @kubernetes/client-node requests are exercised without a cluster.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { argoClusterSecret, managerObjects } from "../../scripts/lib/kube/objects.ts";
import { argocdContext, registeredContext, registrationServer } from "../../scripts/lib/kube/register.ts";
import { REPO_ROOT, tempCopy } from "../helpers/temp-repo.ts";

const run = promisify(execFile);
const TSX = path.join(REPO_ROOT, "node_modules/.bin/tsx");

interface Recorded {
  method: string;
  url: string;
  contentType: string | undefined;
  body: string;
}

const DISCOVERY: Record<string, Array<{ name: string; kind: string; namespaced: boolean }>> = {
  "/api/v1": [
    { name: "secrets", kind: "Secret", namespaced: true },
    { name: "serviceaccounts", kind: "ServiceAccount", namespaced: true },
  ],
  "/apis/rbac.authorization.k8s.io/v1": [
    { name: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false },
  ],
  "/apis/apiextensions.k8s.io/v1": [
    { name: "customresourcedefinitions", kind: "CustomResourceDefinition", namespaced: false },
  ],
  "/apis/argoproj.io/v1alpha1": [
    { name: "applications", kind: "Application", namespaced: true },
    { name: "appprojects", kind: "AppProject", namespaced: true },
  ],
};

/** An in-memory API server: objects keyed by URL path; the token controller is emulated on apply. */
function fakeApiServer(seed: Record<string, unknown> = {}) {
  const objects = new Map<string, unknown>(Object.entries(seed));
  const requests: Recorded[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const url = new URL(req.url!, "http://x");
    requests.push({ method: req.method!, url: req.url!, contentType: req.headers["content-type"], body });
    const json = (code: number, value: unknown) =>
      res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(value));
    const group = DISCOVERY[url.pathname];
    if (req.method === "GET" && group)
      return json(200, {
        kind: "APIResourceList",
        groupVersion: url.pathname.replace(/^\/apis?\//, ""),
        resources: group.map((r) => ({ ...r, verbs: ["get", "patch"] })),
      });
    if (req.method === "PATCH") {
      const obj = parse(body) as { kind: string; data?: Record<string, string>; type?: string };
      if (obj.kind === "Secret" && obj.type === "kubernetes.io/service-account-token")
        obj.data = { token: Buffer.from("sa-token-123").toString("base64") };
      objects.set(url.pathname, obj);
      return json(200, obj);
    }
    if (req.method === "GET" && objects.has(url.pathname)) return json(200, objects.get(url.pathname));
    return json(404, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 });
  });
  return { server, objects, requests };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("cluster objects", () => {
  it("builds Argo CD's declarative cluster Secret with the token and CA, never in git", () => {
    const s = argoClusterSecret({
      name: "remote",
      server: "https://10.0.0.1:6443",
      bearerToken: "t",
      caData: "Q0E=",
    });
    expect(s.metadata).toMatchObject({
      name: "cluster-remote",
      namespace: "argocd",
      labels: { "argocd.argoproj.io/secret-type": "cluster" },
    });
    expect(JSON.parse((s.stringData as { config: string }).config)).toEqual({
      bearerToken: "t",
      tlsClientConfig: { caData: "Q0E=" },
    });
    expect(managerObjects().map((o) => o.kind)).toEqual(["ServiceAccount", "ClusterRoleBinding", "Secret"]);
  });
});

describe("cluster:register's choices", () => {
  it("refuses loopback API server URLs from the kubeconfig, takes --server as given", () => {
    for (const local of [
      "https://127.0.0.1:40123",
      "https://localhost:6443",
      "https://[::1]:6443",
      "https://0.0.0.0:6443",
    ])
      expect(() => registrationServer(local), local).toThrow(/loopback address/);
    expect(registrationServer("https://10.1.2.3:6443")).toBe("https://10.1.2.3:6443");
    expect(registrationServer("https://127.0.0.1:40123", "https://172.18.0.3:6443/")).toBe(
      "https://172.18.0.3:6443",
    );
    expect(() => registrationServer(undefined, "172.18.0.3:6443")).toThrow(
      /must be an https:\/\/ URL|is not a URL/,
    );
    expect(() => registrationServer(undefined)).toThrow(/pass --server/);
    expect(() => registrationServer("https://10.1.2.3:6443", "")).toThrow(/--server is empty/);
  });

  it("defaults the contexts to the ones named like the cluster and its primary", () => {
    expect(registeredContext("remote", ["primary", "remote"])).toBe("remote");
    expect(registeredContext("remote", ["kind-a"], "kind-a")).toBe("kind-a");
    expect(() => registeredContext("remote", ["kind-a", "kind-b"])).toThrow(
      /pass --context .*kind-a, kind-b/,
    );
    expect(argocdContext("primary", ["primary", "remote"], "remote")).toBe("primary");
    expect(argocdContext("primary", ["kind-a"], "kind-a")).toBe("kind-a");
    expect(argocdContext("primary", ["primary"], "primary", "other")).toBe("other");
  });
});

describe("pnpm bootstrap and pnpm cluster:register (real CLI, loopback API servers)", () => {
  const argocd = fakeApiServer({
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/applications.argoproj.io": {
      kind: "CustomResourceDefinition",
      metadata: { name: "applications.argoproj.io" },
    },
  });
  const remote = fakeApiServer();
  const empty = fakeApiServer();
  let dir: string;
  let cleanup: () => Promise<void>;
  let kubeconfig: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempCopy("repo-basic"));
    const remoteFile = path.join(dir, "clusters/remote/cluster.yaml");
    await writeFile(
      remoteFile,
      (await readFile(remoteFile, "utf8")).replace(
        '{ server: "https://remote.example.com:6443" }',
        "{ name: remote }",
      ),
    );
    await run(TSX, [path.join(REPO_ROOT, "scripts/render.ts")], { cwd: dir });
    const [a, r, e] = [await listen(argocd.server), await listen(remote.server), await listen(empty.server)];
    kubeconfig = path.join(dir, "kubeconfig");
    const cluster = (name: string, server: string, ca = true) => ({
      name,
      cluster: {
        server,
        "insecure-skip-tls-verify": true,
        ...(ca ? { "certificate-authority-data": "Q0EtREFUQQ==" } : {}),
      },
    });
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [cluster("primary", a), cluster("remote", r), cluster("empty", e)],
        users: [{ name: "admin", user: { token: "admin-token" } }],
        contexts: ["primary", "remote", "empty"].map((n) => ({
          name: n,
          context: { cluster: n, user: "admin" },
        })),
        "current-context": "primary",
      }),
    );
  });
  afterAll(async () => {
    for (const s of [argocd, remote, empty]) s.server.close();
    await cleanup();
  });

  const cli = async (script: string, ...args: string[]) => {
    try {
      const { stdout, stderr } = await run(
        TSX,
        [path.join(REPO_ROOT, "scripts", script), ...args, "--kubeconfig", kubeconfig],
        { cwd: dir },
      );
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };

  it("bootstrap server-side applies each cluster's AppProject and root Application", async () => {
    const res = await cli("bootstrap.ts");
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(
      "primary: applied AppProject/argocd/workshop-primary, Application/argocd/primary-root",
    );
    const applies = argocd.requests.filter((r) => r.method === "PATCH");
    expect(applies.map((r) => new URL(r.url, "http://x").pathname)).toEqual([
      "/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects/workshop-primary",
      "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/primary-root",
      "/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects/workshop-remote",
      "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/remote-root",
    ]);
    for (const r of applies) {
      expect(r.contentType).toBe("application/apply-patch+yaml");
      expect(r.url).toContain("fieldManager=istio-gitops-workshop");
      expect(r.url).toContain("force=true");
    }
    const rootApp = argocd.objects.get(
      "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/remote-root",
    ) as { spec: { source: { path: string } } };
    expect(rootApp.spec.source.path).toBe("clusters/remote/rendered/argocd");
  });

  it("bootstrap refuses, naming the fix, when Argo CD is not installed", async () => {
    const res = await cli("bootstrap.ts", "--context", "empty");
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("Argo CD is not installed in kube context 'empty'");
    expect(res.stderr).toContain("helmfile -e primary -l name=argo-cd apply");
    expect(empty.requests.some((r) => r.method === "PATCH")).toBe(false);
  });

  it("cluster:register refuses a loopback server URL that Argo CD cannot reach, naming --server, before creating anything", async () => {
    const res = await cli("cluster-register.ts", "remote");
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("a loopback address that Argo CD, running in another cluster, cannot reach");
    expect(res.stderr).toContain("--server https://$(docker inspect");
    expect(remote.requests.some((r) => r.method === "PATCH")).toBe(false);
    expect(argocd.requests.some((r) => r.url.includes("/secrets/cluster-remote"))).toBe(false);
  });

  it("cluster:register creates the manager account remotely and the cluster Secret in Argo CD", async () => {
    // No --context, no --argocd-context: the contexts named like the cluster and its primary.
    const res = await cli("cluster-register.ts", "remote", "--server", "https://172.18.0.3:6443");
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(
      "registered 'remote' (https://172.18.0.3:6443) with Argo CD in context 'primary'",
    );
    expect(remote.objects.has("/api/v1/namespaces/kube-system/serviceaccounts/argocd-manager")).toBe(true);
    expect(
      remote.objects.has(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/argocd-manager-role-binding",
      ),
    ).toBe(true);
    const secret = argocd.objects.get("/api/v1/namespaces/argocd/secrets/cluster-remote") as {
      metadata: { labels: Record<string, string> };
      stringData: Record<string, string>;
    };
    expect(secret.metadata.labels["argocd.argoproj.io/secret-type"]).toBe("cluster");
    expect(secret.stringData.name).toBe("remote");
    // The URL given with --server, not the kubeconfig's loopback one the primary cannot reach.
    expect(secret.stringData.server).toBe("https://172.18.0.3:6443");
    expect(JSON.parse(secret.stringData.config!)).toEqual({
      bearerToken: "sa-token-123",
      tlsClientConfig: { caData: "Q0EtREFUQQ==" },
    });
    // Nothing with the token was written into the repository.
    const { stdout } = await run("grep", ["-rl", "sa-token-123", dir]).catch(() => ({ stdout: "" }));
    expect(stdout).toBe("");
  });

  it("cluster:register refuses a cluster that Argo CD addresses by server URL, and a missing context", async () => {
    const file = path.join(dir, "clusters/primary/cluster.yaml");
    const original = await readFile(file, "utf8");
    await writeFile(
      file,
      original.replace("{ name: in-cluster }", '{ server: "https://primary.example.com:6443" }'),
    );
    try {
      const res = await cli("cluster-register.ts", "primary", "--context", "remote");
      expect(res.code).toBe(1);
      expect(res.stderr).toContain("sets argocd.destination.server");
    } finally {
      await writeFile(file, original);
    }
    const usage = await cli("cluster-register.ts");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain(
      "usage: pnpm cluster:register <cluster> [--context KUBE_CONTEXT] [--server",
    );
    // A kubeconfig without a context named like the cluster: the refusal says to pass --context.
    const other = path.join(dir, "kubeconfig-other");
    const config = JSON.parse(await readFile(kubeconfig, "utf8")) as { contexts: Array<{ name: string }> };
    config.contexts = config.contexts.filter((c) => c.name !== "remote");
    await writeFile(other, JSON.stringify(config));
    const missing = await run(
      TSX,
      [path.join(REPO_ROOT, "scripts/cluster-register.ts"), "remote", "--kubeconfig", other],
      {
        cwd: dir,
      },
    ).catch((e: unknown) => e as { code: number; stderr: string });
    expect((missing as { code: number }).code).toBe(1);
    expect((missing as { stderr: string }).stderr).toContain(
      "no kube context named 'remote' in your kubeconfig, and no --context: pass --context",
    );
  });
});

/**
 * Without a working cluster the cluster commands say in one line what is missing and how to fix
 * it (exit 1), never a stack trace: no kubeconfig at KUBECONFIG, none at all, an unknown context,
 * an API server on a closed loopback port.
 */
describe("cluster commands without a reachable cluster", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let closed: string;
  let closedPort: number;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempCopy("repo-basic"));
    // Registration is for clusters Argo CD knows by name.
    const remoteFile = path.join(dir, "clusters/remote/cluster.yaml");
    const text = await readFile(remoteFile, "utf8");
    await writeFile(
      remoteFile,
      text.replace('{ server: "https://remote.example.com:6443" }', "{ name: remote }"),
    );
    await run(TSX, [path.join(REPO_ROOT, "scripts/render.ts")], { cwd: dir });
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    closedPort = (
      (await new Promise<AddressInfo>((resolve) =>
        probe.listen(0, "127.0.0.1", () => resolve(probe.address() as AddressInfo)),
      )) as AddressInfo
    ).port;
    await new Promise((r) => probe.close(r));
    closed = path.join(dir, "kubeconfig-closed");
    await writeFile(
      closed,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: `https://127.0.0.1:${closedPort}` } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: ["primary", "remote"].map((name) => ({ name, context: { cluster: "c", user: "u" } })),
        "current-context": "primary",
      }),
    );
  });
  afterAll(async () => {
    await cleanup();
  });

  const cli = async (env: Record<string, string>, script: string, ...args: string[]) => {
    try {
      const { stdout, stderr } = await run(TSX, [path.join(REPO_ROOT, "scripts", script), ...args], {
        cwd: dir,
        env: { ...process.env, ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };
  const oneLine = (stderr: string) => {
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stderr.trim().split("\n")).toHaveLength(1);
  };
  const commands: Array<[string, string[]]> = [
    ["bootstrap.ts", []],
    ["cluster-register.ts", ["remote", "--server", "https://10.0.0.1:6443"]],
  ];

  it.each(commands)("%s with KUBECONFIG at a missing file names it and says how to fix it", async (s, a) => {
    const missing = path.join(dir, "no-such-kubeconfig");
    const res = await cli({ KUBECONFIG: missing }, s, ...a);
    expect(res.code).toBe(1);
    oneLine(res.stderr);
    expect(res.stderr).toContain(`no kubeconfig: ${missing} (KUBECONFIG) does not exist`);
    expect(res.stderr).toContain("--kubeconfig FILE");
  });

  it.each(commands)("%s with no kubeconfig anywhere names ~/.kube/config", async (s, a) => {
    const home = path.join(dir, "empty-home");
    const res = await cli({ KUBECONFIG: "", HOME: home }, s, ...a);
    expect(res.code).toBe(1);
    oneLine(res.stderr);
    expect(res.stderr).toContain(`no kubeconfig: ${path.join(home, ".kube/config")} (the default location)`);
  });

  it.each(commands)("%s against a closed 127.0.0.1 port says the server is unreachable", async (s, a) => {
    const res = await cli({ KUBECONFIG: closed }, s, ...a);
    expect(res.code).toBe(1);
    oneLine(res.stderr);
    expect(res.stderr).toContain(
      `cannot reach the Kubernetes API server https://127.0.0.1:${closedPort} of kube context`,
    );
    expect(res.stderr).toContain("connection refused");
    expect(res.stderr).toContain("cluster-info");
  });

  it("an unknown context lists the known ones", async () => {
    const res = await cli({ KUBECONFIG: closed }, "bootstrap.ts", "--context", "nope");
    expect(res.code).toBe(1);
    oneLine(res.stderr);
    expect(res.stderr).toContain("kube context 'nope' is not in");
    expect(res.stderr).toContain("pass --context with one of: primary, remote");
  });
});
