// Graceful shutdown of the real processes: SIGTERM while requests are in flight loses none of them,
// requests arriving during the shutdown delay are still served, pools close and the process exits 0
// well within the grace period.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startPostgres,
  startRedis,
  type PostgresInstance,
  type RedisInstance,
} from "../../scripts/lib/app/stores.ts";
import { spawnService, type ServiceProcess } from "./support/process.ts";

let postgres: PostgresInstance;
let redis: RedisInstance;
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
});

afterAll(async () => {
  for (const { child } of processes) if (child.exitCode === null) child.kill("SIGKILL");
  await Promise.all([postgres?.stop(), redis?.stop()]);
});

async function spawnTracked(service: string, env: Record<string, string>) {
  const started = await spawnService(service, env);
  processes.push(started);
  return started;
}

/** Waits until the service is serving at least `count` requests, so they are truly in flight. */
async function untilInFlight(url: string, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const gauge = Number(/^http_server_requests_in_flight\{[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    // The /metrics request itself is one of them.
    if (gauge - 1 >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${count} requests never were in flight at ${url}`);
}

const statusOf = (url: string, init?: RequestInit) =>
  fetch(url, init).then(
    (response) => response.status,
    (error: Error) => `error: ${error.message}`,
  );

describe("graceful shutdown", () => {
  it("content-generator finishes every in-flight request and serves during the delay", async () => {
    const service = await spawnTracked("content-generator", { SHUTDOWN_DELAY_MS: "1500" });
    const inFlight = Array.from({ length: 40 }, () => statusOf(`${service.url}/delay?ms=2500`));
    await untilInFlight(service.url, 40);
    const signalledAt = performance.now();
    service.child.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The endpoint is being removed (readiness fails) but traffic still arriving is served.
    const readiness = await statusOf(`${service.url}/readyz`);
    const duringDelay = Array.from({ length: 20 }, () => statusOf(`${service.url}/generate-bs`));

    const statuses = await Promise.all([...inFlight, ...duringDelay]);
    expect(readiness).toBe(503);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(await service.exited).toBe(0);
    // 2.5 s of work plus the 1.5 s delay, far inside the 20 s timeout that would exit 1.
    expect(performance.now() - signalledAt).toBeLessThan(10_000);
    expect(await statusOf(`${service.url}/status`)).toMatch(/^error/);
    const messages = service.logs.map((entry) => entry["msg"]);
    expect(messages).toContain("shutting down");
    expect(messages).toContain("stopped");
  });

  it("image-processor completes in-flight saves, then closes its PostgreSQL pool and Redis client", async () => {
    const slowNamer = await spawnTracked("content-generator", { FAULT_MODE: "delay:1500" });
    const service = await spawnTracked("image-processor", {
      AUTH_MODE: "none",
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      ISTIO_SVC_CONTENT_GENERATOR: slowNamer.url,
    });
    const saves = Array.from({ length: 20 }, (_, index) =>
      statusOf(`${service.url}/save-image`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ title: `shutdown ${index}`, format: "png", width: 10, height: 10 }),
      }),
    );
    await untilInFlight(service.url, 20);
    service.child.kill("SIGTERM");
    expect(await Promise.all(saves)).toEqual(Array(20).fill(201));
    expect(await service.exited).toBe(0);
    slowNamer.child.kill("SIGTERM");
    expect(await slowNamer.exited).toBe(0);
  });
});
