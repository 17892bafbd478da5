import type { Scenario } from "./scenario.ts";
import {
  summarize,
  timelineOf,
  type SecondBucket,
  type Summary,
  type TimelinePoint,
  PERCENTILES,
} from "./stats.ts";

export const REPORT_SCHEMA = "workshop-perf/v1";

export interface PerfReport {
  readonly schema: typeof REPORT_SCHEMA;
  readonly label: string;
  readonly target: string;
  readonly scenario: Scenario;
  readonly startedAt: string;
  /** Seconds measured (responses after the window are not counted); rps is requests over this. */
  readonly durationSeconds: number;
  readonly tool: { readonly name: "autocannon"; readonly node: string };
  readonly summary: Summary;
  readonly timeline: TimelinePoint[];
  /** Request errors (no HTTP answer) by cause; absent in reports written before it was recorded. */
  readonly errorCauses?: Readonly<Record<string, number>>;
}

export function buildReport(
  scenario: Scenario,
  buckets: readonly SecondBucket[],
  startedAt: Date,
  durationSeconds: number,
  errorCauses: Readonly<Record<string, number>> = {},
): PerfReport {
  return {
    schema: REPORT_SCHEMA,
    label: scenario.label,
    target: scenario.url,
    scenario,
    startedAt: startedAt.toISOString(),
    durationSeconds,
    tool: { name: "autocannon", node: process.version },
    summary: summarize(buckets, durationSeconds),
    timeline: timelineOf(buckets),
    ...(Object.keys(errorCauses).length ? { errorCauses } : {}),
  };
}

/** The causes of the request errors, most frequent first: "connection refused (...) x120". */
export function formatCauses(report: PerfReport): string {
  return Object.entries(report.errorCauses ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([cause, count]) => `${cause} x${count}`)
    .join("; ");
}

/**
 * Why a run measured nothing, or undefined when it measured something: every request failed
 * without an HTTP answer (an unreachable target), so its numbers describe no service.
 */
export function failedRun(report: PerfReport): string | undefined {
  const { summary } = report;
  if (summary.requests > 0) return undefined;
  if (summary.errors === 0) return `no request to ${report.target} completed in ${report.durationSeconds}s`;
  return `no answer from ${report.target}: all ${summary.errors} requests failed: ${formatCauses(report) || "unknown cause"}`;
}

/** Reads a report back, refusing files that are not one (a typo'd path to another JSON file). */
export function parseReport(text: string, source: string): PerfReport {
  const parsed = JSON.parse(text) as Partial<PerfReport>;
  if (parsed.schema !== REPORT_SCHEMA || !parsed.summary || !Array.isArray(parsed.timeline)) {
    throw new Error(`${source} is not a ${REPORT_SCHEMA} report`);
  }
  return parsed as PerfReport;
}

export function formatSummary(report: PerfReport): string {
  const { summary } = report;
  const latency = Object.keys(PERCENTILES)
    .map((name) => `${name}=${summary.latencyMs[name as keyof typeof PERCENTILES]}ms`)
    .join(" ");
  const statuses = Object.entries(summary.statusCounts)
    .map(([status, count]) => `${status}:${count}`)
    .join(" ");
  return [
    `${report.label}: ${summary.requests} requests in ${report.durationSeconds}s = ${summary.rps} req/s`,
    `  latency ${latency} max=${summary.latencyMs.max}ms`,
    `  status ${statuses || "-"}  errors=${summary.errors}  error rate=${(summary.errorRate * 100).toFixed(2)}%`,
    ...(summary.errors > 0 && report.errorCauses ? [`  error causes: ${formatCauses(report)}`] : []),
  ].join("\n");
}
