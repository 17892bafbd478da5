// Drives autocannon for a scenario: an optional warm-up whose numbers are discarded, then the
// measured run, every response recorded into per-second buckets for the timeline charts.
import autocannon from "autocannon";
import { buildReport, type PerfReport } from "./report.ts";
import type { Scenario } from "./scenario.ts";
import { Recorder } from "./stats.ts";

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "unknown host",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ETIMEDOUT: "connect timed out",
};

/** One request error as a cause a person recognises: "connection refused (connect ECONNREFUSED 127.0.0.1:80)". */
export function errorCause(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const known = typeof code === "string" ? NETWORK_ERRORS[code] : undefined;
  return known ? `${known} (${message})` : message;
}

/** Request errors by cause, counted: what the summary names when requests fail without an answer. */
export type ErrorCauses = Record<string, number>;

function runOnce(
  scenario: Scenario,
  seconds: number,
  recorder?: Recorder,
  causes?: ErrorCauses,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: scenario.url,
        connections: scenario.connections,
        duration: seconds,
        timeout: scenario.timeoutSeconds,
        ...(scenario.rate ? { overallRate: scenario.rate } : {}),
        // Each connection walks through the paths in turn.
        requests: scenario.paths.map((path) => ({
          method: "GET" as const,
          path,
          headers: { ...scenario.headers },
        })),
      },
      (error: Error | null) => (error ? reject(error) : resolve()),
    );
    if (recorder) {
      instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) =>
        recorder.response(Date.now(), statusCode, responseTime),
      );
      instance.on("reqError", (error: unknown) => {
        recorder.error(Date.now());
        if (causes) {
          const cause = errorCause(error);
          causes[cause] = (causes[cause] ?? 0) + 1;
        }
      });
    }
  });
}

export async function runScenario(
  scenario: Scenario,
  log: (line: string) => void = () => {},
): Promise<PerfReport> {
  if (scenario.warmupSeconds > 0) {
    log(`warming up for ${scenario.warmupSeconds}s …`);
    await runOnce(scenario, scenario.warmupSeconds);
  }
  log(`measuring for ${scenario.durationSeconds}s …`);
  const startedAt = new Date();
  const recorder = new Recorder(startedAt.getTime(), scenario.durationSeconds);
  const causes: ErrorCauses = {};
  await runOnce(scenario, scenario.durationSeconds, recorder, causes);
  // Throughput over the time measured, which is shorter than asked when autocannon stopped early.
  const elapsed = Math.round(recorder.elapsedSeconds(Date.now()) * 1000) / 1000;
  return buildReport(scenario, recorder.buckets, startedAt, elapsed, causes);
}
