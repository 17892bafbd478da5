// What every service shares: identity headers, /status, /healthz, /readyz, /metrics,
// /test-services-conns, JSON logs with the trace id, trace context rules and configuration parsing.
import pg from "pg";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { createImageProcessor } from "../../apps/image-processor/src/app.ts";
import { imageProcessorConfigFromEnv } from "../../apps/image-processor/src/config.ts";
import { envBool, envInt } from "../../apps/shared/src/config.ts";
import { identityFromEnv } from "../../apps/shared/src/identity.ts";
import { peerNameFromVariable, resolvePeers } from "../../apps/shared/src/peers.ts";
import { connectRedis } from "../../apps/shared/src/queue.ts";
import { createService, type Service } from "../../apps/shared/src/service.ts";
import { outboundHeaders, traceContextFrom } from "../../apps/shared/src/trace.ts";
import { freePort } from "../../scripts/lib/net/free-port.ts";
import { startRedis } from "../../scripts/lib/app/stores.ts";
import { json, listen, QUIET } from "./support/stack.ts";

const started: Service[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  await Promise.all(started.map((service) => service.app.close()));
  for (const cleanup of cleanups) await cleanup();
});

function plainService(env: Record<string, string>, logs?: string[]): Service {
  const service = createService({
    identity: identityFromEnv({ VERSION: "v7", POD_NAME: "pod-1", ...env }, "demo"),
    peers: resolvePeers(
      env,
      Object.keys(env)
        .filter((name) => name.startsWith("ISTIO_SVC_"))
        .map(peerNameFromVariable),
    ),
    propagateTraceHeaders: true,
    ...(logs
      ? {
          logStream: new Writable({
            write(chunk, _encoding, done) {
              logs.push(...chunk.toString().trim().split("\n"));
              done();
            },
          }),
        }
      : { logLevel: "warn" }),
  });
  started.push(service);
  return service;
}

describe("standard endpoints", () => {
  it("stamp identity headers and a served block on every answer, 404 included", async () => {
    const url = await listen(plainService({}));
    const status = await json<{ status: string; served: Record<string, string> }>(`${url}/status`);
    expect(status.status).toBe(200);
    expect(status.headers.get("x-service")).toBe("demo");
    expect(status.headers.get("x-version")).toBe("v7");
    expect(status.headers.get("x-pod")).toBe("pod-1");
    expect(status.body.served).toMatchObject({ service: "demo", version: "v7", pod: "pod-1" });
    const missing = await json<{ error: string; message: string }>(`${url}/nowhere?x=1`);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: "not_found", message: "no route GET /nowhere" });
    expect(missing.headers.get("x-service")).toBe("demo");
  });

  it("serves Prometheus metrics with request durations by route", async () => {
    const url = await listen(plainService({}));
    await fetch(`${url}/status`);
    const response = await fetch(`${url}/metrics`);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    const count = text
      .split("\n")
      .find(
        (line) =>
          line.startsWith("http_server_request_duration_seconds_count") && line.includes('route="/status"'),
      );
    expect(count).toMatch(/\{(?=.*service="demo")(?=.*version="v7")(?=.*status_code="200").*\} 1$/);
    expect(text).toContain("process_cpu_user_seconds_total");
  });

  it("/test-services-conns answers 500 naming the failing peers", async () => {
    const healthy = await listen(plainService({}));
    const dead = `http://127.0.0.1:${await freePort()}`;
    const url = await listen(plainService({ ISTIO_SVC_GOOD_PEER: healthy, ISTIO_SVC_DEAD_PEER: dead }));
    const { status, body } = await json<{
      failing: string[];
      peers: { name: string; ok: boolean; error?: string }[];
    }>(`${url}/test-services-conns`);
    expect(status).toBe(500);
    expect(body.failing).toEqual(["dead-peer"]);
    expect(body.peers.find((peer) => peer.name === "good-peer")?.ok).toBe(true);
    expect(body.peers.find((peer) => peer.name === "dead-peer")?.error).toMatch(/ECONNREFUSED/);
  });

  it("writes one JSON access line per request carrying the incoming trace id", async () => {
    const logs: string[] = [];
    const url = await listen(plainService({}, logs));
    await fetch(`${url}/status`, {
      headers: { "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7", "x-b3-spanid": "e457b5a2e4d86bd1" },
    });
    const lines = logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    const access = lines.find((line) => line["msg"] === "request completed");
    expect(access).toMatchObject({
      level: "info",
      service: "demo",
      version: "v7",
      traceId: "80f198ee56343ba864fe8b2a57d3eff7",
      url: "/status",
      status: 200,
    });
    expect(typeof access?.["time"]).toBe("string");
  });
});

describe("readiness", () => {
  it("fails with 503 naming the store that does not answer, while liveness stays up", async () => {
    const redisServer = await startRedis();
    const redis = await connectRedis(redisServer.url, () => undefined);
    const pool = new pg.Pool({
      connectionString: `postgres://x:y@127.0.0.1:${await freePort()}/none`,
      connectionTimeoutMillis: 500,
    });
    pool.on("error", () => undefined);
    cleanups.push(async () => {
      await pool.end();
      await redis.close();
      await redisServer.stop();
    });
    const env = { ...QUIET, REDIS_URL: redisServer.url };
    const service = createImageProcessor(
      imageProcessorConfigFromEnv(env),
      identityFromEnv(env, "image-processor"),
      { pool, redis },
    );
    started.push(service);
    const url = await listen(service);
    const { status, body } = await json<{ ready: boolean; checks: Record<string, string> }>(`${url}/readyz`);
    expect(status).toBe(503);
    expect(body.checks["redis"]).toBe("ok");
    expect(body.checks["postgres"]).toMatch(/ECONNREFUSED|connect/);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it("fails once shutdown started, so the endpoint is removed before the listener closes", async () => {
    const service = plainService({});
    const url = await listen(service);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    service.lifecycle.shuttingDown = true;
    const { status, body } = await json(`${url}/readyz`);
    expect(status).toBe(503);
    expect(body).toMatchObject({ reason: "shutting down" });
  });
});

describe("trace context", () => {
  const random = (bytes: number) => "ab".repeat(bytes);

  it("keeps incoming headers as they are and takes the trace id from traceparent first", () => {
    const context = traceContextFrom(
      {
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "x-b3-traceid": "1111",
        "x-request-id": "req-1",
        "x-workshop-group": "admins",
        cookie: "secret",
      },
      random,
    );
    expect(context.traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(context.startedHere).toBe(false);
    expect(outboundHeaders(context, true)).toEqual({
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "x-b3-traceid": "1111",
      "x-request-id": "req-1",
      "x-workshop-group": "admins",
    });
  });

  it("starts a trace when none arrived, and drops only trace headers when propagation is off", () => {
    const context = traceContextFrom({ "x-workshop-user": "alice" }, random);
    expect(context.startedHere).toBe(true);
    expect(context.traceId).toBe("ab".repeat(16));
    expect(context.traceHeaders["traceparent"]).toBe(`00-${"ab".repeat(16)}-${"ab".repeat(8)}-01`);
    expect(context.received).toEqual({});
    expect(outboundHeaders(context, false)).toEqual({ "x-workshop-user": "alice" });
  });

  it("reads the trace id from a single b3 header", () => {
    expect(traceContextFrom({ b3: "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1" }).traceId).toBe(
      "80f198ee56343ba864fe8b2a57d3eff7",
    );
  });
});

describe("configuration", () => {
  it("finds peers from ISTIO_SVC_* with in-cluster defaults", () => {
    expect(
      resolvePeers({ ISTIO_SVC_CONTENT_GENERATOR: "http://localhost:9/" }, [
        "content-generator",
        "auth-service",
      ]),
    ).toEqual({
      "content-generator": { name: "content-generator", url: "http://localhost:9" },
      "auth-service": { name: "auth-service", url: "http://auth-service" },
    });
  });

  it("names the variable when a value is wrong", () => {
    expect(() => envInt({ PORT: "80a" }, "PORT", 1)).toThrow('PORT must be an integer, got "80a"');
    expect(() => envInt({ PORT: "70000" }, "PORT", 1, { max: 65535 })).toThrow("PORT must be <= 65535");
    expect(() => envBool({ X: "maybe" }, "X", true)).toThrow('X must be true or false, got "maybe"');
    expect(() => imageProcessorConfigFromEnv({ AUTH_MODE: "magic" })).toThrow(
      /AUTH_MODE must be one of auth-service, jwks, none/,
    );
    expect(envBool({}, "X", true)).toBe(true);
  });
});
