// pnpm dev: the whole application on localhost. PostgreSQL and Redis from Debian's packages (data
// kept between runs), every service as its own process, content-generator v1, v2 and v3 side by side
// behind a round-robin proxy standing in for the Kubernetes Service. Ctrl-C stops all of it.
//
// Options (environment): DEV_BASE_PORT (8080), DEV_PG_PORT (55432), DEV_REDIS_PORT (56379),
// DEV_DATA_DIR (PostgreSQL's data), DEV_JSON_LOGS=1 for raw JSON log lines, and any app variable
// (FAULT_MODE, PROPAGATE_TRACE_HEADERS…), which reaches every service.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  DEV_SERVICE_DEFAULTS,
  spawnApp,
  stopApp,
  waitForHttp,
  REPO_ROOT,
  type AppProcess,
} from "./lib/app/processes.ts";
import { startRoundRobinProxy, type RoundRobinProxy } from "./lib/app/round-robin-proxy.ts";
import {
  findPostgresBin,
  findRedisServer,
  INSTALL_HINT,
  startPostgres,
  startRedis,
  storeTempRoot,
  type PostgresInstance,
  type RedisInstance,
} from "./lib/app/stores.ts";

const env = process.env;
const base = Number(env["DEV_BASE_PORT"] ?? 8080);
const ports = {
  portal: base,
  auth: base + 1,
  content: base + 2,
  contentVersions: { v1: base + 3, v2: base + 4, v3: base + 5 },
  images: base + 6,
  mailing: base + 7,
};
const local = (port: number) => `http://127.0.0.1:${port}`;

/** Finds PostgreSQL and Redis, installing them with apt when we are root and may. */
function ensureStores(): void {
  if (findPostgresBin() && findRedisServer()) return;
  const canInstall = process.getuid?.() === 0 && existsSync("/usr/bin/apt-get");
  if (!canInstall) {
    console.error(`pnpm dev needs PostgreSQL and Redis server binaries; ${INSTALL_HINT}`);
    process.exit(1);
  }
  console.log("installing PostgreSQL and Redis with apt (apps/install-test-deps.sh) …");
  const result = spawnSync("bash", [join(REPO_ROOT, "apps/install-test-deps.sh")], { stdio: "inherit" });
  if (result.status !== 0 || !findPostgresBin() || !findRedisServer()) {
    console.error(`installing failed; ${INSTALL_HINT}`);
    process.exit(1);
  }
}

const HELP = `usage: pnpm dev

Runs the whole application on 127.0.0.1: PostgreSQL and Redis (installed with apt when missing and
run as root), every service as its own process, content-generator v1, v2 and v3 behind a
round-robin proxy. Ctrl-C (or SIGTERM) stops all of it.
Environment: DEV_BASE_PORT (8080: portal; the services on the next ports), DEV_PG_PORT (55432),
  DEV_REDIS_PORT (56379), DEV_DATA_DIR (PostgreSQL's data), DEV_JSON_LOGS=1 (raw JSON log lines),
  and any app variable (FAULT_MODE, PROPAGATE_TRACE_HEADERS, ...), which reaches every service.`;

/** --help, or nothing: a flag dev does not know must not start (or install) anything. */
function parseDevArgs(argv: string[]): "help" | "run" {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { help: { type: "boolean", short: "h", default: false } },
    });
    return values.help ? "help" : "run";
  } catch (e) {
    console.error(`usage error: ${(e as Error).message}\n${HELP}`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  if (parseDevArgs(process.argv.slice(2)) === "help") {
    console.log(HELP);
    return;
  }
  ensureStores();
  const apps: AppProcess[] = [];
  let proxy: RoundRobinProxy | undefined;
  let postgres: PostgresInstance | undefined;
  let redis: RedisInstance | undefined;
  let stopping = false;
  const starting: Array<Promise<{ stop(): Promise<void> }>> = [];
  // With the terminal gone, a write must not throw (EPIPE, EIO) before everything is stopped.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});

  const stopAll = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\nstopping (${reason}) …`);
    await Promise.all(apps.map((app) => stopApp(app)));
    await proxy?.close();
    // Through the start-up promises: a signal during start-up still stops a store that comes up later.
    await Promise.all(
      starting.map((store) =>
        store.then(
          (s) => s.stop(),
          () => undefined,
        ),
      ),
    );
    console.log("stopped everything pnpm dev started");
    process.exit(0);
  };
  // `on`, not `once`: under `pnpm dev` a Ctrl-C arrives twice (from the terminal and relayed by tsx),
  // and a second signal without a handler would kill this process before it stopped the stores.
  process.on("SIGINT", () => void stopAll("SIGINT"));
  process.on("SIGTERM", () => void stopAll("SIGTERM"));
  // A closed terminal sends SIGHUP, whose default would end this process and leave every service,
  // PostgreSQL and Redis running.
  process.on("SIGHUP", () => void stopAll("SIGHUP"));
  // Under `pnpm dev` this process is tsx's child. When tsx (or pnpm) is killed without relaying a
  // signal (SIGKILL, SIGHUP to it alone), we are re-parented: stop then, not never.
  const parent = process.ppid;
  const watchParent = setInterval(() => {
    if (process.ppid !== parent) void stopAll(`parent process ${parent} is gone`);
  }, 500);
  watchParent.unref();

  try {
    const dataDir =
      env["DEV_DATA_DIR"] ??
      join(storeTempRoot(), `istio-workshop-dev-${process.getuid?.() ?? "user"}`, "postgres");
    const pg = startPostgres({ dataDir, port: Number(env["DEV_PG_PORT"] ?? 55432) });
    const rd = startRedis({ port: Number(env["DEV_REDIS_PORT"] ?? 56379) });
    starting.push(pg, rd);
    [postgres, redis] = await Promise.all([pg, rd]);
    if (stopping) return;
    console.log(`PostgreSQL ${postgres.url} (data in ${dataDir}), Redis ${redis.url}`);

    const onLine =
      env["DEV_JSON_LOGS"] === "1"
        ? (name: string, line: string) => console.log(`[${name}] ${line}`)
        : undefined;
    const common = {
      SHUTDOWN_DELAY_MS: env["SHUTDOWN_DELAY_MS"] ?? DEV_SERVICE_DEFAULTS["SHUTDOWN_DELAY_MS"]!,
      HOST: "127.0.0.1",
      LOG_LEVEL: env["LOG_LEVEL"] ?? "info",
      ISTIO_SVC_AUTH_SERVICE: local(ports.auth),
      ISTIO_SVC_CONTENT_GENERATOR: local(ports.content),
      ISTIO_SVC_IMAGE_PROCESSOR: local(ports.images),
      ISTIO_SVC_MAILING_SERVICE: local(ports.mailing),
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
    };
    const start = (name: string, service: string, port: number, extra: Record<string, string> = {}) => {
      const app = spawnApp({
        name,
        service,
        env: { ...common, PORT: String(port), POD_NAME: `${name.replace(" ", "-")}-local`, ...extra },
        onLine,
      });
      apps.push(app);
      void app.exited.then((code) => {
        if (!stopping) console.error(`${name} exited with ${code}; the others keep running (Ctrl-C to stop)`);
      });
      return { app, url: local(port) };
    };

    const started = [
      start("auth-service", "auth-service", ports.auth),
      ...Object.entries(ports.contentVersions).map(([version, port]) =>
        start(`content-generator ${version}`, "content-generator", port, { VERSION: version }),
      ),
      start("image-processor", "image-processor", ports.images),
      start("mailing-service", "mailing-service", ports.mailing),
      start("frontend-portal", "frontend-portal", ports.portal),
    ];
    proxy = await startRoundRobinProxy(Object.values(ports.contentVersions).map(local), ports.content);
    await Promise.all(started.map(({ app, url }) => waitForHttp(`${url}/readyz`, 60_000, app)));
    console.log(`
  portal            ${local(ports.portal)}/      (log in as alice / wonderland or bob / builder)
  auth-service      ${local(ports.auth)}
  content-generator ${proxy.url} -> v1 ${local(ports.contentVersions.v1)}, v2 ${local(ports.contentVersions.v2)}, v3 ${local(ports.contentVersions.v3)}
  image-processor   ${local(ports.images)}
  mailing-service   ${local(ports.mailing)}
Ctrl-C stops everything.`);
  } catch (error) {
    console.error(`pnpm dev: ${error instanceof Error ? error.message : String(error)}`);
    await stopAll("start-up failed");
  }
}

void main();
