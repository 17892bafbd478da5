import { formatComparison, type Comparison } from "./compare.ts";
import type { PerfReport } from "./report.ts";
import { PERCENTILES, type PercentileName } from "./stats.ts";
import { barChart, lineChart, type Series } from "./svg.ts";
import { escapeXml } from "./xml.ts";

const PERCENTILE_COLORS: Record<PercentileName, string> = {
  p50: "#3182ce",
  p90: "#38a169",
  p99: "#dd6b20",
  p999: "#e53e3e",
};
const STATUS_COLORS = (status: string) =>
  status.startsWith("2")
    ? "#38a169"
    : status.startsWith("3")
      ? "#3182ce"
      : status.startsWith("4")
        ? "#dd6b20"
        : "#e53e3e";
const BASELINE = "#718096";
const CANDIDATE = "#6b46c1";

const STYLE = `body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1a202c}table{border-collapse:collapse;margin:1rem 0}
td,th{border:1px solid #e2e8f0;padding:.3rem .6rem;text-align:right}th:first-child,td:first-child{text-align:left}
svg{display:block;margin:1rem 0;background:#fff;border:1px solid #e2e8f0}pre{background:#f7fafc;padding:1rem}
.worse{color:#c53030}.better{color:#2f855a}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>\n`;
}

function latencySeries(report: PerfReport): Series[] {
  return (Object.keys(PERCENTILES) as PercentileName[]).map((name) => ({
    name,
    color: PERCENTILE_COLORS[name],
    points: report.timeline.map((point) => [point.second + 1, point.latencyMs[name]] as const),
  }));
}

export function renderReportHtml(report: PerfReport): string {
  const { summary, scenario } = report;
  const statuses = Object.keys(summary.statusCounts).sort();
  const errorsOverTime: Series[] = [
    ...statuses
      .filter((status) => !status.startsWith("2"))
      .map((status) => ({
        name: `HTTP ${status}`,
        color: STATUS_COLORS(status),
        points: report.timeline.map((point) => [point.second + 1, point.statusCounts[status] ?? 0] as const),
      })),
    {
      name: "no answer",
      color: "#1a202c",
      points: report.timeline.map((point) => [point.second + 1, point.errors] as const),
    },
  ];
  const rows = (Object.keys(PERCENTILES) as PercentileName[])
    .map((name) => `<tr><td>${name}</td><td>${summary.latencyMs[name]} ms</td></tr>`)
    .join("");
  return page(
    `Load test ${report.label}`,
    `<h1>Load test: ${escapeXml(report.label)}</h1>
<p>${escapeXml(scenario.url)} paths ${escapeXml(scenario.paths.join(", "))} · ${scenario.rate ? `${scenario.rate} req/s` : "unlimited rate"} · ${scenario.connections} connections · ${report.durationSeconds}s after ${scenario.warmupSeconds}s warm-up · started ${escapeXml(report.startedAt)}</p>
<table><tr><th>requests</th><td>${summary.requests}</td></tr><tr><th>throughput</th><td>${summary.rps} req/s</td></tr>
${rows}<tr><td>mean</td><td>${summary.latencyMs.mean} ms</td></tr><tr><td>max</td><td>${summary.latencyMs.max} ms</td></tr>
<tr><th>errors (no answer)</th><td>${summary.errors}</td></tr><tr><th>error rate</th><td>${(summary.errorRate * 100).toFixed(2)}%</td></tr></table>
${lineChart("Latency percentiles over time", "second", "ms", latencySeries(report))}
${lineChart("Throughput", "second", "responses / s", [
  {
    name: "responses",
    color: "#3182ce",
    points: report.timeline.map((point) => [point.second + 1, point.requests] as const),
  },
])}
${barChart(
  "Responses by status",
  "count",
  statuses.map((status) => ({
    label: status,
    values: [{ name: status, color: STATUS_COLORS(status), value: summary.statusCounts[status] ?? 0 }],
  })),
)}
${lineChart("Errors over time", "second", "count / s", errorsOverTime)}`,
  );
}

export function renderComparisonHtml(
  comparison: Comparison,
  baseline: PerfReport,
  candidate: PerfReport,
): string {
  const rows = comparison.metrics
    .map((metric) => {
      const worse = metric.delta !== 0 && metric.delta > 0 !== metric.higherIsBetter;
      const percent =
        metric.deltaPercent === undefined
          ? ""
          : ` (${metric.deltaPercent > 0 ? "+" : ""}${metric.deltaPercent}%)`;
      return `<tr><td>${escapeXml(metric.metric)}</td><td>${metric.baseline} ${metric.unit}</td><td>${metric.candidate} ${metric.unit}</td><td class="${metric.delta === 0 ? "" : worse ? "worse" : "better"}">${metric.delta > 0 ? "+" : ""}${metric.delta} ${metric.unit}${percent}</td></tr>`;
    })
    .join("");
  const overTime = (name: string, pick: (point: PerfReport["timeline"][number]) => number) => [
    {
      name: `${baseline.label}`,
      color: BASELINE,
      points: baseline.timeline.map((point) => [point.second + 1, pick(point)] as const),
    },
    {
      name: `${candidate.label}`,
      color: CANDIDATE,
      points: candidate.timeline.map((point) => [point.second + 1, pick(point)] as const),
    },
  ];
  return page(
    `${comparison.baseline} vs ${comparison.candidate}`,
    `<h1>${escapeXml(comparison.baseline)} (baseline) vs ${escapeXml(comparison.candidate)}</h1>
<table><tr><th>metric</th><th>${escapeXml(comparison.baseline)}</th><th>${escapeXml(comparison.candidate)}</th><th>difference</th></tr>${rows}</table>
${barChart(
  "Latency percentiles",
  "ms",
  (Object.keys(PERCENTILES) as PercentileName[]).map((name) => ({
    label: name,
    values: [
      { name: baseline.label, color: BASELINE, value: baseline.summary.latencyMs[name] },
      { name: candidate.label, color: CANDIDATE, value: candidate.summary.latencyMs[name] },
    ],
  })),
)}
${lineChart(
  "p99 latency over time",
  "second",
  "ms",
  overTime("p99", (point) => point.latencyMs.p99),
)}
${lineChart(
  "Throughput over time",
  "second",
  "responses / s",
  overTime("rps", (point) => point.requests),
)}
<pre>${escapeXml(formatComparison(comparison))}</pre>`,
  );
}
