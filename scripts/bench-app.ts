// pnpm bench:app: what the application costs before any mesh is added.
//   1. a bare node:http "hello" server, loaded by our load tool (autocannon) — the floor;
//   2. the portal -> content-generator chain (GET /api/content), same load — the ratio to (1) is the
//      price of two Fastify services and one extra hop;
//   3. wrk on the same hello server — our load tool's own ceiling next to a C load generator.
// Everything runs on this machine at once, so the numbers compare with each other, not with a cluster.
// Options: --duration 10s --warmup 3s --connections 32 --json reports/bench-app.json
import { spawn, spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { spawnApp, stopApp, waitForHttp, type AppProcess } from "./lib/app/processes.ts";
import { freePort } from "./lib/net/free-port.ts";
import { parseWrk } from "./lib/app/wrk.ts";
import { runScenario } from "./lib/perf/runner.ts";
import { parseDuration, type Scenario } from "./lib/perf/scenario.ts";

interface Row {
  readonly name: string;
  readonly tool: string;
  readonly rps: number;
  readonly p99Ms: number;
}

function wrk(url: string, seconds: number, connections: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // One thread: the machine has two cores and the server needs the other one.
    const child = spawn("wrk", ["-t1", `-c${connections}`, `-d${Math.round(seconds)}s`, "--latency", url], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve(output) : reject(new Error(`wrk exited ${code}: ${output}`)),
    );
  });
}

const HELP = `usage: pnpm bench:app [--duration 10s] [--warmup 3s] [--connections 32] [--json FILE]

Measures a bare node:http server, the portal -> content-generator chain (autocannon) and wrk on
the same server, all on this machine; --json also writes the rows to FILE.`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: "string", default: "10s" },
      warmup: { type: "string", default: "3s" },
      connections: { type: "string", default: "32" },
      json: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const durationSeconds = parseDuration(values.duration, "--duration");
  const warmupSeconds = parseDuration(values.warmup, "--warmup");
  const connections = Number(values.connections);
  const quiet = { LOG_LEVEL: "warn", HOST: "127.0.0.1" };

  const [helloPort, contentPort, portalPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const hello = spawn(
    process.execPath,
    ["-e", `require("node:http").createServer((q, s) => s.end("hello")).listen(${helloPort}, "127.0.0.1")`],
    { stdio: "inherit" },
  );
  const apps: AppProcess[] = [
    spawnApp({
      name: "content-generator",
      service: "content-generator",
      env: { ...quiet, PORT: String(contentPort) },
    }),
    spawnApp({
      name: "frontend-portal",
      service: "frontend-portal",
      env: {
        ...quiet,
        PORT: String(portalPort),
        ISTIO_SVC_CONTENT_GENERATOR: `http://127.0.0.1:${contentPort}`,
      },
    }),
  ];
  const rows: Row[] = [];
  try {
    await waitForHttp(`http://127.0.0.1:${helloPort}/`);
    await Promise.all(
      apps.map((app) =>
        waitForHttp(
          `http://127.0.0.1:${app.name === "frontend-portal" ? portalPort : contentPort}/healthz`,
          60_000,
          app,
        ),
      ),
    );

    const measure = async (name: string, url: string, path: string) => {
      const scenario: Scenario = {
        url,
        connections,
        durationSeconds,
        warmupSeconds,
        paths: [path],
        headers: {},
        timeoutSeconds: 10,
        label: name,
      };
      console.error(`autocannon: ${name} …`);
      const report = await runScenario(scenario);
      if (report.summary.non2xx + report.summary.errors > 0)
        console.error(`  ${name}: ${report.summary.non2xx} non-2xx, ${report.summary.errors} errors`);
      rows.push({
        name,
        tool: "autocannon (pnpm perf)",
        rps: report.summary.rps,
        p99Ms: report.summary.latencyMs.p99,
      });
    };
    await measure("node:http hello", `http://127.0.0.1:${helloPort}`, "/");
    await measure("portal -> content-generator", `http://127.0.0.1:${portalPort}`, "/api/content");

    if (spawnSync("sh", ["-c", "command -v wrk"]).status === 0) {
      console.error("wrk: node:http hello …");
      const parsed = parseWrk(await wrk(`http://127.0.0.1:${helloPort}/`, durationSeconds, connections));
      rows.push({ name: "node:http hello", tool: "wrk", ...parsed });
    } else {
      console.error(
        "wrk not found (apt-get install wrk, or bash apps/install-test-deps.sh); skipping the tool-ceiling row",
      );
    }
  } finally {
    await Promise.all(apps.map((app) => stopApp(app)));
    hello.kill("SIGTERM");
  }

  const find = (name: string, tool: string) =>
    rows.find((row) => row.name === name && row.tool.startsWith(tool));
  const helloAc = find("node:http hello", "autocannon");
  const chain = find("portal -> content-generator", "autocannon");
  const helloWrk = find("node:http hello", "wrk");
  console.log(
    `\n${"target".padEnd(30)} ${"load tool".padEnd(24)} ${"req/s".padStart(10)} ${"p99 ms".padStart(8)}`,
  );
  for (const row of rows)
    console.log(
      `${row.name.padEnd(30)} ${row.tool.padEnd(24)} ${String(row.rps).padStart(10)} ${String(row.p99Ms).padStart(8)}`,
    );
  const ratios = {
    chainToHello: helloAc && chain ? Math.round((chain.rps / helloAc.rps) * 1000) / 1000 : undefined,
    autocannonToWrk: helloAc && helloWrk ? Math.round((helloAc.rps / helloWrk.rps) * 1000) / 1000 : undefined,
  };
  if (ratios.chainToHello !== undefined)
    console.log(`\nportal chain / bare node:http throughput: ${ratios.chainToHello}`);
  if (ratios.autocannonToWrk !== undefined)
    console.log(`autocannon / wrk on the same target:       ${ratios.autocannonToWrk}`);
  console.log(
    `(${connections} connections, ${durationSeconds}s after ${warmupSeconds}s warm-up, ${process.version}, all on this machine)`,
  );
  if (values.json) {
    await mkdir(dirname(values.json), { recursive: true });
    await writeFile(
      values.json,
      `${JSON.stringify({ rows, ratios, connections, durationSeconds, node: process.version }, null, 2)}\n`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(`bench:app: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
