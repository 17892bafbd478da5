/**
 * `pnpm validate --server` never leaves etcd or kube-apiserver behind: not after a run, not when
 * the server fails to start, not on SIGINT/SIGTERM, not even when validate itself is SIGKILLed
 * (the watchdog). Each run gets its own TMPDIR, so its server processes are found by their data
 * folder in /proc/<pid>/cmdline, and their ports are read from their arguments.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURES, REPO_ROOT } from "./helpers.ts";

interface Seen {
  pid: number;
  ports: number[];
}

/** Processes whose command line mentions `marker` (the run's private TMPDIR). */
function serverProcesses(marker: string): Seen[] {
  const out: Seen[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, "utf8");
    } catch {
      continue;
    }
    const args = cmd.split("\0");
    if (!/(etcd|kube-apiserver)$/.test(args[0] ?? "") || !cmd.includes(marker)) continue;
    const ports = args.flatMap((a) =>
      [...a.matchAll(/^--(?:secure-port=|listen-(?:client|peer)-urls=http:\/\/127\.0\.0\.1:)(\d+)$/g)].map(
        (m) => Number(m[1]),
      ),
    );
    out.push({ pid: Number(d), ports });
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    // A zombie still answers kill(0); its state letter says it is gone.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      // A connect to a free port of the ephemeral range can meet itself (TCP simultaneous open,
      // source port = destination port): that is nobody listening.
      const self = s.localPort === port;
      s.destroy();
      resolve(!self);
    });
    s.once("error", () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The command lines of the processes listening on `port` (from /proc/net/tcp{,6} and the socket
 * inodes in /proc/<pid>/fd): another test's server may take a port the API server gave back.
 */
function listenersOf(port: number): string[] {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === "0A" && parseInt(f[1]!.split(":")[1]!, 16) === port) inodes.add(f[9]!);
    }
  }
  const out: string[] = [];
  if (inodes.size === 0) return out;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${d}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link = "";
      try {
        link = readlinkSync(`/proc/${d}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1]!)) {
        out.push(readFileSync(`/proc/${d}/cmdline`, "utf8").replaceAll("\0", " "));
        break;
      }
    }
  }
  return out;
}

/** Closed, or (on a busy machine) taken by some other process since: never by a server of this run. */
async function expectNotOurs(port: number, marker: string): Promise<void> {
  if (!(await listening(port))) return;
  expect(
    listenersOf(port).filter((c) => c.includes(marker)),
    `port ${port}`,
  ).toEqual([]);
}

describe("the server layer leaves nothing running", () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "server-lifecycle-"));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  /** Starts `validate --server` on the fresh fixtures with a TMPDIR of its own. */
  async function start(name: string, env: Record<string, string> = {}) {
    const own = path.join(tmp, name);
    await mkdir(own);
    const child = spawn(
      process.execPath,
      [
        "scripts/launch.mjs",
        "scripts/validate.ts",
        "--server",
        "--rule",
        "server/*",
        "--format",
        "json",
        path.join(FIXTURES, "server", "fresh"),
      ],
      { cwd: REPO_ROOT, env: { ...process.env, TMPDIR: own, ...env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal })),
    );
    return { own, child, exited, out: () => ({ stdout, stderr }) };
  }

  /** Polls until the run's kube-apiserver listens (both processes seen), recording what it saw. */
  async function waitServing(own: string, child: ChildProcess, timeoutMs = 120_000): Promise<Seen[]> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && child.exitCode === null) {
      const seen = serverProcesses(own);
      const api = seen.find((s) => s.ports.length === 1);
      if (seen.length === 2 && api && (await listening(api.ports[0]!))) return seen;
      await sleep(100);
    }
    throw new Error(`no server seen for ${own}`);
  }

  async function expectNothingLeft(own: string, seen: Seen[], withinMs = 0) {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const left = seen.filter((s) => alive(s.pid));
      if (left.length === 0 || Date.now() >= deadline) {
        expect(left, "server processes still running").toEqual([]);
        break;
      }
      await sleep(200);
    }
    expect(serverProcesses(own)).toEqual([]);
    for (const port of seen.flatMap((s) => s.ports)) await expectNotOurs(port, own);
    expect(readdirSync(own).filter((f) => f.startsWith("validate-apiserver-"))).toEqual([]);
  }

  it("the port check finds who listens (this test process, here)", async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as { port: number }).port;
    try {
      expect(await listening(port)).toBe(true);
      expect(listenersOf(port)).toEqual([
        readFileSync(`/proc/${process.pid}/cmdline`, "utf8").replaceAll("\0", " "),
      ]);
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
    expect(await listening(port)).toBe(false);
  });

  it("after a run: findings reported, processes ended, ports closed, data folder removed", async () => {
    const run = await start("normal");
    const seen = await waitServing(run.own, run.child);
    expect(seen.flatMap((s) => s.ports)).toHaveLength(3);
    const { code } = await run.exited;
    expect(code, run.out().stderr).toBe(1);
    const report = JSON.parse(run.out().stdout) as { findings: Array<{ rule: string }> };
    expect(report.findings.some((f) => f.rule === "server/rejected")).toBe(true);
    await expectNothingLeft(run.own, seen);
  }, 180_000);

  for (const [signal, code] of [
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const) {
    it(`on ${signal}: exits ${code} with the servers stopped`, async () => {
      const run = await start(signal.toLowerCase());
      const seen = await waitServing(run.own, run.child);
      run.child.kill(signal);
      const exit = await run.exited;
      expect(exit.code, run.out().stderr).toBe(code);
      await expectNothingLeft(run.own, seen);
    }, 180_000);
  }

  it("when validate is SIGKILLed, the watchdog stops the servers within seconds", async () => {
    const run = await start("sigkill");
    const seen = await waitServing(run.own, run.child);
    run.child.kill("SIGKILL");
    await run.exited;
    // The folder stays (nothing ran in validate to remove it); the processes and ports do not.
    const deadline = Date.now() + 5_000;
    while (seen.some((s) => alive(s.pid)) && Date.now() < deadline) await sleep(200);
    expect(seen.filter((s) => alive(s.pid))).toEqual([]);
    for (const port of seen.flatMap((s) => s.ports)) await expectNotOurs(port, run.own);
  }, 180_000);

  it("when kube-apiserver fails to start: a clear error, and etcd is stopped too", async () => {
    const fake = path.join(tmp, "kube-apiserver");
    await writeFile(fake, "#!/bin/sh\necho 'boom: cannot start' >&2\nexit 3\n");
    await chmod(fake, 0o755);
    const run = await start("failure", { KUBE_APISERVER_BIN: fake });
    const exit = await run.exited;
    expect(exit.code).toBe(2);
    expect(run.out().stderr).toMatch(
      /kube-apiserver exited \(3\) before the API server was ready:\s+boom: cannot start/,
    );
    expect(serverProcesses(run.own)).toEqual([]);
    expect(existsSync(run.own)).toBe(true);
    expect(readdirSync(run.own).filter((f) => f.startsWith("validate-apiserver-"))).toEqual([]);
  }, 120_000);
});
