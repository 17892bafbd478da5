/**
 * The pure half of the behaviour layer: one expectation (chapter.yaml) against one simulated
 * request (the helper's SimResult). No I/O, so every rule of comparison is unit-tested without the
 * helper. Only the fields an expectation names are checked.
 */
import type { ExpectRequest, ExpectThen } from "../model/types.ts";
import type { SimHop, SimResult } from "./protocol.ts";

export interface Mismatch {
  field: keyof ExpectThen;
  message: string;
}

/** "2.5s", "2500ms", "1m", "0.600s" -> milliseconds; "none" and "0s" -> 0. */
export function durationMs(d: string): number {
  if (d === "none") return 0;
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(d.trim());
  if (!m) return Number.NaN;
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  return Math.round(Number(m[1]) * scale);
}

/** The subset of an Istio cluster name: "outbound|80|v1|content-generator..." -> "v1"; none: "-". */
export function subsetOfCluster(cluster: string | undefined): string | undefined {
  if (!cluster) return undefined;
  const parts = cluster.split("|");
  if (parts.length !== 4) return undefined;
  return parts[2] || "-";
}

const ROUTE_FIELDS: ReadonlyArray<keyof ExpectThen> = [
  "route",
  "subset",
  "weights",
  "endpoints",
  "fault",
  "mirror",
  "timeout",
  "retries",
  "hashPolicy",
  "upstreamTls",
];

/** The hop the route-level fields describe: the proxy `at` names, else the first that routed it. */
export function routingHop(then: ExpectThen, result: SimResult): SimHop | undefined {
  if (then.at) {
    const at = result.hops.filter((h) => h.proxy === then.at);
    return at.find((h) => h.direction === "outbound") ?? at[0];
  }
  return result.hops.find((h) => h.direction === "outbound" && (h.route || h.cluster)) ?? result.hops[0];
}

function fmtWeights(w: Record<string, number>): string {
  return (
    Object.entries(w)
      .map(([k, v]) => `${k}: ${v}`)
      .join(", ") || "(none)"
  );
}

function weightsOf(hop: SimHop): Record<string, number> {
  const out: Record<string, number> = {};
  if (hop.weightedClusters?.length) {
    for (const w of hop.weightedClusters) {
      const s = subsetOfCluster(w.cluster) ?? w.cluster;
      out[s] = (out[s] ?? 0) + w.weight;
    }
  } else if (hop.cluster) out[hop.subset ?? subsetOfCluster(hop.cluster) ?? hop.cluster] = 100;
  return out;
}

function sameMap(a: Record<string, number>, b: Record<string, number>): boolean {
  const ka = Object.keys(a).filter((k) => a[k] !== 0);
  const kb = Object.keys(b).filter((k) => b[k] !== 0);
  return ka.length === kb.length && ka.every((k) => a[k] === b[k]);
}

const sameDuration = (a: string | undefined, b: string) => durationMs(a ?? "0s") === durationMs(b);
const retrySet = (s: string | undefined) =>
  (s ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean)
    .sort()
    .join(",");

/** Every way the simulated request differs from what the expectation says. */
export function compareResult(req: ExpectRequest, result: SimResult): Mismatch[] {
  const then = req.then;
  const out: Mismatch[] = [];
  const miss = (field: keyof ExpectThen, message: string) => out.push({ field, message });
  const o = result.outcome;

  if (then.outcome !== undefined && o.kind !== then.outcome)
    miss("outcome", `ends as '${o.kind}'${o.detail ? ` (${o.detail})` : ""}, expected '${then.outcome}'`);
  if (then.status !== undefined && o.status !== then.status)
    miss(
      "status",
      `gets ${o.status === undefined ? "no status decided by config" : `HTTP ${o.status}`}, expected ${then.status}`,
    );
  if (then.allowed !== undefined && (o.kind !== "denied") !== then.allowed)
    miss(
      "allowed",
      then.allowed
        ? `is denied${o.status ? ` (${o.status})` : ""}${denier(result)}, expected to be let through`
        : `is not denied by any RBAC/JWT verdict (ends as '${o.kind}'), expected a denial`,
    );
  if (then.destination !== undefined && o.destination !== then.destination)
    miss("destination", `ends at ${o.destination ?? "nothing"}, expected ${then.destination}`);
  if (then.egress) {
    const e = result.egress;
    if (!e) miss("egress", "does not leave through an egress gateway");
    else {
      if (then.egress.gateway !== undefined && e.gateway !== then.egress.gateway)
        miss("egress", `leaves through ${e.gateway}, expected ${then.egress.gateway}`);
      if (then.egress.tlsOrigination !== undefined && e.tlsOriginated !== then.egress.tlsOrigination)
        miss(
          "egress",
          then.egress.tlsOrigination
            ? `no proxy on the way originates TLS towards ${e.host}`
            : `the egress gateway originates TLS towards ${e.host}, expected plain text`,
        );
    }
  }

  if (!ROUTE_FIELDS.some((f) => then[f] !== undefined)) return out;
  const hop = routingHop(then, result);
  if (!hop) {
    for (const f of ROUTE_FIELDS)
      if (then[f] !== undefined)
        miss(f, then.at ? `passes no hop in proxy ${then.at}` : "no proxy routed the request");
    return out;
  }
  const where = `at ${hop.proxy} (${hop.direction})`;
  if (then.route !== undefined && hop.route !== then.route)
    miss(
      "route",
      `${where} matches route ${hop.route ? `'${hop.route}'` : "(none, or an unnamed one)"}, expected '${then.route}'`,
    );
  if (then.subset !== undefined) {
    const w = weightsOf(hop);
    const subsets = Object.keys(w).filter((k) => w[k] !== 0);
    if (subsets.length > 1)
      miss("subset", `${where} splits over ${fmtWeights(w)}, expected only subset ${then.subset}`);
    else if (subsets[0] !== then.subset)
      miss(
        "subset",
        `${where} goes to ${subsets[0] ? `subset ${subsets[0]}` : "no subset"} (${hop.cluster ?? "no cluster"}), expected ${then.subset}`,
      );
  }
  if (then.weights !== undefined && !sameMap(weightsOf(hop), then.weights))
    miss(
      "weights",
      `${where} weights are ${fmtWeights(weightsOf(hop))}, expected ${fmtWeights(then.weights)}`,
    );
  if (then.endpoints !== undefined && hop.endpoints !== then.endpoints)
    miss(
      "endpoints",
      `${where} sees ${hop.endpoints ?? "no"} endpoint(s) of ${hop.cluster ?? "no cluster"}, expected ${then.endpoints}`,
    );
  if (then.fault !== undefined) {
    const f = hop.fault;
    if (then.fault === false) {
      if (f && (f.delay || f.abort))
        miss("fault", `${where} injects a fault (${JSON.stringify(f)}), expected none`);
    } else {
      const d = then.fault.delay;
      const a = then.fault.abort;
      if (
        d &&
        (!f?.delay || !sameDuration(f.delay.fixedDelay, d.fixedDelay) || f.delay.percent !== d.percent)
      )
        miss(
          "fault",
          `${where} delay is ${f?.delay ? `${f.delay.fixedDelay} for ${f.delay.percent}%` : "none"}, expected ${d.fixedDelay} for ${d.percent}%`,
        );
      if (a && (!f?.abort || f.abort.httpStatus !== a.status || f.abort.percent !== a.percent))
        miss(
          "fault",
          `${where} abort is ${f?.abort ? `${f.abort.httpStatus ?? `grpc ${f.abort.grpcStatus}`} for ${f.abort.percent}%` : "none"}, expected ${a.status} for ${a.percent}%`,
        );
    }
  }
  if (then.mirror !== undefined) {
    const ms = hop.mirrors ?? [];
    if (then.mirror === false) {
      if (ms.length)
        miss(
          "mirror",
          `${where} mirrors to ${ms.map((m) => `${m.cluster} (${m.percent}%)`).join(", ")}, expected none`,
        );
    } else {
      const want = then.mirror;
      if (!ms.some((m) => subsetOfCluster(m.cluster) === want.subset && m.percent === want.percent))
        miss(
          "mirror",
          `${where} mirrors ${ms.length ? ms.map((m) => `to ${m.cluster} (${m.percent}%)`).join(", ") : "nothing"}, expected subset ${want.subset} at ${want.percent}%`,
        );
    }
  }
  if (then.timeout !== undefined && !sameDuration(hop.timeout, then.timeout))
    miss(
      "timeout",
      `${where} route timeout is ${hop.timeout && durationMs(hop.timeout) ? hop.timeout : "none"}, expected ${then.timeout}`,
    );
  if (then.retries !== undefined) {
    const r = hop.retries;
    if (then.retries === false) {
      if (r && r.attempts > 0) miss("retries", `${where} retries ${r.attempts} time(s), expected no retries`);
    } else {
      const w = then.retries;
      const bad =
        !r ||
        (w.attempts !== undefined && r.attempts !== w.attempts) ||
        (w.perTryTimeout !== undefined && !sameDuration(r.perTryTimeout, w.perTryTimeout)) ||
        (w.retryOn !== undefined && retrySet(r.retryOn) !== retrySet(w.retryOn));
      if (bad)
        miss(
          "retries",
          `${where} retry policy is ${r ? JSON.stringify(r) : "none"}, expected ${JSON.stringify(w)}`,
        );
    }
  }
  if (then.hashPolicy !== undefined) {
    const hp = hop.hashPolicy ?? [];
    const w = then.hashPolicy;
    if (w === false) {
      if (hp.length)
        miss("hashPolicy", `${where} hashes on ${JSON.stringify(hp)}, expected no consistent hash`);
    } else {
      const ok = hp.some(
        (h) =>
          (w.cookie !== undefined && h.cookie?.name === w.cookie) ||
          (w.header !== undefined && h.header?.toLowerCase() === w.header.toLowerCase()) ||
          (w.queryParameter !== undefined && h.queryParameter === w.queryParameter) ||
          (w.sourceIp !== undefined && h.sourceIp === true),
      );
      if (!ok)
        miss(
          "hashPolicy",
          `${where} hashes on ${hp.length ? JSON.stringify(hp) : "nothing"}, expected ${JSON.stringify(w)}`,
        );
    }
  }
  if (then.upstreamTls !== undefined && hop.upstreamTls !== then.upstreamTls)
    miss(
      "upstreamTls",
      `${where} uses TLS mode ${hop.upstreamTls ?? "(unknown)"} towards ${hop.cluster ?? "no cluster"}, expected ${then.upstreamTls}`,
    );
  return out;
}

function denier(result: SimResult): string {
  const h = result.hops.find((x) => x.rbac?.allowed === false || x.jwt?.ok === false);
  if (!h) return "";
  if (h.jwt?.ok === false) return ` by JWT at ${h.proxy}${h.jwt.reason ? `: ${h.jwt.reason}` : ""}`;
  return ` by RBAC at ${h.proxy}${h.rbac?.policy ? ` (${h.rbac.policy})` : ""}`;
}

/** The hop trace of one request, one line per hop (the finding's detail, and --explain). */
export function formatTrace(result: SimResult): string {
  const lines = result.hops.map((h, i) => {
    const parts = [
      `${i + 1}. ${h.proxy} ${h.direction}`,
      h.listener && `listener ${h.listener}`,
      h.filterChain && `chain ${h.filterChain}`,
      h.routeConfig && `routes ${h.routeConfig}${h.virtualHost ? `/${h.virtualHost}` : ""}`,
      h.route && `route '${h.route}'`,
      h.weightedClusters?.length
        ? `clusters ${h.weightedClusters.map((w) => `${w.cluster} (${w.weight})`).join(", ")}`
        : h.cluster && `cluster ${h.cluster}`,
      h.endpoints !== undefined && `${h.endpoints} endpoint(s)`,
      h.upstreamTls && `tls ${h.upstreamTls}`,
      h.timeout && durationMs(h.timeout) > 0 && `timeout ${h.timeout}`,
      h.retries && `retries ${h.retries.attempts}`,
      h.fault && `fault ${JSON.stringify(h.fault)}`,
      h.mirrors?.length && `mirror ${h.mirrors.map((m) => `${m.cluster} ${m.percent}%`).join(", ")}`,
      h.hashPolicy?.length && `hash ${JSON.stringify(h.hashPolicy)}`,
      h.jwt && `jwt ${h.jwt.ok ? "ok" : `failed ${h.jwt.status ?? ""} ${h.jwt.reason ?? ""}`.trim()}`,
      h.rbac &&
        `rbac ${h.rbac.allowed ? "allowed" : `denied ${h.rbac.status ?? ""}`.trim()}${h.rbac.policy ? ` (${h.rbac.policy})` : ""}`,
      h.error && `stopped: ${h.error}`,
    ].filter((p): p is string => typeof p === "string" && p.length > 0);
    return parts.join(", ");
  });
  const o = result.outcome;
  lines.push(
    `=> ${o.kind}${o.status ? ` ${o.status}` : ""}${o.destination ? ` at ${o.destination}` : ""}${o.detail ? ` (${o.detail})` : ""}${
      result.egress
        ? `; egress via ${result.egress.gateway} to ${result.egress.host}${result.egress.tlsOriginated ? " (TLS originated)" : ""}`
        : ""
    }`,
  );
  return lines.join("\n");
}
