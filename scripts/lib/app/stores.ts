// Throwaway PostgreSQL and Redis servers from Debian's packages, for the apps tests, `pnpm dev` and
// `pnpm bench:app`. Each listens on 127.0.0.1 only. PostgreSQL refuses to run as root, so as root
// its commands run as the `postgres` system user (created by Debian's package) through runuser.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "../net/free-port.ts";

export const INSTALL_HINT =
  "install them with: sudo bash apps/install-test-deps.sh (Debian/Ubuntu: postgresql redis-server)";

export class MissingToolError extends Error {
  override name = "MissingToolError";
}

/** The newest /usr/lib/postgresql/<major>/bin holding a postgres binary. */
export function findPostgresBin(root = "/usr/lib/postgresql"): string | undefined {
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((entry) => /^\d+$/.test(entry) && existsSync(join(root, entry, "bin", "postgres")))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : join(root, majors[0], "bin");
}

export function findRedisServer(): string | undefined {
  for (const candidate of ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]) {
    if (existsSync(candidate)) return candidate;
  }
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** Whether something already listens on 127.0.0.1:`port`. */
export async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(true));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(false)));
  });
}

/** A fixed port must be free, or the probe would find whatever server already holds it. */
async function claimPort(port: number | undefined, what: string, variable: string): Promise<number> {
  if (port === undefined) return freePort();
  if (await portInUse(port)) {
    throw new Error(
      `port ${port} for ${what} is in use (a server left from an earlier run?); stop it or set ${variable}`,
    );
  }
  return port;
}

const isRoot = () => process.getuid?.() === 0;

/**
 * Where throwaway store directories go. As root, /tmp: the postgres user must be able to reach the
 * data directory, and a root TMPDIR (say under /root) would not let it through.
 */
export function storeTempRoot(): string {
  return isRoot() && existsSync("/tmp") ? "/tmp" : tmpdir();
}

interface SystemUser {
  readonly uid: number;
  readonly gid: number;
}

function postgresSystemUser(): SystemUser {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith("postgres:"));
  const [, , uid, gid] = line?.split(":") ?? [];
  if (uid === undefined || gid === undefined) {
    throw new MissingToolError(
      `running as root needs the "postgres" system user to start PostgreSQL; ${INSTALL_HINT}`,
    );
  }
  return { uid: Number(uid), gid: Number(gid) };
}

/** argv to run `command` as the postgres user when we are root, as is otherwise. */
function asPostgresUser(command: string, args: string[]): [string, string[]] {
  if (!isRoot()) return [command, args];
  postgresSystemUser();
  if (existsSync("/usr/sbin/runuser") || existsSync("/sbin/runuser"))
    return ["runuser", ["-u", "postgres", "--", command, ...args]];
  const quoted = [command, ...args].map((part) => `'${part.replaceAll("'", `'\\''`)}'`).join(" ");
  return ["su", ["postgres", "-s", "/bin/sh", "-c", quoted]];
}

async function waitUntil(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  child?: ChildProcess,
  log?: () => string,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null)
      throw new Error(`${what} exited with ${child.exitCode}: ${log?.() ?? ""}`);
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not become ready in ${timeoutMs} ms: ${log?.() ?? ""}`);
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export interface PostgresInstance {
  /** postgres://workshop:workshop@127.0.0.1:<port>/workshop */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface PostgresOptions {
  /** Keep data here between runs (pnpm dev); default: a new temporary directory, removed on stop. */
  readonly dataDir?: string;
  readonly port?: number;
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresInstance> {
  const bin = findPostgresBin();
  if (!bin)
    throw new MissingToolError(
      `PostgreSQL server binaries not found under /usr/lib/postgresql; ${INSTALL_HINT}`,
    );
  const temporary = options.dataDir === undefined;
  // The data directory lives under the system temp dir so the postgres user can reach it even when
  // the project sits in a directory only root may enter.
  const dataDir = options.dataDir ?? join(mkdtempSync(join(storeTempRoot(), "workshop-pg-")), "data");
  const owner = isRoot() ? postgresSystemUser() : undefined;
  for (const dir of [join(dataDir, ".."), dataDir]) {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (owner) chownSync(dir, owner.uid, owner.gid);
  }

  // A postmaster left behind by a killed run would hold the directory; stop it first.
  const stale = postmasterPid(dataDir);
  if (stale !== undefined && alive(stale)) {
    process.kill(stale, "SIGQUIT");
    await waitUntil("stale postgres to stop", 10_000, async () => !alive(stale));
  }

  if (!existsSync(join(dataDir, "PG_VERSION"))) {
    const [command, args] = asPostgresUser(join(bin, "initdb"), [
      "-D",
      dataDir,
      "-U",
      "postgres",
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--no-sync",
      "--no-instructions",
    ]);
    const init = spawnSync(command, args, { encoding: "utf8", cwd: storeTempRoot() });
    if (init.status !== 0) throw new Error(`initdb failed (${init.status}): ${init.stderr || init.stdout}`);
  }

  const port = await claimPort(options.port, "PostgreSQL", "DEV_PG_PORT");
  // Durability is traded for speed: these databases are disposable.
  const [command, args] = asPostgresUser(join(bin, "postgres"), [
    "-D",
    dataDir,
    "-p",
    String(port),
    "-h",
    "127.0.0.1",
    "-k",
    dataDir,
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "shared_buffers=32MB",
    "-c",
    "max_connections=200",
  ]);
  // Own process group: a Ctrl-C in the terminal reaches the apps, which drain, and not the database,
  // which the caller stops after them.
  const child = spawn(command, args, {
    stdio: ["ignore", "ignore", "pipe"],
    cwd: storeTempRoot(),
    detached: true,
  });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });

  const admin = { host: "127.0.0.1", port, user: "postgres", database: "postgres" };
  await waitUntil(
    "postgres",
    30_000,
    async () => {
      const client = new pg.Client(admin);
      try {
        await client.connect();
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    child,
    () => log,
  );

  const client = new pg.Client(admin);
  await client.connect();
  try {
    const role = await client.query("SELECT 1 FROM pg_roles WHERE rolname = 'workshop'");
    if (role.rowCount === 0) await client.query("CREATE ROLE workshop LOGIN PASSWORD 'workshop'");
    const database = await client.query("SELECT 1 FROM pg_database WHERE datname = 'workshop'");
    if (database.rowCount === 0) await client.query("CREATE DATABASE workshop OWNER workshop");
  } finally {
    await client.end();
  }

  const killOnExit = () => {
    const pid = postmasterPid(dataDir);
    if (pid !== undefined && alive(pid)) process.kill(pid, "SIGQUIT");
  };
  process.once("exit", killOnExit);

  return {
    url: `postgres://workshop:workshop@127.0.0.1:${port}/workshop`,
    port,
    dataDir,
    async stop() {
      process.removeListener("exit", killOnExit);
      // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, close, exit.
      const pid = postmasterPid(dataDir);
      if (pid !== undefined && alive(pid)) process.kill(pid, "SIGINT");
      await waitForExit(child, 15_000);
      if (temporary) rmSync(join(dataDir, ".."), { recursive: true, force: true });
    },
  };
}

export interface RedisInstance {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
    socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
  });
}

export async function startRedis(options: { port?: number } = {}): Promise<RedisInstance> {
  const server = findRedisServer();
  if (!server) throw new MissingToolError(`redis-server not found; ${INSTALL_HINT}`);
  const port = await claimPort(options.port, "Redis", "DEV_REDIS_PORT");
  const dir = mkdtempSync(join(storeTempRoot(), "workshop-redis-"));
  const child = spawn(
    server,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--loglevel",
      "warning",
    ],
    { stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  await waitUntil(
    "redis-server",
    15_000,
    () => redisPing(port),
    child,
    () => log,
  );
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      process.removeListener("exit", killOnExit);
      child.kill("SIGTERM");
      await waitForExit(child, 10_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
