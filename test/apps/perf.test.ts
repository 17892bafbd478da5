// The load-test tool: argument parsing, statistics and charts as pure functions, then the real CLI
// against a real content-generator, writing JSON and HTML, and comparing two runs.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createContentGenerator } from "../../apps/content-generator/src/app.ts";
import { contentGeneratorConfigFromEnv } from "../../apps/content-generator/src/config.ts";
import { identityFromEnv } from "../../apps/shared/src/identity.ts";
import type { Service } from "../../apps/shared/src/service.ts";
import { compareReports, formatComparison } from "../../scripts/lib/perf/compare.ts";
import { parseReport, type PerfReport } from "../../scripts/lib/perf/report.ts";
import { parseDuration, parsePerfArgs, redactedScenario } from "../../scripts/lib/perf/scenario.ts";
import { percentile, Recorder, summarize, timelineOf } from "../../scripts/lib/perf/stats.ts";
import { lineChart, niceScale } from "../../scripts/lib/perf/svg.ts";
import { parseWrk } from "../../scripts/lib/app/wrk.ts";
import { ROOT } from "./support/process.ts";
import { listen, QUIET } from "./support/stack.ts";

const run = promisify(execFile);

describe("arguments", () => {
  it("builds a rate-limited scenario with paths, headers and a JWT from the environment", () => {
    const command = parsePerfArgs(
      [
        "--url",
        "http://portal.local:8080/",
        "--rate",
        "50",
        "--duration",
        "1m",
        "--warmup",
        "500ms",
        "--path",
        "/",
        "--path",
        "/api/content",
        "--header",
        "X-Lesson: mtls",
        "--jwt-env",
        "TOKEN",
        "--label",
        "mesh",
      ],
      { TOKEN: "abc.def.ghi" },
      new Date("2026-01-02T03:04:05.678Z"),
    );
    expect(command).toEqual({
      kind: "run",
      out: "reports/perf/mesh-2026-01-02T03-04-05Z",
      scenario: {
        url: "http://portal.local:8080",
        rate: 50,
        connections: 10,
        durationSeconds: 60,
        warmupSeconds: 0.5,
        paths: ["/", "/api/content"],
        headers: { "x-lesson": "mtls", authorization: "Bearer abc.def.ghi" },
        timeoutSeconds: 10,
        label: "mesh",
      },
    });
    if (command.kind === "run")
      expect(redactedScenario(command.scenario).headers["authorization"]).toBe("Bearer <redacted>");
  });

  it("explains what is wrong", () => {
    expect(() => parsePerfArgs([], {})).toThrow("--url is required");
    expect(() => parsePerfArgs(["--url", "ftp://x"], {})).toThrow("--url must be http or https");
    expect(() => parsePerfArgs(["--url", "http://x", "--header", "nocolon"], {})).toThrow(
      '--header must be "name: value"',
    );
    expect(() => parsePerfArgs(["--url", "http://x", "--jwt-env", "MISSING"], {})).toThrow(
      "that variable is empty",
    );
    expect(() => parsePerfArgs(["--compare", "a.json"], {})).toThrow("exactly two report files");
    expect(() => parseDuration("10 minutes", "--duration")).toThrow("--duration must look like 30s");
    expect(parsePerfArgs(["--compare", "a.json", "b.json"], {})).toEqual({
      kind: "compare",
      baseline: "a.json",
      candidate: "b.json",
    });
  });
});

describe("statistics", () => {
  it("takes nearest-rank percentiles", () => {
    const hundred = Array.from({ length: 100 }, (_, index) => index + 1);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 99.9)).toBe(100);
    expect(percentile([], 50)).toBe(0);
  });

  it("buckets responses per second and counts statuses and errors", () => {
    const recorder = new Recorder(0, 2);
    recorder.response(100, 200, 5);
    recorder.response(900, 503, 15);
    recorder.response(1500, 200, 7);
    recorder.error(1600);
    recorder.response(1999, 200, 9);
    recorder.response(2000, 200, 11); // after the window: not counted
    recorder.response(2400, 200, 13);
    recorder.error(2500);
    const timeline = timelineOf(recorder.buckets);
    expect(timeline.map((point) => point.requests)).toEqual([2, 2]);
    expect(timeline[0]?.statusCounts).toEqual({ "200": 1, "503": 1 });
    expect(timeline[1]?.errors).toBe(1);
    expect(recorder.outsideWindow).toBe(3);
    expect(recorder.elapsedSeconds(2600)).toBe(2);
    const summary = summarize(recorder.buckets, recorder.elapsedSeconds(2600));
    expect(summary).toMatchObject({ requests: 4, rps: 2, errors: 1, non2xx: 1, errorRate: 0.4 });
    expect(summary.latencyMs).toMatchObject({ p50: 7, max: 15, mean: 9 });
  });

  it("divides by the time measured when a run stops before its duration", () => {
    const recorder = new Recorder(1000, 10);
    for (const at of [1100, 1500, 2200, 2900]) recorder.response(at, 200, 1);
    expect(recorder.elapsedSeconds(3000)).toBe(2);
    expect(summarize(recorder.buckets, recorder.elapsedSeconds(3000)).rps).toBe(2);
  });

  it("compares a baseline with a candidate", () => {
    const report = (label: string, rps: number, p99: number): PerfReport =>
      ({
        label,
        summary: { rps, errorRate: 0, latencyMs: { p50: 1, p90: 2, p99, p999: p99 } },
      }) as unknown as PerfReport;
    const comparison = compareReports(report("baseline", 1000, 10), report("mesh", 800, 12.5));
    expect(comparison.metrics.find((metric) => metric.metric === "throughput")).toMatchObject({
      delta: -200,
      deltaPercent: -20,
    });
    expect(comparison.metrics.find((metric) => metric.metric === "latency p99")).toMatchObject({
      delta: 2.5,
      deltaPercent: 25,
    });
    expect(formatComparison(comparison)).toContain("+2.5 ms (+25%)");
  });

  it("draws charts with round axes and one line per series", () => {
    expect(niceScale(87)).toEqual({ max: 100, step: 20 });
    const svg = lineChart("t", "x", "y", [
      {
        name: "p50",
        color: "#000",
        points: [
          [1, 2],
          [2, 3],
        ],
      },
      {
        name: "p99",
        color: "#f00",
        points: [
          [1, 5],
          [2, 8],
        ],
      },
    ]);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  });
});

describe("wrk output (pnpm bench:app)", () => {
  it("reads requests per second and the 99th percentile in milliseconds", () => {
    const output = `Running 10s test @ http://127.0.0.1:8080/
  1 threads and 32 connections
  Latency Distribution
     50%  780.00us
     75%    1.02ms
     90%    1.50ms
     99%    5.79ms
  350153 requests in 10.00s, 38.40MB read
Requests/sec:  35015.35
Transfer/sec:      3.84MB`;
    expect(parseWrk(output)).toEqual({ rps: 35015.35, p99Ms: 5.79 });
    expect(parseWrk(output.replace("5.79ms", "1.20s")).p99Ms).toBe(1200);
    expect(parseWrk("garbage").rps).toBeNaN();
  });
});

describe("pnpm perf against a real service", () => {
  let target: Service;
  let url: string;
  let out: string;

  beforeAll(async () => {
    target = createContentGenerator(
      contentGeneratorConfigFromEnv(QUIET),
      identityFromEnv(QUIET, "content-generator"),
    );
    url = await listen(target);
    out = mkdtempSync(join(tmpdir(), "workshop-perf-"));
  });
  afterAll(async () => {
    await target?.app.close();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  const perf = (...args: string[]) =>
    run(process.execPath, ["--import", "tsx", "scripts/perf.ts", ...args], { cwd: ROOT });

  it("holds the requested rate, records statuses per path and writes JSON and an HTML report", async () => {
    const { stdout } = await perf(
      "--url",
      url,
      "--rate",
      "100",
      "--duration",
      "2s",
      "--warmup",
      "1s",
      "--path",
      "/generate-bs",
      "--path",
      "/status/503",
      "--label",
      "baseline",
      "--jwt",
      "secret.jwt.value",
      "--out",
      join(out, "baseline"),
    );
    expect(stdout).toContain("wrote");
    const report = parseReport(readFileSync(join(out, "baseline.json"), "utf8"), "baseline.json");
    // Open-model pacing: close to 100/s, with slack for a busy two-core machine catching up.
    expect(report.summary.rps).toBeGreaterThan(60);
    expect(report.summary.rps).toBeLessThan(150); // unpaced, this target answers thousands per second
    expect(report.timeline).toHaveLength(2);
    // Two paths taken in turn: half the answers are the 503 helper.
    const ok = report.summary.statusCounts["200"] ?? 0;
    const failed = report.summary.statusCounts["503"] ?? 0;
    expect(Math.abs(ok - failed)).toBeLessThanOrEqual(report.scenario.connections);
    expect(report.summary.latencyMs.p99).toBeGreaterThan(0);
    expect(report.scenario.headers["authorization"]).toBe("Bearer <redacted>");
    const html = readFileSync(join(out, "baseline.html"), "utf8");
    expect(html).toContain("Latency percentiles over time");
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).not.toContain("secret.jwt.value");
  });

  it("compares two reports in text and HTML", async () => {
    await perf(
      "--url",
      url,
      "--connections",
      "4",
      "--duration",
      "1s",
      "--path",
      "/generate-bs",
      "--label",
      "candidate",
      "--out",
      join(out, "candidate"),
    );
    const { stdout, stderr } = await perf(
      "--compare",
      join(out, "baseline.json"),
      join(out, "candidate.json"),
      "--out",
      join(out, "diff"),
    );
    // baseline: 100/s paced, 10 connections, 2s + 1s warm-up, two paths; candidate: unpaced, 4, 1s.
    expect(stderr).toContain("perf: warning: the two runs used different load settings");
    expect(stderr).toContain("rate 100/s vs unpaced");
    expect(stderr).toContain("connections 10 vs 4");
    expect(stderr).toContain("duration 2s vs 1s");
    expect(stderr).toContain("paths /generate-bs,/status/503 vs /generate-bs");
    // The same settings on both sides: no warning.
    const same = await perf(
      "--compare",
      join(out, "candidate.json"),
      join(out, "candidate.json"),
      "--out",
      join(out, "same"),
    );
    expect(same.stderr).not.toContain("different load settings");
    expect(stdout).toMatch(/throughput\s+\d/);
    expect(stdout).toMatch(/latency p99/);
    const html = readFileSync(join(out, "diff.html"), "utf8");
    expect(html).toContain("baseline (baseline) vs candidate");
    expect(html).toContain("p99 latency over time");
  });

  it("exits 1 naming the cause when the target does not answer at all", async () => {
    // A port that was free a moment ago: connection refused.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const failure = await perf(
      "--url",
      `http://127.0.0.1:${port}/`,
      "--connections",
      "1",
      "--duration",
      "1s",
      "--out",
      join(out, "unreachable"),
    ).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure.code).toBe(1);
    expect(failure.stderr).toContain(`perf: no answer from http://127.0.0.1:${port}: all `);
    expect(failure.stderr).toContain(`connection refused (connect ECONNREFUSED 127.0.0.1:${port})`);
    const report = parseReport(readFileSync(join(out, "unreachable.json"), "utf8"), "unreachable.json");
    expect(Object.keys(report.errorCauses ?? {})).toEqual([
      `connection refused (connect ECONNREFUSED 127.0.0.1:${port})`,
    ]);
  });

  it("exits 2 with usage on bad arguments", async () => {
    const failure = await perf("--url", url, "--rate", "lots").catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toContain("--rate must be a whole number");
  });
});
