/**
 * The pod view the Ambient workload rules share (KIA1311-KIA1317, IST0167): for every workload with a
 * pod template, whether it runs a sidecar and why, whether ztunnel captures it, and which waypoint
 * (if any) serves it. Built on ambient-util.ts (the labels' meaning) and mesh.ts (injection). Kept
 * apart from ambient-util.ts so that the policy rules' helpers and these do not edit one file.
 *
 * Istio's own behaviour the model follows:
 * - the CNI does not capture a pod that runs a sidecar (`sidecar.istio.io/status`, which injection
 *   sets) nor a hostNetwork pod, whatever its labels say: the sidecar wins;
 * - injection by revision: the namespace's `istio.io/rev`, or the pod's own `istio.io/rev` when the
 *   namespace has no `istio-injection` label (the revision webhook's selectors);
 * - a waypoint is chosen by the pod's own `istio.io/use-waypoint`, else by each Service that selects
 *   it (its own label, else the namespace's), else by the namespace's; `none` opts out at any level.
 */
import { asArray, asObj, asStringMap, type Resource } from "../resource.ts";
import type { PodTemplate, ResourceIndex, Workload } from "../resource-index.ts";
import { podTemplate } from "../resource-index.ts";
import {
  DATAPLANE_MODE,
  findWaypoint,
  isAmbientNamespace,
  isAmbientWorkload,
  namespaceLabels,
  USE_WAYPOINT,
  waypointReference,
  waypoints,
} from "./ambient-util.ts";
import { inMesh, servicesOf } from "./mesh.ts";

const INJECT = "sidecar.istio.io/inject";
const REV = "istio.io/rev";
/** Set on a pod by the CNI once ztunnel redirects its traffic (a Pod manifest taken from a cluster). */
const REDIRECTION = "ambient.istio.io/redirection";

export interface PodWorkload {
  w: Workload;
  r: Resource;
  t: PodTemplate;
  /** The pod template's (or the Pod's) labels and annotations. */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Path of the pod metadata inside the resource (`spec.template.metadata`, a Pod's `metadata`). */
  metaPath: Array<string | number>;
}

const cache = new WeakMap<ResourceIndex, PodWorkload[]>();

/** The local workloads with a pod template (not WorkloadEntries, not modelled gateways), once per index. */
export function podWorkloads(index: ResourceIndex): PodWorkload[] {
  let out = cache.get(index);
  if (out) return out;
  out = [];
  for (const w of index.workloads) {
    const r = w.resource;
    if (!r || r.peer) continue;
    const t = podTemplate(r);
    if (!t) continue;
    const metaPath = [...t.path.slice(0, -1), "metadata"];
    let meta: unknown = r.object;
    for (const k of metaPath) meta = asObj(meta)[k];
    out.push({
      w,
      r,
      t,
      labels: t.labels,
      annotations: asStringMap(asObj(meta).annotations),
      metaPath,
    });
  }
  cache.set(index, out);
  return out;
}

/**
 * Gateway pods (the gateway chart's `image: auto` proxy, the `gateway` injection template, pods
 * istiod deploys for a Gateway API Gateway): a proxy, but not a sidecar, and not an Ambient workload.
 */
export function isGatewayPod(p: PodWorkload): boolean {
  if ((p.annotations["inject.istio.io/templates"] ?? "").split(",").includes("gateway")) return true;
  if (p.labels["gateway.istio.io/managed"] !== undefined || p.labels["istio.io/gateway-name"] !== undefined)
    return true;
  return asArray(p.t.spec.containers).some(
    (c) => asObj(c).name === "istio-proxy" && asObj(c).image === "auto",
  );
}

/** Whether the workload's pods are there at all: Kiali checks only workloads with pods. */
export const runsPods = (p: PodWorkload): boolean => asObj(p.r.object.spec).replicas !== 0;

/**
 * Why the pods run a sidecar: an `istio-proxy` container in the manifest (manual injection), the
 * pod's own labels, or its namespace's; undefined when they run none.
 */
export function sidecarSource(
  index: ResourceIndex,
  p: PodWorkload,
): "container" | "pod" | "namespace" | undefined {
  if (asArray(p.t.spec.containers).some((c) => asObj(c).name === "istio-proxy")) return "container";
  if (p.annotations["sidecar.istio.io/status"] !== undefined) return "container";
  const own = p.labels[INJECT] ?? p.annotations[INJECT];
  if (own !== undefined) return own === "true" ? "pod" : undefined;
  if (inMesh(index, p.r)) return "namespace";
  // The revision webhook matches a pod's `istio.io/rev` in a namespace without `istio-injection`.
  const ns = namespaceLabels(index, p.r.ns);
  if ((p.labels[REV] ?? "") !== "" && ns?.["istio-injection"] === undefined) return "pod";
  return undefined;
}

/** The Ambient labels select the workload: its own `dataplane-mode: ambient`, or its namespace's without `none`. */
export const hasAmbientLabel = (index: ResourceIndex, p: PodWorkload): boolean =>
  isAmbientWorkload(index, p.w);

/** Whether ztunnel captures the pods: the Ambient labels select them and nothing opts them out. */
export function capturedByAmbient(index: ResourceIndex, p: PodWorkload): boolean {
  if (isGatewayPod(p) || p.t.spec.hostNetwork === true) return false;
  if (sidecarSource(index, p) !== undefined) return false;
  if (p.annotations[REDIRECTION] === "enabled") return true;
  return hasAmbientLabel(index, p);
}

/** Whether the namespace is in Ambient and the workload does not opt out (`dataplane-mode: none`). */
export const inAmbientNamespace = (index: ResourceIndex, p: PodWorkload): boolean =>
  isAmbientNamespace(index, p.r.ns) && p.labels[DATAPLANE_MODE] !== "none";

/** Whether a waypoint reference can be called missing: the render is complete, or declares waypoints. */
export const knowsWaypoints = (index: ResourceIndex): boolean =>
  index.complete || waypoints(index).length > 0;

/** Whether the waypoint `ns/name` exists; undefined when this render cannot tell. */
export function waypointExists(index: ResourceIndex, ref: { name: string; ns: string }): boolean | undefined {
  if (findWaypoint(index, ref)) return true;
  if (!knowsWaypoints(index) || index.isOpaque(ref.ns)) return undefined;
  return false;
}

export interface WaypointUse {
  ref: { name: string; ns: string };
  /** Where the reference is: "its pod template", "Service demo/api", "Namespace demo". */
  via: string;
  exists: boolean | undefined;
}

/**
 * The waypoints that serve the workload's traffic, as Istio picks them: the pod's own label, else
 * each of its Services' (their own label, else the namespace's), else the namespace's. Empty when
 * it opts out or nothing enrols it.
 */
export function waypointsOf(index: ResourceIndex, p: PodWorkload): WaypointUse[] {
  const ns = p.r.ns;
  const nsLabels = namespaceLabels(index, ns);
  const use = (ref: { name: string; ns: string } | undefined, via: string): WaypointUse[] =>
    ref ? [{ ref, via, exists: waypointExists(index, ref) }] : [];
  if (p.labels[USE_WAYPOINT] !== undefined)
    return use(waypointReference(p.labels, ns, undefined), "its pod template");
  const services = servicesOf(index.allOf("Service"), ns, p.labels);
  if (services.length) {
    return services.flatMap((s) => {
      const own = asStringMap(asObj(s.object.metadata).labels);
      if (own[USE_WAYPOINT] !== undefined)
        return use(waypointReference(own, ns, undefined), `Service ${ns}/${s.name}`);
      return use(waypointReference(undefined, ns, nsLabels), `Namespace ${ns}`);
    });
  }
  return use(waypointReference(undefined, ns, nsLabels), `Namespace ${ns}`);
}
