// `pnpm dev` drains like the chart: with dev's defaults, a content-generator that is told to stop
// while requests stream through the round-robin proxy (the dev stand-in for the Service) costs no
// request a 502: it fails readiness, the proxy stops sending to it, in-flight requests finish.
import { afterAll, describe, expect, it } from "vitest";
import { DEV_SERVICE_DEFAULTS } from "../../scripts/lib/app/processes.ts";
import { startRoundRobinProxy, type RoundRobinProxy } from "../../scripts/lib/app/round-robin-proxy.ts";
import { spawnService, type ServiceProcess } from "./support/process.ts";

const processes: ServiceProcess[] = [];
let proxy: RoundRobinProxy | undefined;

afterAll(async () => {
  await proxy?.close();
  for (const { child } of processes) if (child.exitCode === null) child.kill("SIGKILL");
});

const statusOf = (url: string) =>
  fetch(url).then(
    async (response) => {
      await response.arrayBuffer();
      return response.status;
    },
    (error: Error) => `error: ${error.message}`,
  );

describe("pnpm dev drain", () => {
  it("a content-generator stopping under load behind the proxy loses no request (dev's SHUTDOWN_DELAY_MS)", async () => {
    expect(Number(DEV_SERVICE_DEFAULTS["SHUTDOWN_DELAY_MS"])).toBeGreaterThan(200);
    const env = { ...DEV_SERVICE_DEFAULTS };
    const [stopping, staying] = await Promise.all([
      spawnService("content-generator", { ...env, VERSION: "v1" }),
      spawnService("content-generator", { ...env, VERSION: "v2" }),
    ]);
    processes.push(stopping!, staying!);
    proxy = await startRoundRobinProxy([stopping!.url, staying!.url], 0);
    const statuses: Array<number | string> = [];
    let running = true;
    let stopped = false;
    let afterStop = 0;
    // Eight clients, each sending one request after the other: some are always in flight.
    const clients = Array.from({ length: 8 }, async () => {
      while (running) {
        statuses.push(await statusOf(`${proxy!.url}/delay?ms=150`));
        if (stopped) afterStop++;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = statuses.length;
    stopping!.child.kill("SIGTERM");
    expect(await stopping!.exited).toBe(0);
    stopped = true;
    // Requests keep coming after the listener closed: they all go to the one that stays.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    running = false;
    await Promise.all(clients);
    // Requests were answered before, during and after the shutdown, and none of them was a 502.
    expect(before).toBeGreaterThan(0);
    expect(statuses.length - before - afterStop).toBeGreaterThan(0);
    expect(afterStop).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  }, 60_000);
});
