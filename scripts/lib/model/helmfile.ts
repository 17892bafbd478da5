/**
 * Reads the releases out of helmfile.yaml: the single source for chart, pinned version,
 * namespace and `needs` of every Helm release. helmfile itself reads the same file.
 */
import type { Finding, SourcePosition } from "../findings.ts";
import { parseYaml } from "../yaml-source.ts";
import type { Loaded } from "./cluster.ts";

export interface HelmRelease {
  name: string;
  namespace: string;
  /** `repo/chart` for a chart from a repository, `./path` for a local chart. */
  chart: string;
  /** Pinned chart version; absent only for local charts. */
  version?: string;
  /** Repository URL resolved from `repositories:`; absent for local charts. */
  repoURL?: string;
  /** Bare chart name inside its repository, or the local path. */
  chartName: string;
  local: boolean;
  /** Release names this one needs (helmfile's `namespace/name` form reduced to names). */
  needs: string[];
  position: SourcePosition;
}

export interface Helmfile {
  file: string;
  environments: string[];
  releases: HelmRelease[];
}

interface RawRelease {
  name?: unknown;
  namespace?: unknown;
  chart?: unknown;
  version?: unknown;
  needs?: unknown;
}

const SEMVER_PIN = /^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$/;

export function parseHelmfile(text: string, file = "helmfile.yaml"): Loaded<Helmfile> {
  const parsed = parseYaml(text, file);
  if (parsed.findings.length) return { findings: parsed.findings };
  const findings: Finding[] = [];
  const repos = new Map<string, string>();
  const environments: string[] = [];
  const releases: HelmRelease[] = [];
  const problem = (pos: SourcePosition, message: string, hint: string) =>
    findings.push({ ...pos, rule: "model/helmfile", severity: "error", anchors: [], message, hint });

  for (const doc of parsed.documents) {
    const v = (doc.value ?? {}) as Record<string, unknown>;
    for (const [i, r] of ((v.repositories as Array<{ name: string; url: string }>) ?? []).entries()) {
      if (typeof r?.name !== "string" || typeof r?.url !== "string") {
        problem(
          doc.positionOf(["repositories", i]),
          "a repository needs a name and a url",
          "add name: and url:",
        );
        continue;
      }
      repos.set(r.name, r.url);
    }
    environments.push(...Object.keys((v.environments as Record<string, unknown>) ?? {}));
  }
  for (const doc of parsed.documents) {
    const v = (doc.value ?? {}) as Record<string, unknown>;
    ((v.releases as RawRelease[]) ?? []).forEach((r, i) => {
      const pos = doc.positionOf(["releases", i]);
      if (typeof r.name !== "string" || typeof r.namespace !== "string" || typeof r.chart !== "string") {
        problem(pos, "a release needs name, namespace and chart", "add the missing fields");
        return;
      }
      const local = r.chart.startsWith("./") || r.chart.startsWith("../");
      const [repoName, ...rest] = r.chart.split("/");
      const chartName = local ? r.chart : rest.join("/");
      const repoURL = local ? undefined : repos.get(repoName ?? "");
      if (!local && !repoURL) {
        problem(
          doc.positionOf(["releases", i, "chart"], "value"),
          `release '${r.name}' uses chart '${r.chart}' but no repository '${repoName}' is declared`,
          `add '${repoName}' under repositories:`,
        );
      }
      const version = typeof r.version === "string" ? r.version : undefined;
      if (!local && (version === undefined || !SEMVER_PIN.test(version))) {
        problem(
          doc.positionOf(["releases", i, version === undefined ? "name" : "version"], "value"),
          `release '${r.name}' must pin an exact chart version (found ${JSON.stringify(r.version ?? null)})`,
          "set version: to an exact release such as 1.30.3; ranges make renders unreproducible",
        );
      }
      const needs = Array.isArray(r.needs) ? r.needs.map((n) => String(n).split("/").pop() ?? String(n)) : [];
      releases.push({
        name: r.name,
        namespace: r.namespace,
        chart: r.chart,
        ...(version !== undefined ? { version } : {}),
        ...(repoURL !== undefined ? { repoURL } : {}),
        chartName,
        local,
        needs,
        position: pos,
      });
    });
  }
  const names = new Set(releases.map((r) => r.name));
  for (const r of releases) {
    for (const n of r.needs) {
      if (!names.has(n))
        problem(r.position, `release '${r.name}' needs unknown release '${n}'`, "fix the needs: entry");
    }
  }
  const cycle = findCycle(releases);
  if (cycle)
    problem(releases[0]!.position, `the needs graph has a cycle: ${cycle.join(" -> ")}`, "break the cycle");
  if (findings.length) return { findings };
  return { value: { file, environments, releases }, findings };
}

function findCycle(releases: HelmRelease[]): string[] | undefined {
  const byName = new Map(releases.map((r) => [r.name, r]));
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === "done") return undefined;
    if (state.get(name) === "visiting") return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, "visiting");
    stack.push(name);
    for (const n of byName.get(name)?.needs ?? []) {
      const c = visit(n);
      if (c) return c;
    }
    stack.pop();
    state.set(name, "done");
    return undefined;
  };
  for (const r of releases) {
    const c = visit(r.name);
    if (c) return c;
  }
  return undefined;
}

/** Sync wave of each release: the length of its longest `needs` chain, so CRDs and control planes go first. */
export function syncWaves(releases: readonly HelmRelease[]): Map<string, number> {
  const byName = new Map(releases.map((r) => [r.name, r]));
  const waves = new Map<string, number>();
  const wave = (name: string): number => {
    const known = waves.get(name);
    if (known !== undefined) return known;
    const needs = byName.get(name)?.needs ?? [];
    const w = needs.length === 0 ? 0 : 1 + Math.max(...needs.map(wave));
    waves.set(name, w);
    return w;
  };
  for (const r of releases) wave(r.name);
  return waves;
}
