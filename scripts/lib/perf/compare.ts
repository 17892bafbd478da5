import type { PerfReport } from "./report.ts";
import { PERCENTILES, type PercentileName } from "./stats.ts";

export interface MetricDelta {
  readonly metric: string;
  readonly unit: string;
  readonly baseline: number;
  readonly candidate: number;
  readonly delta: number;
  /** Relative change, undefined when the baseline is 0. */
  readonly deltaPercent?: number;
  /** Whether a larger number is better (throughput) or worse (latency, errors). */
  readonly higherIsBetter: boolean;
}

export interface Comparison {
  readonly baseline: string;
  readonly candidate: string;
  readonly metrics: readonly MetricDelta[];
  /** Load settings that differ between the two runs: their numbers do not compare like for like. */
  readonly settingDifferences: readonly string[];
}

/** The scenario fields that shape the load; label, headers and target may differ on purpose. */
export function settingDifferences(baseline: PerfReport, candidate: PerfReport): string[] {
  const a = baseline.scenario;
  const b = candidate.scenario;
  if (!a || !b) return [];
  const rate = (s: typeof a) => (s.rate ? `${s.rate}/s` : "unpaced");
  const fields: Array<[string, string, string]> = [
    ["rate", rate(a), rate(b)],
    ["connections", String(a.connections), String(b.connections)],
    ["duration", `${a.durationSeconds}s`, `${b.durationSeconds}s`],
    ["warm-up", `${a.warmupSeconds}s`, `${b.warmupSeconds}s`],
    ["timeout", `${a.timeoutSeconds}s`, `${b.timeoutSeconds}s`],
    ["paths", a.paths.join(","), b.paths.join(",")],
  ];
  return fields.filter(([, x, y]) => x !== y).map(([name, x, y]) => `${name} ${x} vs ${y}`);
}

function delta(
  metric: string,
  unit: string,
  baseline: number,
  candidate: number,
  higherIsBetter: boolean,
): MetricDelta {
  const difference = Math.round((candidate - baseline) * 100) / 100;
  return {
    metric,
    unit,
    baseline,
    candidate,
    delta: difference,
    ...(baseline === 0 ? {} : { deltaPercent: Math.round((difference / baseline) * 1000) / 10 }),
    higherIsBetter,
  };
}

/** Baseline (e.g. without the mesh) against candidate (with it). */
export function compareReports(baseline: PerfReport, candidate: PerfReport): Comparison {
  const latency = (Object.keys(PERCENTILES) as PercentileName[]).map((name) =>
    delta(
      `latency ${name}`,
      "ms",
      baseline.summary.latencyMs[name],
      candidate.summary.latencyMs[name],
      false,
    ),
  );
  return {
    baseline: baseline.label,
    candidate: candidate.label,
    metrics: [
      delta("throughput", "req/s", baseline.summary.rps, candidate.summary.rps, true),
      ...latency,
      delta("error rate", "%", baseline.summary.errorRate * 100, candidate.summary.errorRate * 100, false),
    ],
    settingDifferences: settingDifferences(baseline, candidate),
  };
}

export function formatComparison(comparison: Comparison): string {
  const rows = comparison.metrics.map((metric) => {
    const percent =
      metric.deltaPercent === undefined
        ? ""
        : ` (${metric.deltaPercent > 0 ? "+" : ""}${metric.deltaPercent}%)`;
    const sign = metric.delta > 0 ? "+" : "";
    return `${metric.metric.padEnd(14)} ${String(metric.baseline).padStart(10)} ${String(metric.candidate).padStart(10)}  ${sign}${metric.delta} ${metric.unit}${percent}`;
  });
  return [
    `${"".padEnd(14)} ${comparison.baseline.slice(0, 10).padStart(10)} ${comparison.candidate.slice(0, 10).padStart(10)}  difference`,
    ...rows,
  ].join("\n");
}
