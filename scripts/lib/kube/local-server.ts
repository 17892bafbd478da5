/**
 * A private Kubernetes API server for validation: etcd + kube-apiserver (the pinned builds of
 * pins.ts) on 127.0.0.1, on free ports, with self-made certificates, a service-account key and a
 * data folder of their own. Nothing else of a cluster runs (no controller manager, scheduler or
 * kubelet): objects are stored and validated, never acted on.
 *
 * Never left running: `stop()` ends both and removes the folder; if the process exits first, an
 * exit hook kills them; on SIGINT/SIGTERM they are killed before the process exits 130/143; and a
 * watchdog shell kills them when this process dies without running any hook (SIGKILL, a crash).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, rmSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { makeCa, openssl, signLeaf } from "../net/certs.ts";
import { freePort } from "../net/free-port.ts";
import { TOOL_PINS } from "../tools/pins.ts";
import { resolveTool, ToolError } from "../tools/resolve.ts";
import { KubeRest } from "./rest.ts";

export interface LocalApiServer {
  /** https://127.0.0.1:<port> */
  url: string;
  rest: KubeRest;
  /** A kubeconfig file for kubectl and @kubernetes/client-node (context `validate`). */
  kubeconfig: string;
  pids: { etcd: number; apiserver: number };
  ports: number[];
  /** Stops both processes and removes the data folder; safe to call twice. */
  stop(): Promise<void>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** How long to wait for /readyz (default 90 s: a cold start on a busy 2-core machine). */
  readyTimeoutMs?: number;
}

/** CA, serving certificate for 127.0.0.1, an admin client certificate (system:masters), an SA key. */
function makeCerts(dir: string): void {
  makeCa(dir, "validate-ca", 2);
  signLeaf(
    dir,
    "server",
    "/CN=kube-apiserver",
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc",
    2,
  );
  signLeaf(dir, "admin", "/O=system:masters/CN=validate-admin", "extendedKeyUsage=clientAuth", 2);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sa.key"], dir);
}

const live = new Set<ChildProcess>();
let hooked = false;

/**
 * Kills every server child now (SIGKILL: their data is a temp folder, nothing to flush) and waits,
 * synchronously (this runs in exit and signal handlers), up to 2 s until each is dead (a zombie,
 * on Linux), so that its ports are closed by the time this process is gone.
 */
function killAllNow(): void {
  const pids: number[] = [];
  for (const c of live) {
    try {
      c.kill("SIGKILL");
      if (c.pid) pids.push(c.pid);
    } catch {
      // Already gone.
    }
  }
  live.clear();
  if (pids.length === 0) return;
  const wait = `for p in ${pids.join(" ")}; do while [ -r /proc/$p/stat ] && ! grep -q '^[0-9]* (.*) Z' /proc/$p/stat 2>/dev/null; do sleep 0.02; done; done`;
  spawnSync("sh", ["-c", wait], { stdio: "ignore", timeout: 2000 });
}

const dataDirs = new Set<string>();

function hookProcess(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    killAllNow();
    for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
  });
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    process.on(signal, () => {
      // Only when a server is running: otherwise other handlers (or the default) decide.
      if (live.size === 0) return;
      killAllNow();
      for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
      // Another handler (promote's workspace undo) may still have work to do and exits itself.
      if (process.listenerCount(signal) === 1) process.exit(code);
    });
  }
}

/** The last output of each child, for the error when it dies (the log file may not be flushed yet). */
const recent = new WeakMap<ChildProcess, string>();

function startProcess(bin: string, args: string[], logFile: string, env: NodeJS.ProcessEnv): ChildProcess {
  const out = createWriteStream(logFile);
  // The folder may be removed under it on stop: the log is a convenience, never an error.
  out.on("error", () => {});
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env });
  recent.set(child, "");
  // Both pipes into one file: neither may end it on its own (the first to end would cut the other).
  child.once("close", () => out.end());
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.pipe(out, { end: false });
    stream.on("data", (c: Buffer) =>
      recent.set(child, ((recent.get(child) ?? "") + c.toString()).slice(-8192)),
    );
  }
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

function lastLines(text: string, lines = 15): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/**
 * Kills the servers when `parent` is gone, checked every second: covers a SIGKILLed or crashed
 * validate, which runs no exit hook. Detached, so a signal to the process group spares it.
 */
function watchdog(parent: number, pids: number[]): void {
  const script = `while kill -0 ${parent} 2>/dev/null; do sleep 1; done; kill -9 ${pids.join(" ")} 2>/dev/null; exit 0`;
  const w = spawn("sh", ["-c", script], { stdio: "ignore", detached: true });
  w.unref();
}

async function tail(file: string, lines = 15): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text.trim().split("\n").slice(-lines).join("\n");
}

async function waitReady(
  rest: KubeRest,
  children: ChildProcess[],
  timeoutMs: number,
  logs: string[],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
    if (dead) {
      const which = dead === children[0] ? "etcd" : "kube-apiserver";
      // Its pipes may still hold the last words: wait for them to close (briefly).
      await Promise.race([once(dead.stderr!, "close"), new Promise((r) => setTimeout(r, 1000))]);
      throw new ToolError(
        which,
        TOOL_PINS[which].version,
        `${which} exited (${dead.exitCode ?? dead.signalCode}) before the API server was ready:\n${lastLines(recent.get(dead) ?? "")}`,
      );
    }
    try {
      const r = await rest.request("GET", "/readyz");
      if (r.status === 200) return;
      last = `HTTP ${r.status} ${r.text.slice(0, 300)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new ToolError(
    "kube-apiserver",
    TOOL_PINS["kube-apiserver"].version,
    `the API server was not ready after ${Math.round(timeoutMs / 1000)} s (last: ${last}):\n${await tail(logs[1]!)}`,
  );
}

export async function startLocalApiServer(options: StartOptions = {}): Promise<LocalApiServer> {
  const env = options.env ?? process.env;
  const [etcdBin, apiserverBin] = [
    await resolveTool("etcd", { env, ...(options.log ? { log: options.log } : {}) }),
    await resolveTool("kube-apiserver", { env, ...(options.log ? { log: options.log } : {}) }),
  ];
  hookProcess();
  const dir = await mkdtemp(path.join(os.tmpdir(), "validate-apiserver-"));
  dataDirs.add(dir);
  const children: ChildProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
    await Promise.all(
      children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const timer = setTimeout(() => c.kill("SIGKILL"), 5_000);
        await once(c, "exit").catch(() => {});
        clearTimeout(timer);
      }),
    );
    rmSync(dir, { recursive: true, force: true });
    dataDirs.delete(dir);
  };
  try {
    makeCerts(dir);
    const [etcdClient, etcdPeer, securePort] = [await freePort(), await freePort(), await freePort()];
    const childEnv = { PATH: env.PATH ?? "", HOME: env.HOME ?? os.homedir() };
    const logs = [path.join(dir, "etcd.log"), path.join(dir, "apiserver.log")];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    children.push(
      startProcess(
        etcdBin,
        [
          "--name=validate",
          `--data-dir=${path.join(dir, "etcd")}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-cluster=validate=http://127.0.0.1:${etcdPeer}`,
          // A throwaway store: durability costs seconds and buys nothing.
          "--unsafe-no-fsync",
          "--log-level=error",
        ],
        logs[0]!,
        childEnv,
      ),
    );
    children.push(
      startProcess(
        apiserverBin,
        [
          `--etcd-servers=${etcdUrl}`,
          "--bind-address=127.0.0.1",
          "--advertise-address=127.0.0.1",
          `--secure-port=${securePort}`,
          `--cert-dir=${dir}`,
          `--tls-cert-file=${path.join(dir, "server.crt")}`,
          `--tls-private-key-file=${path.join(dir, "server.key")}`,
          `--client-ca-file=${path.join(dir, "ca.crt")}`,
          `--service-account-key-file=${path.join(dir, "sa.key")}`,
          `--service-account-signing-key-file=${path.join(dir, "sa.key")}`,
          "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
          "--service-cluster-ip-range=10.96.0.0/16",
          "--authorization-mode=RBAC",
          // No controller manager creates namespaces' default service accounts, so the
          // ServiceAccount admission plugin would refuse every Pod; nothing here runs a Pod anyway.
          "--disable-admission-plugins=ServiceAccount",
          "--endpoint-reconciler-type=none",
          "--enable-priority-and-fairness=false",
          "--profiling=false",
          "--v=0",
        ],
        logs[1]!,
        childEnv,
      ),
    );
    watchdog(
      process.pid,
      children.map((c) => c.pid!),
    );
    const url = `https://127.0.0.1:${securePort}`;
    const [ca, cert, key] = await Promise.all(
      ["ca.crt", "admin.crt", "admin.key"].map((f) => readFile(path.join(dir, f), "utf8")),
    );
    const rest = new KubeRest(url, { ca: ca!, cert: cert!, key: key! });
    await waitReady(rest, children, options.readyTimeoutMs ?? 90_000, logs);
    const kubeconfig = path.join(dir, "kubeconfig");
    await writeFile(kubeconfig, kubeconfigYaml(url, ca!, cert!, key!));
    return {
      url,
      rest,
      kubeconfig,
      pids: { etcd: children[0]!.pid!, apiserver: children[1]!.pid! },
      ports: [etcdClient, etcdPeer, securePort],
      async stop() {
        rest.close();
        await stop();
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

function kubeconfigYaml(url: string, ca: string, cert: string, key: string): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: validate`,
    `  cluster: {server: "${url}", certificate-authority-data: ${b64(ca)}}`,
    "users:",
    `- name: validate-admin`,
    `  user: {client-certificate-data: ${b64(cert)}, client-key-data: ${b64(key)}}`,
    "contexts:",
    `- name: validate`,
    `  context: {cluster: validate, user: validate-admin}`,
    "current-context: validate",
    "",
  ].join("\n");
}
