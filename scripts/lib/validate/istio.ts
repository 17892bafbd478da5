/** Istio semantics shared by several rules: routes, gateways, hosts, protocols, mTLS modes. */
import type { YamlPath } from "../yaml-source.ts";
import { asArray, asObj, asString, asStringMap, exportScope, type Obj, type Resource } from "./resource.ts";
import { matchLabelsOf, selects, type ResourceIndex, type Workload } from "./resource-index.ts";

export interface Destination {
  host: string;
  subset?: string;
  port?: number;
  weight?: number;
  path: YamlPath;
  /** "http" | "tcp" | "tls" | "mirror" */
  via: string;
  /** Index of the route (http[i]) it belongs to, -1 for mirrors outside a route list. */
  route: number;
}

/** Memoized per object: many rules walk the same routes, and a run's objects are never changed. */
const destinationCache = new WeakMap<object, readonly Destination[]>();
const gatewayCache = new WeakMap<object, ReadonlyArray<{ ref: string; raw: string; index: number }>>();

/** Every destination of a VirtualService: route destinations of http/tcp/tls, mirrors. */
export function destinations(vs: Resource): readonly Destination[] {
  let out = destinationCache.get(vs.object);
  if (!out) destinationCache.set(vs.object, (out = computeDestinations(vs)));
  return out;
}

function computeDestinations(vs: Resource): Destination[] {
  const spec = asObj(vs.object.spec);
  const out: Destination[] = [];
  const add = (d: unknown, path: YamlPath, via: string, route: number, weight?: unknown) => {
    const o = asObj(d);
    const host = asString(o.host);
    if (!host) return;
    const port = asObj(o.port).number;
    out.push({
      host,
      ...(typeof o.subset === "string" ? { subset: o.subset } : {}),
      ...(typeof port === "number" ? { port } : {}),
      ...(typeof weight === "number" ? { weight } : {}),
      path,
      via,
      route,
    });
  };
  for (const section of ["http", "tcp", "tls"] as const) {
    asArray(spec[section]).forEach((r, i) => {
      const ro = asObj(r);
      asArray(ro.route).forEach((d, j) =>
        add(asObj(d).destination, [section, i, "route", j, "destination"], section, i, asObj(d).weight),
      );
      if (section === "http") {
        if (ro.mirror) add(ro.mirror, [section, i, "mirror"], "mirror", i);
        asArray(ro.mirrors).forEach((m, j) =>
          add(asObj(m).destination, [section, i, "mirrors", j, "destination"], "mirror", i),
        );
      }
    });
  }
  return out.map((d) => ({ ...d, path: ["spec", ...d.path] }));
}

/** Gateway names of a VirtualService, normalized to `ns/name` (or `mesh`). Empty list means mesh. */
export function vsGateways(vs: Resource): ReadonlyArray<{ ref: string; raw: string; index: number }> {
  let out = gatewayCache.get(vs.object);
  if (!out) gatewayCache.set(vs.object, (out = computeGateways(vs)));
  return out;
}

function computeGateways(vs: Resource): Array<{ ref: string; raw: string; index: number }> {
  return asArray(asObj(vs.object.spec).gateways).flatMap((g, index) => {
    if (typeof g !== "string") return [];
    return [{ ref: gatewayRef(g, vs.ns), raw: g, index }];
  });
}

export function gatewayRef(g: string, ns: string): string {
  if (g === "mesh") return "mesh";
  if (g.includes("/")) return g;
  // FQDN form: name.ns.svc.cluster.local
  const parts = g.split(".");
  if (parts.length >= 2) return `${parts[1]}/${parts[0]}`;
  return `${ns}/${g}`;
}

export function appliesToMesh(vs: Resource): boolean {
  const gws = vsGateways(vs);
  return gws.length === 0 || gws.some((g) => g.ref === "mesh");
}

/** Whether two resources are visible together in at least one namespace (their exportTo overlap). */
export function exportOverlaps(a: Resource, b: Resource): boolean {
  const x = exportScope(a);
  const y = exportScope(b);
  if (x.all) return y.all || y.namespaces.size > 0;
  if (y.all) return x.namespaces.size > 0;
  for (const n of x.namespaces) if (y.namespaces.has(n)) return true;
  return false;
}

/** Host matching with Istio wildcards: `*`, `*.example.com`. Either side may be a wildcard. */
export function hostMatches(a: string, b: string): boolean {
  if (a === b || a === "*" || b === "*") return true;
  if (a.startsWith("*.") || a.startsWith("*")) {
    const suf = a.slice(1);
    if (b.endsWith(suf)) return true;
    if (b.startsWith("*") && b.slice(1).endsWith(suf)) return true;
  }
  if (b.startsWith("*")) {
    const suf = b.slice(1);
    if (a.endsWith(suf)) return true;
  }
  return false;
}

/** A Gateway server host (`ns/host`, `./host`, `*\/host`, `host`) split into namespace and host. */
export function serverHost(h: string, gatewayNs: string): { ns: string; host: string } {
  const i = h.indexOf("/");
  if (i < 0) return { ns: "*", host: h };
  const ns = h.slice(0, i);
  return { ns: ns === "." ? gatewayNs : ns, host: h.slice(i + 1) };
}

/** Gateway selector: the workloads it binds to, across namespaces (Istio's default). */
export function gatewaySelector(gw: Resource): Record<string, string> {
  return asStringMap(asObj(gw.object.spec).selector);
}

export function gatewayWorkloads(index: ResourceIndex, gw: Resource): Workload[] {
  const sel = gatewaySelector(gw);
  if (Object.keys(sel).length === 0) return [];
  return index.workloadsSelected(sel, undefined);
}

/** Istio's protocol prefixes for Service port names (`http`, `http-web`, `grpc-api`, ...). */
export const ISTIO_PROTOCOLS = [
  "http",
  "http2",
  "https",
  "grpc",
  "grpc-web",
  "tcp",
  "tls",
  "mongo",
  "mysql",
  "redis",
  "udp",
  "h2c",
  "ws",
  "wss",
];

export function protocolOfPortName(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (lower === "grpc-web" || lower.startsWith("grpc-web-")) return "grpc-web";
  const prefix = lower.split("-")[0] ?? "";
  return ISTIO_PROTOCOLS.includes(prefix) ? prefix : undefined;
}

export function protocolOfAppProtocol(ap: string): string | undefined {
  const lower = ap.toLowerCase();
  if (ISTIO_PROTOCOLS.includes(lower)) return lower;
  if (lower === "kubernetes.io/h2c") return "h2c";
  if (lower === "kubernetes.io/ws") return "ws";
  if (lower === "kubernetes.io/wss") return "wss";
  return undefined;
}

/** The selector of a policy (matchLabels or workloadSelector.labels), undefined when it has none. */
export function policySelector(r: Resource): { labels: Record<string, string>; path: YamlPath } | undefined {
  const spec = asObj(r.object.spec);
  if (r.kind === "Sidecar" || r.kind === "EnvoyFilter") {
    const ws = asObj(spec.workloadSelector);
    const labels = asStringMap(ws.labels);
    return Object.keys(labels).length ? { labels, path: ["spec", "workloadSelector", "labels"] } : undefined;
  }
  if (r.kind === "DestinationRule") {
    const labels = matchLabelsOf(spec.workloadSelector);
    return labels && Object.keys(labels).length ? { labels, path: ["spec", "workloadSelector"] } : undefined;
  }
  const labels = matchLabelsOf(spec.selector);
  return labels && Object.keys(labels).length
    ? { labels, path: ["spec", "selector", "matchLabels"] }
    : undefined;
}

/** Whether a policy attaches through `targetRef`/`targetRefs` (a Gateway, a Service): a selector too. */
export function hasTargetRef(r: Resource): boolean {
  const spec = asObj(r.object.spec);
  return Object.keys(asObj(spec.targetRef)).length > 0 || asArray(spec.targetRefs).length > 0;
}

export type MtlsMode = "STRICT" | "PERMISSIVE" | "DISABLE" | "UNSET";

function paMode(pa: Resource, port?: number): MtlsMode {
  const spec = asObj(pa.object.spec);
  if (port !== undefined) {
    const pl = asObj(asObj(spec.portLevelMtls)[String(port)]);
    const m = asString(pl.mode);
    if (m && m !== "UNSET") return m as MtlsMode;
  }
  const m = asString(asObj(spec.mtls).mode);
  return (m as MtlsMode | undefined) ?? "UNSET";
}

/**
 * The effective PeerAuthentication mode of a workload: workload policy, then namespace policy,
 * then the mesh policy in the root namespace; PERMISSIVE when none says otherwise.
 */
export function effectiveMtls(
  index: ResourceIndex,
  w: Workload,
  port?: number,
): { mode: MtlsMode; policy?: Resource; level?: "workload" | "namespace" | "mesh" } {
  const pas = index.allOf("PeerAuthentication");
  const root = index.platform.rootNamespace;
  const candidates: Array<[Resource | undefined, "workload" | "namespace" | "mesh"]> = [
    [
      pas.find(
        (p) =>
          p.ns === w.ns &&
          hasSelector(p) &&
          selects(matchLabelsOf(asObj(p.object.spec).selector) ?? {}, w.labels),
      ),
      "workload",
    ],
    [pas.find((p) => p.ns === w.ns && !hasSelector(p)), "namespace"],
    [pas.find((p) => p.ns === root && !hasSelector(p)), "mesh"],
  ];
  for (const [p, level] of candidates) {
    if (!p) continue;
    const mode = paMode(p, port);
    if (mode !== "UNSET") return { mode, policy: p, level };
  }
  return { mode: "PERMISSIVE" };
}

/**
 * The workload port a Service port sends to (PeerAuthentication's portLevelMtls is keyed by it):
 * `targetPort` as a number, a named `targetPort` through the workload's container ports, the
 * Service port itself when `targetPort` is absent; undefined when it cannot be resolved.
 */
export function targetPortOf(svc: Resource, servicePort: number, w: Workload): number | undefined {
  const sp = asArray(asObj(svc.object.spec).ports)
    .map(asObj)
    .find((p) => p.port === servicePort);
  if (!sp) return servicePort;
  const tp = sp.targetPort;
  if (tp === undefined || tp === null) return servicePort;
  if (typeof tp === "number") return tp;
  if (typeof tp === "string") {
    if (/^\d+$/.test(tp)) return Number(tp);
    return w.ports.find((p) => p.name === tp)?.port;
  }
  return undefined;
}

function hasSelector(p: Resource): boolean {
  return Object.keys(matchLabelsOf(asObj(p.object.spec).selector) ?? {}).length > 0;
}

export function specOf(r: Resource): Obj {
  return asObj(r.object.spec);
}
