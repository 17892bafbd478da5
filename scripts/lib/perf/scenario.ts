// The load-test scenario from command-line arguments: pure, so every flag is tested without a run.
import { parseArgs } from "node:util";

export interface Scenario {
  readonly url: string;
  /** Total requests per second across all connections; undefined = as fast as they go. */
  readonly rate?: number;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly paths: readonly string[];
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly label: string;
}

export type PerfCommand =
  | { readonly kind: "run"; readonly scenario: Scenario; readonly out: string }
  | { readonly kind: "compare"; readonly baseline: string; readonly candidate: string; readonly out?: string }
  | { readonly kind: "help" };

export class UsageError extends Error {
  override name = "UsageError";
}

export const USAGE = `usage: pnpm perf --url URL [--rate N | --connections N] [--duration 60s] [--warmup 10s]
                  [--path /a --path /b] [--header "name: value"] [--jwt TOKEN | --jwt-env VAR]
                  [--label NAME] [--timeout 10s] [--out reports/perf/NAME]
       pnpm perf --compare baseline.json candidate.json [--out reports/perf/compare]

Writes <out>.json and <out>.html (charts of latency percentiles, throughput and errors over time).
--rate caps the total request rate; each connection still waits for its answer before the next
request (a closed model), so a slow target gets fewer requests. Without it each connection sends as
fast as it can.`;

/** "90s", "2m", "500ms" or a bare number of seconds, in seconds. */
export function parseDuration(raw: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw.trim());
  if (!match) throw new UsageError(`${flag} must look like 30s, 2m or 500ms, got "${raw}"`);
  const value = Number(match[1]);
  const unit = match[2] ?? "s";
  return unit === "ms" ? value / 1000 : unit === "m" ? value * 60 : value;
}

function positiveInt(raw: string | undefined, flag: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new UsageError(`${flag} must be a whole number, got "${raw}"`);
  return value;
}

export function parseHeader(raw: string): [string, string] {
  const index = raw.indexOf(":");
  if (index <= 0) throw new UsageError(`--header must be "name: value", got "${raw}"`);
  return [raw.slice(0, index).trim().toLowerCase(), raw.slice(index + 1).trim()];
}

export function defaultOutPrefix(label: string, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[:.]/g, "-")
    .replace(/-\d{3}Z$/, "Z");
  return `reports/perf/${label}-${stamp}`;
}

export function parsePerfArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  now = new Date(),
): PerfCommand {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      url: { type: "string" },
      rate: { type: "string" },
      connections: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      path: { type: "string", multiple: true },
      header: { type: "string", multiple: true },
      jwt: { type: "string" },
      "jwt-env": { type: "string" },
      label: { type: "string" },
      timeout: { type: "string" },
      out: { type: "string" },
      compare: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return { kind: "help" };
  if (values.compare) {
    const [baseline, candidate, ...rest] = positionals;
    if (!baseline || !candidate || rest.length > 0)
      throw new UsageError("--compare takes exactly two report files");
    return { kind: "compare", baseline, candidate, ...(values.out ? { out: values.out } : {}) };
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (!values.url) throw new UsageError("--url is required");
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new UsageError(`--url is not a URL: "${values.url}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new UsageError("--url must be http or https");

  const headers: Record<string, string> = Object.fromEntries((values.header ?? []).map(parseHeader));
  const jwt = values.jwt ?? (values["jwt-env"] ? env[values["jwt-env"]] : undefined);
  if (values["jwt-env"] && !jwt)
    throw new UsageError(`--jwt-env ${values["jwt-env"]}: that variable is empty`);
  if (jwt) headers["authorization"] = `Bearer ${jwt.trim()}`;

  const paths = values.path ?? [url.pathname + url.search];
  for (const path of paths)
    if (!path.startsWith("/")) throw new UsageError(`--path must start with /, got "${path}"`);
  const rate = positiveInt(values.rate, "--rate", 0);
  const connections = positiveInt(values.connections, "--connections", 10);
  if (connections < 1) throw new UsageError("--connections must be at least 1");
  const label = values.label ?? url.host.replace(/[^a-zA-Z0-9.-]/g, "_");
  const scenario: Scenario = {
    url: url.origin,
    ...(rate > 0 ? { rate } : {}),
    connections,
    durationSeconds: parseDuration(values.duration ?? "30s", "--duration"),
    warmupSeconds: parseDuration(values.warmup ?? "0s", "--warmup"),
    paths,
    headers,
    timeoutSeconds: parseDuration(values.timeout ?? "10s", "--timeout"),
    label,
  };
  if (scenario.durationSeconds < 1) throw new UsageError("--duration must be at least 1s");
  return { kind: "run", scenario, out: values.out ?? defaultOutPrefix(label, now) };
}

/** The scenario as written into the report: the JWT itself is not kept. */
export function redactedScenario(scenario: Scenario): Scenario {
  const headers = { ...scenario.headers };
  if (headers["authorization"]) headers["authorization"] = "Bearer <redacted>";
  return { ...scenario, headers };
}
