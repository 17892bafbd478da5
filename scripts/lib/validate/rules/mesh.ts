/** Shared by the rules about pods: whether a workload gets a sidecar (istioctl's `inMesh`). */
import { asArray, asObj, asStringMap, type Resource } from "../resource.ts";
import { podTemplate, selects, type ResourceIndex } from "../resource-index.ts";

const INJECT = "sidecar.istio.io/inject";

/** Injection as the namespace says: `istio-injection=enabled` or a revision label; undefined if unknown. */
const injectionCache = new WeakMap<ResourceIndex, Map<string, boolean | undefined>>();

export function namespaceInjection(index: ResourceIndex, ns: string): boolean | undefined {
  let cache = injectionCache.get(index);
  if (!cache) injectionCache.set(index, (cache = new Map()));
  if (cache.has(ns)) return cache.get(ns);
  const v = computeInjection(index, ns);
  cache.set(ns, v);
  return v;
}

function computeInjection(index: ResourceIndex, ns: string): boolean | undefined {
  const labels = index.namespaceLabels(ns);
  if (!labels) return undefined;
  if (labels["istio-injection"] !== undefined) return labels["istio-injection"] === "enabled";
  return labels["istio.io/rev"] !== undefined && labels["istio.io/rev"] !== "";
}

/**
 * Whether the pods of a workload run a sidecar: an `istio-proxy` container, else the pod's
 * `sidecar.istio.io/inject` label or annotation, else the namespace's injection label (as
 * istioctl decides it). False when nothing says so.
 */
export function inMesh(index: ResourceIndex, r: Resource): boolean {
  const t = podTemplate(r);
  if (!t) return false;
  if (asArray(t.spec.containers).some((c) => asObj(c).name === "istio-proxy")) return true;
  // The pod metadata sits next to the pod spec (spec.template.metadata, or the Pod's own).
  let holder: unknown = r.object;
  for (const k of t.path.slice(0, -1)) holder = asObj(holder)[k];
  const meta = asObj(asObj(holder).metadata);
  const label = asStringMap(meta.labels)[INJECT] ?? asStringMap(meta.annotations)[INJECT];
  if (label !== undefined) return label === "true";
  return namespaceInjection(index, r.ns) ?? false;
}

export interface MeshedDeployment {
  r: Resource;
  /** The pod template's labels. */
  labels: Record<string, string>;
  /** The Services in its namespace that select its pods. */
  services: Resource[];
}

const meshedCache = new WeakMap<ResourceIndex, MeshedDeployment[]>();

/** The local Deployments whose pods get a sidecar, with their Services: once per index, for several rules. */
export function meshedDeployments(index: ResourceIndex): MeshedDeployment[] {
  let out = meshedCache.get(index);
  if (out) return out;
  out = [];
  const services = index.allOf("Service");
  for (const r of index.of("Deployment")) {
    if (!inMesh(index, r)) continue;
    const labels = podTemplate(r)?.labels ?? {};
    out.push({ r, labels, services: servicesOf(services, r.ns, labels) });
  }
  meshedCache.set(index, out);
  return out;
}

type Entry = [Resource, Record<string, string>];

/**
 * Services with a selector, by namespace and by the first `key=value` of their selector, with the
 * selector parsed: built once per index (rules run once per scope), so that finding the Services
 * of a workload looks only at those that share a label with it.
 */
const byNamespace = new WeakMap<readonly Resource[], Map<string, Map<string, Entry[]>>>();

/** The Services in the workload's namespace whose selector matches its pod labels. */
export function servicesOf(
  services: readonly Resource[],
  ns: string,
  labels: Record<string, string>,
): Resource[] {
  let map = byNamespace.get(services);
  if (!map) {
    map = new Map();
    for (const s of services) {
      const sel = asStringMap(asObj(s.object.spec).selector);
      const first = Object.entries(sel)[0];
      if (!first) continue;
      const key = `${first[0]}=${first[1]}`;
      const inNs = map.get(s.ns) ?? new Map<string, Entry[]>();
      map.set(s.ns, inNs);
      const list = inNs.get(key);
      if (list) list.push([s, sel]);
      else inNs.set(key, [[s, sel]]);
    }
    byNamespace.set(services, map);
  }
  const inNs = map.get(ns);
  if (!inNs) return [];
  const out: Resource[] = [];
  for (const [k, v] of Object.entries(labels))
    for (const [s, sel] of inNs.get(`${k}=${v}`) ?? []) if (selects(sel, labels)) out.push(s);
  return out;
}
