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
}

export function buildReport(
  scenario: Scenario,
  buckets: readonly SecondBucket[],
  startedAt: Date,
  durationSeconds: number,
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
  };
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
  ].join("\n");
}
