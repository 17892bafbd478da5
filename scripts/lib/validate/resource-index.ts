/**
 * The resource set, indexed once (by kind, namespace, host, workload labels) so that every rule
 * is a linear pass with constant-time lookups, however many resources there are.
 */
import {
  asArray,
  asObj,
  asString,
  asStringMap,
  isObj,
  labelsOf,
  visibleIn,
  type Obj,
  type Resource,
} from "./resource.ts";
import { gatewayApiPods } from "./gwapi-pods.ts";

export interface Workload {
  ns: string;
  labels: Record<string, string>;
  serviceAccount: string;
  /** Container ports: number and name. */
  ports: Array<{ port: number; name?: string }>;
  /**
   * The manifest does not say which ports the pods have: their containers come from Istio's
   * injection template (`image: auto`, as in the gateway chart) or from an operator.
   */
  portsUnknown?: boolean;
  /** Absent for platform gateways declared by configuration or derived from Helm releases. */
  resource?: Resource;
  /** Where it came from, for messages ("Deployment workshop/reviews-v1", "release istio-ingress"). */
  origin: string;
  /**
   * The pods istiod deploys for this Gateway API Gateway (`ns/name`; `resource` is the Gateway):
   * modelled, not written in any manifest (gwapi-pods.ts).
   */
  gatewayApi?: string;
}

export interface PlatformGateway {
  namespace: string;
  labels: Record<string, string>;
  origin: string;
  serviceAccount?: string;
}

export interface Platform {
  /** Gateway pods the validated files do not contain (Helm releases of istio/gateway, or configured). */
  gateways: PlatformGateway[];
  /**
   * Namespaces whose content comes from upstream charts that are not rendered here: services,
   * workloads and service accounts in them are assumed to exist.
   */
  opaqueNamespaces: Set<string>;
  /** Istio's root namespace (mesh-wide policies live there). */
  rootNamespace: string;
  clusterDomain: string;
}

export const DEFAULT_PLATFORM: Platform = {
  gateways: [],
  opaqueNamespaces: new Set(),
  rootNamespace: "istio-system",
  clusterDomain: "cluster.local",
};

const POD_TEMPLATE_KINDS = new Set([
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "ReplicaSet",
  "Job",
  "ReplicationController",
]);
export const WORKLOAD_KINDS = new Set([...POD_TEMPLATE_KINDS, "CronJob", "Pod", "WorkloadEntry"]);

/** The pod template (metadata + spec) of a workload object, if it has one. */
export function podTemplate(
  r: Resource,
): { labels: Record<string, string>; spec: Obj; path: string[] } | undefined {
  const spec = asObj(r.object.spec);
  if (POD_TEMPLATE_KINDS.has(r.kind)) {
    const t = asObj(spec.template);
    return {
      labels: asStringMap(asObj(t.metadata).labels),
      spec: asObj(t.spec),
      path: ["spec", "template", "spec"],
    };
  }
  if (r.kind === "CronJob") {
    const t = asObj(asObj(asObj(spec.jobTemplate).spec).template);
    return {
      labels: asStringMap(asObj(t.metadata).labels),
      spec: asObj(t.spec),
      path: ["spec", "jobTemplate", "spec", "template", "spec"],
    };
  }
  if (r.kind === "Pod") return { labels: asStringMap(asObj(r.object.metadata).labels), spec, path: ["spec"] };
  return undefined;
}

export type PodTemplate = NonNullable<ReturnType<typeof podTemplate>>;

/** Every workload object that carries a pod template (a Pod's own spec is one), with it, kind by kind. */
export function* podTemplates(index: ResourceIndex): Generator<[Resource, PodTemplate]> {
  for (const kind of WORKLOAD_KINDS)
    for (const r of index.of(kind)) {
      const t = podTemplate(r);
      if (t) yield [r, t];
    }
}

function workloadOf(r: Resource): Workload | undefined {
  if (r.kind === "WorkloadEntry") {
    const spec = asObj(r.object.spec);
    return {
      ns: r.ns,
      labels: asStringMap(spec.labels),
      serviceAccount: asString(spec.serviceAccount) ?? "default",
      ports: Object.entries(asObj(spec.ports)).map(([name, port]) => ({ name, port: Number(port) })),
      resource: r,
      origin: `WorkloadEntry ${r.ns}/${r.name}`,
    };
  }
  const t = podTemplate(r);
  if (!t) return undefined;
  const ports: Workload["ports"] = [];
  const injected = asArray(t.spec.containers).some((c) => asObj(c).image === "auto");
  for (const c of [...asArray(t.spec.containers), ...asArray(t.spec.initContainers)]) {
    for (const p of asArray(asObj(c).ports)) {
      const po = asObj(p);
      if (typeof po.containerPort === "number")
        ports.push({ port: po.containerPort, ...(typeof po.name === "string" ? { name: po.name } : {}) });
    }
  }
  return {
    ns: r.ns,
    labels: t.labels,
    serviceAccount: asString(t.spec.serviceAccountName) ?? asString(t.spec.serviceAccount) ?? "default",
    ports,
    ...(injected ? { portsUnknown: true } : {}),
    resource: r,
    origin: `${r.kind} ${r.ns}/${r.name}`,
  };
}

/**
 * Pods an operator creates from a custom resource: the Prometheus Operator's StatefulSets for
 * Prometheus and Alertmanager, labelled as the operator labels them (prometheus-operator's
 * `operator.prometheus.io/name` and `app.kubernetes.io/name` labels).
 */
function operatorWorkloadOf(r: Resource): Workload | undefined {
  if (r.group !== "monitoring.coreos.com" || (r.kind !== "Prometheus" && r.kind !== "Alertmanager"))
    return undefined;
  const spec = asObj(r.object.spec);
  const app = r.kind === "Prometheus" ? "prometheus" : "alertmanager";
  return {
    ns: r.ns,
    labels: {
      ...asStringMap(asObj(spec.podMetadata).labels),
      "app.kubernetes.io/name": app,
      "app.kubernetes.io/instance": r.name,
      "app.kubernetes.io/managed-by": "prometheus-operator",
      "operator.prometheus.io/name": r.name,
      [app]: r.name,
    },
    serviceAccount: asString(spec.serviceAccountName) ?? "default",
    ports: [],
    portsUnknown: true,
    resource: r,
    origin: `pods of ${r.kind} ${r.ns}/${r.name} (created by the Prometheus Operator)`,
  };
}

export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

export function matchLabelsOf(v: unknown): Record<string, string> | undefined {
  if (!isObj(v)) return undefined;
  return asStringMap(v.matchLabels);
}

export class ResourceIndex {
  /** Resources the rules report on (not peers). */
  readonly local: Resource[] = [];
  readonly all: Resource[];
  readonly workloads: Workload[] = [];
  private readonly byKind = new Map<string, Resource[]>();
  private readonly localByKind = new Map<string, Resource[]>();
  private readonly services = new Map<string, Resource>();
  private readonly seExact = new Map<string, Resource[]>();
  private readonly seWildcard: Array<{ suffix: string; resource: Resource }> = [];
  private readonly namespaces = new Set<string>();
  private readonly namespaceLabelsByName = new Map<string, Record<string, string>>();
  private readonly serviceAccounts = new Set<string>();
  private readonly workloadsByNs = new Map<string, Workload[]>();
  private readonly kinds = new Set<string>();

  constructor(
    resources: readonly Resource[],
    readonly platform: Platform = DEFAULT_PLATFORM,
    /** Repo mode: the set is complete, so "not found" means missing. Path mode: only when the kind is present. */
    readonly complete = false,
  ) {
    this.all = [...resources];
    for (const r of resources) {
      push(this.byKind, r.kind, r);
      this.kinds.add(r.kind);
      if (!r.peer) {
        this.local.push(r);
        push(this.localByKind, r.kind, r);
      }
      if (r.ns) this.namespaces.add(r.ns);
      if (r.kind === "Namespace") {
        this.namespaces.add(r.name);
        // The first declaration wins: this cluster's own Namespace comes before a peer's.
        if (!this.namespaceLabelsByName.has(r.name)) this.namespaceLabelsByName.set(r.name, labelsOf(r));
      }
      if (r.kind === "ServiceAccount") this.serviceAccounts.add(`${r.ns}/${r.name}`);
      if (r.kind === "Service") this.services.set(`${r.name}.${r.ns}.svc.${platform.clusterDomain}`, r);
      if (r.kind === "ServiceEntry") {
        for (const h of asArray(asObj(r.object.spec).hosts)) {
          if (typeof h !== "string") continue;
          if (h.startsWith("*")) this.seWildcard.push({ suffix: h.slice(1), resource: r });
          else push(this.seExact, h, r);
        }
      }
      if (WORKLOAD_KINDS.has(r.kind)) {
        const w = workloadOf(r);
        if (w) this.addWorkload(w);
      }
      const managed = operatorWorkloadOf(r);
      if (managed) this.addWorkload(managed);
    }
    for (const p of gatewayApiPods(resources)) {
      const gw = `${p.gateway.ns}/${p.gateway.name}`;
      this.serviceAccounts.add(`${p.gateway.ns}/${p.serviceAccount}`);
      this.addWorkload({
        ns: p.gateway.ns,
        labels: p.labels,
        serviceAccount: p.serviceAccount,
        ports: [],
        portsUnknown: true,
        resource: p.gateway,
        origin: `pods of Gateway ${gw} (Deployment ${p.gateway.ns}/${p.deployment}, created by istiod)`,
        gatewayApi: gw,
      });
    }
    for (const g of platform.gateways) {
      this.namespaces.add(g.namespace);
      this.addWorkload({
        ns: g.namespace,
        labels: g.labels,
        serviceAccount: g.serviceAccount ?? "",
        ports: [],
        origin: g.origin,
      });
    }
    for (const ns of platform.opaqueNamespaces) this.namespaces.add(ns);
  }

  private addWorkload(w: Workload): void {
    this.workloads.push(w);
    push(this.workloadsByNs, w.ns, w);
  }

  /** Local (reported-on) resources of a kind. */
  of(kind: string): Resource[] {
    return this.localByKind.get(kind) ?? [];
  }

  /** All resources of a kind, peers included. */
  allOf(kind: string): Resource[] {
    return this.byKind.get(kind) ?? [];
  }

  /** Whether a reference to something of these kinds can be called missing (see README: path mode). */
  knows(...kinds: string[]): boolean {
    return this.complete || kinds.some((k) => this.kinds.has(k));
  }

  /**
   * Whether "no workload" can be concluded. The modelled pods of Gateway API Gateways do not count
   * in path mode: a file with a Gateway and its routes says nothing about the apps' Deployments.
   */
  knowsWorkloads(): boolean {
    return this.complete || this.workloads.some((w) => w.gatewayApi === undefined);
  }

  /** The labels of a Namespace the resources declare; undefined when none declares it. */
  namespaceLabels(ns: string): Record<string, string> | undefined {
    return this.namespaceLabelsByName.get(ns);
  }

  hasNamespace(ns: string): boolean {
    return (
      this.namespaces.has(ns) ||
      ns === this.platform.rootNamespace ||
      ns === "default" ||
      ns === "kube-system" ||
      ns === "kube-public"
    );
  }

  isOpaque(ns: string): boolean {
    return this.platform.opaqueNamespaces.has(ns);
  }

  hasServiceAccount(ns: string, name: string): boolean {
    return name === "default" || this.isOpaque(ns) || this.serviceAccounts.has(`${ns}/${name}`);
  }

  /** Expands a short host name the way Istio does: no dot means a Service in `ns`. */
  fqdn(host: string, ns: string): string {
    if (host === "*" || host.includes(".")) return host;
    return `${host}.${ns}.svc.${this.platform.clusterDomain}`;
  }

  /**
   * The Service of a fully qualified host. Istio expands only names without a dot (see `fqdn`):
   * `reviews.ns` and `reviews.ns.svc`, which Kubernetes DNS would resolve, are not Istio hosts.
   */
  service(fqdn: string): Resource | undefined {
    return this.services.get(fqdn);
  }

  serviceEntriesFor(host: string): Resource[] {
    const exact = this.seExact.get(host) ?? [];
    const wild = this.seWildcard.filter((w) => host.endsWith(w.suffix)).map((w) => w.resource);
    return [...exact, ...wild];
  }

  /** The namespace of an in-cluster FQDN (`name.ns.svc.<domain>`), if it is one. */
  serviceNamespace(fqdn: string): string | undefined {
    const suffix = `.svc.${this.platform.clusterDomain}`;
    if (!fqdn.endsWith(suffix)) return undefined;
    const m = /^[^.]+\.([^.]+)$/.exec(fqdn.slice(0, -suffix.length));
    return m?.[1];
  }

  /**
   * Whether a (fully qualified) host is in the service registry: a Service, a ServiceEntry host
   * (wildcards included), or a Service in a namespace whose content is not rendered here. With
   * `from`, only what is exported to that namespace (`exportTo`) counts.
   */
  hostExists(fqdn: string, from?: string): boolean {
    if (fqdn.startsWith("*")) {
      const suffix = fqdn.slice(1);
      if (fqdn === "*") return true;
      for (const h of this.services.keys()) if (h.endsWith(suffix)) return true;
      for (const h of this.seExact.keys()) if (h.endsWith(suffix)) return true;
      return this.seWildcard.some((w) => w.suffix.endsWith(suffix) || suffix.endsWith(w.suffix));
    }
    const svc = this.service(fqdn);
    if (svc && (from === undefined || visibleIn(svc, from))) return true;
    if (this.serviceEntriesFor(fqdn).some((se) => from === undefined || visibleIn(se, from))) return true;
    const ns = this.serviceNamespace(fqdn);
    return ns !== undefined && this.isOpaque(ns);
  }

  /** Workloads in `ns` (or anywhere, for undefined) whose labels the selector matches. */
  workloadsSelected(selector: Record<string, string>, ns: string | undefined): Workload[] {
    const pool = ns === undefined ? this.workloads : (this.workloadsByNs.get(ns) ?? []);
    return pool.filter((w) => selects(selector, w.labels));
  }

  /** Workloads behind a Service (its selector in its namespace). */
  workloadsOfService(svc: Resource): Workload[] {
    const sel = asStringMap(asObj(svc.object.spec).selector);
    if (Object.keys(sel).length === 0) return [];
    return this.workloadsSelected(sel, svc.ns);
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
