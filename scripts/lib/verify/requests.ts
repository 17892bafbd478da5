/**
 * The request side of `pnpm verify`: a chapter's expectations sent for real.
 *
 * The interface is deliberately small (a `LiveRequest` per expectation), so whatever describes
 * the expectations (chapter.yaml's `expect:`, see scripts/schemas/chapter.schema.json) only has to
 * be mapped onto it: the URL to send to (through the ingress gateway, with the Host header of the
 * route), what must come back (a status), and, for a weighted route, how responses are to be
 * split between versions, judged by an exact binomial test at a stated confidence (binomial.ts).
 * Which version answered is read from the response: by default the JSON body's `served.version`
 * (every workshop app stamps it), or a response header.
 */
import { checkSplit, type SplitVerdict } from "./binomial.ts";
import type { CheckResult } from "./cluster-checks.ts";

export interface LiveRequest {
  name: string;
  /** Where the expectation is written (findings and reports point there). */
  file?: string;
  line?: number;
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /** Expected HTTP status of every response (default: any 2xx). */
  status?: number;
  /** Instead of `status`: any status but these (a write the mesh must let through). */
  statusNot?: number[];
  /** Expected split, version -> weight (percentages or proportions). */
  weights?: Record<string, number>;
  /** How many requests for a weighted check (default 200), 1 otherwise. */
  samples?: number;
  /** `body:served.version` (default) or `header:x-version`. */
  versionFrom?: string;
}

export interface RequestOptions {
  /** For the weighted-route test (default 0.99). */
  confidence?: number;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
  /** Parallel requests (default 8). */
  concurrency?: number;
}

export interface RequestResult extends CheckResult {
  split?: SplitVerdict;
  statuses: Record<string, number>;
}

function versionOf(from: string, res: Response, body: unknown): string {
  const [where, key] = from.includes(":") ? (from.split(/:(.*)/s) as [string, string]) : ["body", from];
  if (where === "header") return res.headers.get(key) ?? "(none)";
  let node: unknown = body;
  for (const part of key.split(".")) node = (node as Record<string, unknown> | undefined)?.[part];
  return node === undefined || node === null ? "(none)" : String(node);
}

export async function sendRequest(r: LiveRequest, o: RequestOptions = {}): Promise<RequestResult> {
  const started = performance.now();
  const fetchImpl = o.fetchImpl ?? fetch;
  const n = r.samples ?? (r.weights ? 200 : 1);
  const statuses: Record<string, number> = {};
  const versions: Record<string, number> = {};
  const errors: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      try {
        const res = await fetchImpl(r.url, {
          method: r.method ?? "GET",
          headers: r.headers ?? {},
          // The answer itself is checked (a 301 to https is an expectation), not where it leads.
          redirect: "manual",
          signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
        });
        const text = await res.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        const v = versionOf(r.versionFrom ?? "body:served.version", res, body);
        versions[v] = (versions[v] ?? 0) + 1;
      } catch (e) {
        const msg = (e as Error).cause ? String(((e as Error).cause as Error).message) : (e as Error).message;
        statuses["error"] = (statuses["error"] ?? 0) + 1;
        if (errors.length < 3) errors.push(msg);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 8, n) }, worker));
  const seconds = (performance.now() - started) / 1000;
  const statusOk = Object.entries(statuses).every(([s]) =>
    r.status !== undefined
      ? Number(s) === r.status
      : r.statusNot
        ? /^\d+$/.test(s) && !r.statusNot.includes(Number(s))
        : /^2\d\d$/.test(s),
  );
  const expectedText =
    r.status !== undefined
      ? `HTTP ${r.status}`
      : r.statusNot
        ? `any status but ${r.statusNot.join("/")}`
        : "2xx";
  const statusText = Object.entries(statuses)
    .map(([s, c]) => `${c}x ${s}`)
    .join(", ");
  const host = r.headers?.host ? ` (Host ${r.headers.host})` : "";
  const base = `${r.method ?? "GET"} ${r.url}${host}: ${statusText}${errors.length ? ` (${errors.join("; ")})` : ""}`;
  const id = `request/${r.name}`;
  if (!statusOk)
    return {
      id,
      ok: false,
      message: `${base}; expected ${expectedText}`,
      seconds,
      statuses,
    };
  if (!r.weights) return { id, ok: true, message: base, seconds, statuses };
  const confidence = o.confidence ?? 0.99;
  const split = checkSplit(r.weights, versions, confidence);
  const shares = split.routes
    .map(
      (x) =>
        `${x.route} ${x.count}/${split.total} (${(x.share * 100).toFixed(1)}%, expected ${(x.expected * 100).toFixed(0)}%, p=${x.p.toPrecision(2)})`,
    )
    .join(", ");
  const extra = Object.keys(split.unexpected).length
    ? `; from versions not in the split: ${Object.entries(split.unexpected)
        .map(([v, c]) => `${v} ${c}`)
        .join(", ")}`
    : "";
  return {
    id,
    ok: split.ok,
    message: `${base}; split ${shares}${extra}; ${split.ok ? "consistent with" : "NOT consistent with"} the weights at ${(confidence * 100).toFixed(0)}% confidence (exact binomial test per version, Bonferroni-corrected)`,
    seconds,
    statuses,
    split,
  };
}
