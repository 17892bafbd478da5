/**
 * Configuration that points into the platform render by host and port: Istio's meshConfig
 * (extension providers, tracing, discovery address), Kiali's external services, Grafana's
 * datasources and Sidecar egress hosts. Each such reference must name a Service some rendered
 * object provides, with that port. These references are strings inside strings (YAML inside a
 * ConfigMap key), so no schema and no other rule sees them; a wrong one only shows on a live
 * cluster (istiod drops the provider, Kiali's and Grafana's links fail).
 */
import { load } from "js-yaml";
import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe, isObj, type Obj, type Resource } from "../resource.ts";
import type { ResourceIndex } from "../resource-index.ts";

/** How the client resolves a host: Istio's registry (FQDN only) or the pod's DNS (search paths). */
type Resolver = "istio" | "dns";

interface Ref {
  host: string;
  port: number;
  /** What refers, for the message: "extensionProviders[0] (otel) opentelemetry.service". */
  what: string;
  resolver: Resolver;
}

interface Target {
  name: string;
  ns: string;
}

/** `name.ns.svc.<domain>`, `name.ns.svc`, `name.ns` (DNS only, with a known namespace), `name` (DNS). */
function targetOf(
  host: string,
  index: ResourceIndex,
  resolver: Resolver,
  clientNs: string,
): Target | undefined {
  const h = host.toLowerCase().replace(/\.$/, "");
  const domain = `.svc.${index.platform.clusterDomain}`;
  if (h.endsWith(domain)) {
    const m = /^([^.]+)\.([^.]+)$/.exec(h.slice(0, -domain.length));
    return m ? { name: m[1]!, ns: m[2]! } : undefined;
  }
  // Istio resolves only fully qualified names; the pod's resolver also expands shorter ones.
  if (resolver === "istio") return undefined;
  let m = /^([^.]+)\.([^.]+)\.svc$/.exec(h);
  if (m) return { name: m[1]!, ns: m[2]! };
  m = /^([^.]+)\.([^.]+)$/.exec(h);
  // `grafana.com` is not a Service: the second label must be a namespace this render has.
  if (m) return index.hasNamespace(m[2]!) ? { name: m[1]!, ns: m[2]! } : undefined;
  if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(h) && h !== "localhost") return { name: h, ns: clientNs };
  return undefined;
}

/** Host and port of a URL; the scheme's port when none is written. */
function parseUrl(raw: string): { host: string; port: number } | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return undefined;
  }
  const port = u.port ? Number(u.port) : u.protocol === "https:" ? 443 : u.protocol === "http:" ? 80 : NaN;
  if (!u.hostname || !Number.isInteger(port)) return undefined;
  return { host: u.hostname, port };
}

/** `host:port` (Istio's tracing addresses and discoveryAddress). */
function parseAddress(raw: string): { host: string; port: number } | undefined {
  const m = /^([^:/\s]+):(\d+)$/.exec(raw.trim());
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
}

function embedded(text: unknown): Obj | undefined {
  if (typeof text !== "string") return undefined;
  try {
    const v = load(text);
    return isObj(v) ? v : undefined;
  } catch {
    return undefined; // malformed embedded YAML is the component's problem, reported at start-up
  }
}

/** meshConfig: every extension provider's `service`/`port`, and the proxies' default addresses. */
function meshRefs(mesh: Obj): Ref[] {
  const out: Ref[] = [];
  asArray(mesh.extensionProviders).forEach((p, i) => {
    const provider = asObj(p);
    const name = asString(provider.name) ?? "?";
    for (const [kind, cfg] of Object.entries(provider)) {
      const c = asObj(cfg);
      const service = asString(c.service);
      if (!service || typeof c.port !== "number") continue;
      // `[<namespace>/]<hostname>`: the namespace only disambiguates.
      const host = service.includes("/") ? service.slice(service.indexOf("/") + 1) : service;
      out.push({
        host,
        port: c.port,
        what: `extensionProviders[${i}] (${name}) ${kind}.service`,
        resolver: "istio",
      });
    }
  });
  const dc = asObj(mesh.defaultConfig);
  for (const [kind, cfg] of Object.entries(asObj(dc.tracing))) {
    const a = parseAddress(asString(asObj(cfg).address) ?? "");
    // Proxies dial tracing addresses through DNS, not the registry.
    if (a) out.push({ ...a, what: `defaultConfig.tracing.${kind}.address`, resolver: "dns" });
  }
  const disc = parseAddress(asString(dc.discoveryAddress) ?? "");
  if (disc) out.push({ ...disc, what: "defaultConfig.discoveryAddress", resolver: "dns" });
  return out;
}

function kialiRefs(config: Obj): Ref[] {
  const out: Ref[] = [];
  const ext = asObj(config.external_services);
  for (const svc of ["prometheus", "grafana", "tracing"]) {
    const c = asObj(ext[svc]);
    // Prometheus is always used; grafana and tracing have an `enabled` switch.
    if (svc !== "prometheus" && c.enabled === false) continue;
    for (const key of ["url", "internal_url", "in_cluster_url"]) {
      const u = parseUrl(asString(c[key]) ?? "");
      if (u) out.push({ ...u, what: `external_services.${svc}.${key}`, resolver: "dns" });
    }
  }
  return out;
}

function grafanaRefs(config: Obj): Ref[] {
  const out: Ref[] = [];
  asArray(config.datasources).forEach((d, i) => {
    const ds = asObj(d);
    const u = parseUrl(asString(ds.url) ?? "");
    if (u) out.push({ ...u, what: `datasources[${i}] (${asString(ds.name) ?? "?"}).url`, resolver: "dns" });
  });
  return out;
}

/** The string values of a ConfigMap, or a Secret (decoded), by key. */
function dataOf(r: Resource): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = [];
  for (const [k, v] of Object.entries(asObj(r.object.data)))
    if (typeof v === "string")
      out.push([k, r.kind === "Secret" ? Buffer.from(v, "base64").toString("utf8") : v, "data"]);
  if (r.kind === "Secret")
    for (const [k, v] of Object.entries(asObj(r.object.stringData)))
      if (typeof v === "string") out.push([k, v, "stringData"]);
  return out;
}

/** Which references a data key holds, recognised by content rather than by object name. */
function refsOfKey(key: string, text: string): Ref[] {
  if (key === "mesh") {
    const mesh = embedded(text);
    return mesh ? meshRefs(mesh) : [];
  }
  if (!/\.ya?ml$/.test(key)) return [];
  const doc = embedded(text);
  if (!doc) return [];
  if (isObj(doc.external_services)) return kialiRefs(doc);
  if (Array.isArray(doc.datasources)) return grafanaRefs(doc);
  return [];
}

function portsOf(svc: Resource): number[] {
  return asArray(asObj(svc.object.spec).ports)
    .map((p) => asObj(p).port)
    .filter((p): p is number => typeof p === "number");
}

export default defineRule({
  code: "platform/service-not-found",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Configuration refers to Services and ports that the render provides",
  description:
    "References by host and port from configuration into the platform must resolve to a rendered Service with that port: Istio's meshConfig (the `mesh` key of the `istio` ConfigMap: `extensionProviders[*].<kind>.service`/`port`, `defaultConfig.tracing.*.address`, `defaultConfig.discoveryAddress`), Kiali's `config.yaml` (`external_services.{prometheus,grafana,tracing}` `url`, `internal_url`, `in_cluster_url`, unless disabled), Grafana's datasources (`datasources.yaml` in a ConfigMap or Secret) and Sidecar `egress[].hosts` in platform namespaces (with the listener's port). Hosts are `name.ns.svc.<clusterDomain>`, `name.ns.svc` or `name.ns` (the last two only where the client resolves through DNS; Istio's registry needs the full name), or a bare name in the object's own namespace; a URL without a port uses its scheme's. A wrong one fails only at run time: istiod drops the provider, Kiali's and Grafana's links fail. In path mode, and for namespaces whose charts are not rendered, a namespace is checked only when the files contain a Service in it.",
  hint: "point the reference at one of the Services (and ports) the namespace has, or change the chart's values so that it renders the Service",
  check({ index }) {
    const out: Report[] = [];
    const byNs = new Map<string, Resource[]>();
    for (const s of index.allOf("Service")) {
      const list = byNs.get(s.ns);
      if (list) list.push(s);
      else byNs.set(s.ns, [s]);
    }
    // A namespace's Services are known when it is not opaque (a chart there could not be
    // rendered) and some are rendered, or the scope is complete.
    const knows = (ns: string) => !index.isOpaque(ns) && (byNs.has(ns) || index.complete);
    const inventory = (ns: string) => {
      const list = (byNs.get(ns) ?? []).filter((s) => !s.peer);
      return list.length
        ? `Services in ${ns}: ${list.map((s) => `${s.name} (${portsOf(s).join(", ") || "no ports"})`).join("; ")}`
        : `namespace ${ns} has no Service`;
    };
    const problem = (ref: Ref, from: Resource): string | undefined => {
      const t = targetOf(ref.host, index, ref.resolver, from.ns);
      if (!t || !knows(t.ns)) return undefined;
      // Istio's registry spans the mesh (peers included); DNS answers only for this cluster.
      const svc = (byNs.get(t.ns) ?? []).find(
        (s) => s.name === t.name && (ref.resolver === "istio" || !s.peer),
      );
      if (!svc) return `no Service '${t.name}' in namespace ${t.ns} (${inventory(t.ns)})`;
      if (asObj(svc.object.spec).type === "ExternalName") return undefined;
      if (!portsOf(svc).includes(ref.port))
        return `Service ${t.ns}/${t.name} has no port ${ref.port} (ports: ${portsOf(svc).join(", ") || "none"})`;
      return undefined;
    };

    for (const r of [...index.of("ConfigMap"), ...index.of("Secret")]) {
      for (const [key, text, field] of dataOf(r)) {
        for (const ref of refsOfKey(key, text)) {
          const p = problem(ref, r);
          if (p)
            out.push({
              resource: r,
              path: [field, key],
              message: `${describe(r)} ${key}: ${ref.what} '${ref.host}' port ${ref.port} does not resolve: ${p}`,
            });
        }
      }
    }

    for (const sc of index.of("Sidecar")) {
      asArray(asObj(sc.object.spec).egress).forEach((e, i) => {
        const port = asObj(asObj(e).port).number;
        asArray(asObj(e).hosts).forEach((h, j) => {
          if (typeof h !== "string" || !h.includes("/")) return;
          const host = h.slice(h.indexOf("/") + 1);
          const t = targetOf(host, index, "istio", sc.ns);
          if (!t || !knows(t.ns)) return;
          const svc = (byNs.get(t.ns) ?? []).find((s) => s.name === t.name);
          // A missing Service outside opaque namespaces is sidecar/egress-host-not-found's finding.
          if (!svc && !index.isOpaque(t.ns)) return;
          let p: string | undefined;
          if (!svc) p = `no Service '${t.name}' in namespace ${t.ns} (${inventory(t.ns)})`;
          else if (typeof port === "number" && !portsOf(svc).includes(port))
            p = `Service ${t.ns}/${t.name} has no port ${port} (ports: ${portsOf(svc).join(", ") || "none"})`;
          if (p)
            out.push({
              resource: sc,
              path: ["spec", "egress", i, "hosts", j],
              message: `${describe(sc)} egress host '${h}'${typeof port === "number" ? ` on port ${port}` : ""} does not resolve: ${p}`,
            });
        });
      });
    }
    return out;
  },
});
