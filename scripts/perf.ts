// pnpm perf: load-test a URL with autocannon and write a JSON report plus an HTML page of charts,
// or compare two reports (baseline vs mesh). The same script runs in the cluster as the chart's
// load-test Job. Usage: pnpm perf --help
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { compareReports, formatComparison } from "./lib/perf/compare.ts";
import { renderComparisonHtml, renderReportHtml } from "./lib/perf/html.ts";
import { failedRun, formatSummary, parseReport } from "./lib/perf/report.ts";
import { runScenario } from "./lib/perf/runner.ts";
import { defaultOutPrefix, parsePerfArgs, redactedScenario, USAGE, UsageError } from "./lib/perf/scenario.ts";

async function write(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

async function main(): Promise<number> {
  let command;
  try {
    command = parsePerfArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof UsageError || (error instanceof Error && "code" in error)) {
      console.error(`perf: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }

  if (command.kind === "help") {
    console.log(USAGE);
    return 0;
  }

  if (command.kind === "compare") {
    // A missing report is the usual slip (the run wrote it elsewhere): say so, in order, not ENOENT.
    const missing = [command.baseline, command.candidate].filter((file) => !existsSync(file));
    if (missing.length) {
      console.error(
        `perf: no report at ${missing.join(" or ")}; a run writes <prefix>.json with \`pnpm perf --url URL --out <prefix>\` (default reports/perf/<label>-<time>)`,
      );
      return 2;
    }
    const [baseline, candidate] = await Promise.all(
      [command.baseline, command.candidate].map(async (file) =>
        parseReport(await readFile(file, "utf8"), file),
      ),
    );
    const comparison = compareReports(baseline!, candidate!);
    if (comparison.settingDifferences.length)
      console.error(
        `perf: warning: the two runs used different load settings (${comparison.settingDifferences.join(", ")}); ` +
          "the differences below are partly the load's, not only the target's",
      );
    console.log(formatComparison(comparison));
    const out = `${command.out ?? defaultOutPrefix("compare", new Date())}.html`;
    await write(out, renderComparisonHtml(comparison, baseline!, candidate!));
    console.log(`\nwrote ${out}`);
    return 0;
  }

  const { scenario, out } = command;
  const report = await runScenario(scenario, (line) => console.error(line));
  const stored = { ...report, scenario: redactedScenario(report.scenario) };
  await write(`${out}.json`, `${JSON.stringify(stored, null, 2)}\n`);
  await write(`${out}.html`, renderReportHtml(stored));
  console.log(formatSummary(stored));
  // One line a log collector (kubectl logs of the Job) can pick up whole.
  console.log(JSON.stringify({ perfSummary: stored.summary, label: stored.label, target: stored.target }));
  console.log(`wrote ${out}.json and ${out}.html`);
  const failed = failedRun(stored);
  if (failed) {
    console.error(`perf: ${failed}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`perf: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
