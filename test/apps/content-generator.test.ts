// The content generator over HTTP: three visibly different versions from one codebase, each fault
// mode, the delay and status helpers, and the outbound call with its fallback.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createContentGenerator } from "../../apps/content-generator/src/app.ts";
import { contentGeneratorConfigFromEnv } from "../../apps/content-generator/src/config.ts";
import { decideFault, describeFaultMode, parseFaultMode } from "../../apps/content-generator/src/faults.ts";
import { generate, styleForVersion } from "../../apps/content-generator/src/phrases.ts";
import type { Env } from "../../apps/shared/src/config.ts";
import { identityFromEnv } from "../../apps/shared/src/identity.ts";
import type { Service } from "../../apps/shared/src/service.ts";
import { freePort } from "../../scripts/lib/net/free-port.ts";
import { json, listen, QUIET } from "./support/stack.ts";

const started: Service[] = [];
async function generator(env: Env, now?: () => number): Promise<string> {
  const full = { ...QUIET, ...env };
  const service = createContentGenerator(
    contentGeneratorConfigFromEnv(full),
    identityFromEnv(full, "content-generator"),
    {
      now,
    },
  );
  started.push(service);
  return listen(service);
}

// Stands in for the outside world of the egress lesson (an HTTPS API in the cluster).
let outside: Server;
let outsideUrl: string;
/** The headers of each request the stand-in received, newest last. */
const outsideSaw: Record<string, string | string[] | undefined>[] = [];
beforeAll(async () => {
  outside = createServer((request, response) => {
    outsideSaw.push(request.headers);
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ uuid: "1b4e28ba-2fa1-11d2-883f-0016d3cca427" }));
  });
  await new Promise<void>((resolve) => outside.listen(0, "127.0.0.1", resolve));
  const address = outside.address();
  outsideUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/uuid`;
});

afterAll(async () => {
  await Promise.all(started.map((service) => service.app.close()));
  outside?.close();
});

interface Generated {
  text: string;
  bsType: number;
  style: { color: string; label: string };
  external?: { ok: boolean; snippet?: string; fallback?: string; reason?: string };
  served: { version: string };
}

describe("versions", () => {
  it("answer visibly differently: v1 plain, v2 title case with a star, v3 shouting", async () => {
    const texts: Record<string, string> = {};
    for (const version of ["v1", "v2", "v3"]) {
      const url = await generator({ VERSION: version });
      const { status, body, headers } = await json<Generated>(`${url}/generate-bs?bs-type=1`);
      expect(status).toBe(200);
      expect(headers.get("x-version")).toBe(version);
      expect(body.served.version).toBe(version);
      texts[version] = body.text;
    }
    expect(texts["v1"]).toMatch(/^[a-z][a-z -]+$/);
    expect(texts["v2"]).toMatch(/^(\p{Lu}[\p{L}-]*\s?)+ ★$/u);
    expect(texts["v3"]).toMatch(/^[A-Z -]+!!!$/);
  });

  it("sizes the nonsense by bs-type and colours it by version", () => {
    const fixed = () => 0.1;
    expect(generate(1, "v1", fixed).text.split(" ")).toHaveLength(3);
    expect(generate(2, "v1", fixed).text).toMatch(/^[A-Z].*\.$/);
    expect(generate(3, "v1", fixed).text.split(". ")).toHaveLength(3);
    expect(generate(1, "v2", fixed).style.color).not.toBe(generate(1, "v1", fixed).style.color);
    expect(styleForVersion("a b", "v9")).toBe("a b");
  });

  it("explains an invalid bs-type", async () => {
    const url = await generator({});
    const { status, body } = await json<{ message: string }>(`${url}/generate-bs?bs-type=banana`);
    expect(status).toBe(400);
    expect(body.message).toBe("querystring/bs-type must be integer");
  });
});

describe("fault modes", () => {
  it("parses each mode and refuses nonsense with the accepted list", () => {
    expect(parseFaultMode("none")).toEqual({ kind: "none" });
    expect(parseFaultMode("errors:0.3")).toEqual({ kind: "errors", share: 0.3 });
    expect(parseFaultMode("errors")).toEqual({ kind: "errors", share: 0.5 });
    expect(parseFaultMode("delay:250")).toEqual({ kind: "delay", ms: 250 });
    expect(parseFaultMode("flapping:5")).toEqual({ kind: "flapping", periodSeconds: 5 });
    expect(parseFaultMode("always-bad")).toEqual({ kind: "always-bad" });
    expect(() => parseFaultMode("errors:2")).toThrow(/between 0 and 1/);
    expect(() => parseFaultMode("sometimes")).toThrow(/none, errors/);
    expect(describeFaultMode(parseFaultMode("delay:7"))).toBe("delay:7");
  });

  it("decides deterministically from the clock and the random draw", () => {
    const errors = parseFaultMode("errors:0.25");
    expect(decideFault(errors, 0, 0.2)).toMatchObject({ kind: "fail", status: 503 });
    expect(decideFault(errors, 0, 0.3)).toEqual({ kind: "pass" });
    const flapping = parseFaultMode("flapping:10");
    expect(decideFault(flapping, 5_000, 0)).toEqual({ kind: "pass" });
    expect(decideFault(flapping, 15_000, 0)).toMatchObject({ kind: "fail", status: 503 });
    expect(decideFault(flapping, 25_000, 0)).toEqual({ kind: "pass" });
  });

  it("fails about the configured share of requests with 503 (errors:0.5)", async () => {
    const url = await generator({ FAULT_MODE: "errors:0.5" });
    const statuses = await Promise.all(
      Array.from({ length: 200 }, async () => (await fetch(`${url}/generate-bs`)).status),
    );
    const failed = statuses.filter((status) => status === 503).length;
    expect(statuses.every((status) => status === 200 || status === 503)).toBe(true);
    // 200 draws at p=0.5: outside 60..140 has a probability below 1e-8.
    expect(failed).toBeGreaterThan(60);
    expect(failed).toBeLessThan(140);
  });

  it("delays every answer (delay:300) and fails everything (always-bad)", async () => {
    const slow = await generator({ FAULT_MODE: "delay:300" });
    const started = performance.now();
    expect((await fetch(`${slow}/generate-bs`)).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);

    const bad = await generator({ FAULT_MODE: "always-bad" });
    const { status, body } = await json<{ message: string }>(`${bad}/generate-bs`);
    expect(status).toBe(500);
    expect(body.message).toContain("always-bad");
    // Only the content endpoint misbehaves; probes stay healthy so the lesson is about routing.
    expect((await fetch(`${bad}/healthz`)).status).toBe(200);
  });

  it("flaps between healthy and failing with the clock", async () => {
    let now = 0;
    const url = await generator({ FAULT_MODE: "flapping:1" }, () => now);
    expect((await fetch(`${url}/generate-bs`)).status).toBe(200);
    now = 1500;
    expect((await fetch(`${url}/generate-bs`)).status).toBe(503);
    now = 2500;
    expect((await fetch(`${url}/generate-bs`)).status).toBe(200);
  });

  it("counts injected faults on /metrics", async () => {
    const url = await generator({ FAULT_MODE: "always-bad" });
    await fetch(`${url}/generate-bs`);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(
      /content_generator_injected_faults_total\{kind="error",service="content-generator",version="v1"\} 1/,
    );
  });
});

describe("helpers", () => {
  it("/delay waits as asked and refuses more than the maximum", async () => {
    const url = await generator({ MAX_DELAY_MS: "1000" });
    const started = performance.now();
    const { status, body } = await json<{ delayedMs: number }>(`${url}/delay?ms=200`);
    expect(status).toBe(200);
    expect(body.delayedMs).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    const tooLong = await json<{ message: string }>(`${url}/delay?ms=5000`);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.message).toBe("querystring/ms must be <= 1000");
  });

  it("/status/{code} answers with that code", async () => {
    const url = await generator({});
    expect((await fetch(`${url}/status/418`)).status).toBe(418);
    expect((await fetch(`${url}/status/503`)).status).toBe(503);
    expect((await fetch(`${url}/status/99`)).status).toBe(400);
  });
});

describe("the outbound call (egress lesson)", () => {
  it("includes what the external API said", async () => {
    const url = await generator({ EXTERNAL_API_URL: outsideUrl });
    const { body } = await json<Generated>(`${url}/generate-bs`);
    expect(body.external).toMatchObject({
      ok: true,
      snippet: '{"uuid":"1b4e28ba-2fa1-11d2-883f-0016d3cca427"}',
    });
  });

  it("carries the request's trace to the outside, and only the trace", async () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const headers = { traceparent, "x-request-id": "req-egress-1", "x-workshop-user": "alice" };
    const url = await generator({ EXTERNAL_API_URL: outsideUrl });
    await json<Generated>(`${url}/generate-bs`, { headers });
    expect(outsideSaw.at(-1)).toMatchObject({ traceparent, "x-request-id": "req-egress-1" });
    expect(outsideSaw.at(-1)?.["x-workshop-user"]).toBeUndefined();

    const broken = await generator({ EXTERNAL_API_URL: outsideUrl, PROPAGATE_TRACE_HEADERS: "false" });
    await json<Generated>(`${broken}/generate-bs`, { headers });
    expect(outsideSaw.at(-1)?.["traceparent"]).toBeUndefined();
    expect(outsideSaw.at(-1)?.["x-request-id"]).toBeUndefined();
  });

  it("falls back clearly when the outside is unreachable, without failing the request", async () => {
    const closedPort = await freePort();
    const url = await generator({
      EXTERNAL_API_URL: `http://127.0.0.1:${closedPort}/`,
      EXTERNAL_API_TIMEOUT_MS: "500",
    });
    const { status, body } = await json<Generated>(`${url}/generate-bs`);
    expect(status).toBe(200);
    expect(body.external?.ok).toBe(false);
    expect(body.external?.fallback).toContain("unreachable");
    expect(body.external?.reason).toMatch(/ECONNREFUSED/);
  });
});
