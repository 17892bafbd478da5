/**
 * charts.lock.yaml: every upstream chart of helmfile.yaml pinned to the digest of its files
 * (package-digest.ts). helmfile.yaml says which version; the lock says which bytes. Parsed with
 * positions so a mismatch points at the line to change.
 */
import type { Finding, SourcePosition } from "../findings.ts";
import type { HelmRelease } from "../model/helmfile.ts";
import { parseYaml } from "../yaml-source.ts";

export const CHART_LOCK_FILE = "charts.lock.yaml";

export interface LockedChart {
  repository: string;
  chart: string;
  version: string;
  /** `sha256:<hex>` over the package's files. */
  digest: string;
  position: SourcePosition;
}

export interface ChartLock {
  file: string;
  charts: LockedChart[];
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function lockKey(c: { repository: string; chart: string; version: string }): string {
  return `${c.repository.replace(/\/+$/, "")}|${c.chart}|${c.version}`;
}

export function parseChartLock(
  text: string,
  file = CHART_LOCK_FILE,
): { lock?: ChartLock; findings: Finding[] } {
  const parsed = parseYaml(text, file);
  if (parsed.findings.length) return { findings: parsed.findings };
  const doc = parsed.documents[0];
  const findings: Finding[] = [];
  const problem = (pos: SourcePosition, message: string, hint: string) =>
    findings.push({ ...pos, rule: "charts/lock", severity: "error", anchors: [], message, hint });
  const root = (doc?.value ?? {}) as Record<string, unknown>;
  if (!Array.isArray(root.charts)) {
    problem(
      doc ? doc.positionOf([]) : { file, line: 1, column: 1 },
      `${file} has no 'charts:' list`,
      "run `pnpm charts --lock` to write it from helmfile.yaml",
    );
    return { findings };
  }
  const charts: LockedChart[] = [];
  const seen = new Set<string>();
  (root.charts as unknown[]).forEach((raw, i) => {
    const pos = doc!.positionOf(["charts", i]);
    const c = (raw ?? {}) as Record<string, unknown>;
    const missing = ["repository", "chart", "version", "digest"].filter((k) => typeof c[k] !== "string");
    if (missing.length) {
      problem(
        pos,
        `chart entry ${i + 1} lacks ${missing.join(", ")}`,
        "run `pnpm charts --lock` to rewrite it",
      );
      return;
    }
    const entry = {
      repository: c.repository as string,
      chart: c.chart as string,
      version: c.version as string,
      digest: c.digest as string,
      position: pos,
    };
    if (!DIGEST.test(entry.digest)) {
      problem(
        doc!.positionOf(["charts", i, "digest"], "value"),
        `the digest of ${entry.chart} ${entry.version} is not sha256:<64 hex digits>`,
        "run `pnpm charts --lock` to record it",
      );
      return;
    }
    const key = lockKey(entry);
    if (seen.has(key)) {
      problem(
        pos,
        `${entry.chart} ${entry.version} from ${entry.repository} is locked twice`,
        "keep one entry",
      );
      return;
    }
    seen.add(key);
    charts.push(entry);
  });
  return findings.length ? { findings } : { lock: { file, charts }, findings };
}

/**
 * Every upstream release's chart is locked, and every lock entry is used. Errors point at the
 * release in helmfile.yaml (the line a re-pin changes); unused entries at the lock.
 */
export function checkLockCoverage(lock: ChartLock, releases: readonly HelmRelease[]): Finding[] {
  const findings: Finding[] = [];
  const byKey = new Map(lock.charts.map((c) => [lockKey(c), c]));
  const used = new Set<string>();
  for (const r of releases) {
    if (r.local || !r.repoURL || !r.version) continue;
    const key = lockKey({ repository: r.repoURL, chart: r.chartName, version: r.version });
    used.add(key);
    if (!byKey.has(key))
      findings.push({
        ...r.position,
        rule: "charts/lock",
        severity: "error",
        anchors: [],
        message: `release '${r.name}' pins ${r.chartName} ${r.version} from ${r.repoURL}, which ${lock.file} does not lock`,
        hint: "run `pnpm charts --lock` (online, or with CHART_MIRROR set) to record its digest, and commit the lock",
      });
  }
  for (const c of lock.charts)
    if (!used.has(lockKey(c)))
      findings.push({
        ...c.position,
        rule: "charts/lock",
        severity: "warning",
        anchors: [],
        message: `${c.chart} ${c.version} from ${c.repository} is locked but no release of helmfile.yaml uses it`,
        hint: "run `pnpm charts --lock` to drop it",
      });
  return findings;
}

/** The lock file's text for a set of entries, sorted, with a header that says what it is. */
export function formatChartLock(charts: ReadonlyArray<Omit<LockedChart, "position">>): string {
  const sorted = [...charts].sort((a, b) => (lockKey(a) < lockKey(b) ? -1 : lockKey(a) > lockKey(b) ? 1 : 0));
  const lines = [
    "# Every upstream chart of helmfile.yaml, pinned to the sha256 of the files in its package",
    "# (not of the .tgz: packaging timestamps change the archive, never the files). Written by",
    "# `pnpm charts --lock`; `pnpm charts` fetches the packages into ~/.cache/istio-gitops/charts",
    "# and refuses one whose files do not match. Do not edit by hand.",
    "charts:",
  ];
  for (const c of sorted)
    lines.push(
      `  - repository: ${c.repository}`,
      `    chart: ${c.chart}`,
      `    version: ${JSON.stringify(c.version)}`,
      `    digest: ${c.digest}`,
    );
  return `${lines.join("\n")}\n`;
}
