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
 * - istiod's waypoint choice (pilot/pkg/serviceregistry/ambient/waypoints.go): traffic to a Service
 *   goes to the Service's `istio.io/use-waypoint`, else its namespace's; traffic addressed to a pod,
 *   to the pod's own label, else its namespace's; `none` opts out at its level. The waypoint must
 *   take that kind of traffic (`istio.io/waypoint-for`, `service` by default) and, from another
 *   namespace, admit it (its HBONE listener's `allowedRoutes`, `Same` by default).
 */
import { asArray, asObj, asStringMap, type Resource } from "../resource.ts";
import type { PodTemplate, ResourceIndex, Workload } from "../resource-index.ts";
import { podTemplate } from "../resource-index.ts";
import {
  DATAPLANE_MODE,
  findWaypoint,
  isAmbientNamespace,
  isAmbientWorkload,
  USE_WAYPOINT,
  waypointReference,
  WAYPOINT_CLASS,
  waypoints,
} from "./ambient-util.ts";
import { labelSelectorMatches } from "./k8s-image-auto-without-injection.ts";
import { inMesh, servicesOf } from "./mesh.ts";

const INJECT = "sidecar.istio.io/inject";
const REV = "istio.io/rev";
/** Set on a pod by the CNI once ztunnel redirects its traffic (a Pod manifest taken from a cluster). */
const REDIRECTION = "ambient.istio.io/redirection";
const WAYPOINT_FOR = "istio.io/waypoint-for";

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

const byWorkload = new WeakMap<ResourceIndex, Map<Workload, PodWorkload>>();

/** The PodWorkload of an index's workload; undefined for those podWorkloads leaves out. */
export function podWorkloadOf(index: ResourceIndex, w: Workload): PodWorkload | undefined {
  let m = byWorkload.get(index);
  if (!m) byWorkload.set(index, (m = new Map(podWorkloads(index).map((p) => [p.w, p]))));
  return m.get(w);
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
  const ns = index.namespaceLabels(p.r.ns);
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

/** The traffic a waypoint takes: its `istio.io/waypoint-for`, else its GatewayClass's, else `service`. */
export function waypointTrafficType(index: ResourceIndex, gw: Resource): string {
  const own = asStringMap(asObj(gw.object.metadata).labels)[WAYPOINT_FOR];
  if (own !== undefined) return own;
  const cls = index.allOf("GatewayClass").find((c) => c.name === WAYPOINT_CLASS);
  return asStringMap(asObj(cls?.object.metadata).labels)[WAYPOINT_FOR] ?? "service";
}

/**
 * Whether a waypoint admits enrolments from a namespace, as istiod decides it: the `allowedRoutes`
 * of its HBONE listener (port 15008), `Same` when unset. Undefined when a selector decides over
 * a namespace the files do not declare.
 */
export function waypointAdmits(index: ResourceIndex, gw: Resource, fromNs: string): boolean | undefined {
  if (gw.ns === fromNs) return true;
  const hbone = asArray(asObj(gw.object.spec).listeners)
    .map(asObj)
    .find((l) => l.protocol === "HBONE" && l.port === 15008);
  const namespaces = asObj(asObj(hbone?.allowedRoutes).namespaces);
  const from = namespaces.from ?? "Same";
  if (from === "All") return true;
  if (from !== "Selector") return false;
  const labels = index.namespaceLabels(fromNs);
  if (labels === undefined) return undefined;
  return labelSelectorMatches(namespaces.selector ?? {}, {
    "kubernetes.io/metadata.name": fromNs,
    ...labels,
  });
}

export type WaypointStatus = { ok: true | undefined } | { ok: false; why: string };

/**
 * Whether the waypoint `ref` serves what enrols it from namespace `fromNs`, for `traffic`: the
 * Service's traffic, a pod's own (workload-addressed) traffic, or either (a namespace's label).
 * `ok: undefined` when the render cannot tell.
 */
export function resolveWaypoint(
  index: ResourceIndex,
  ref: { name: string; ns: string },
  fromNs: string,
  traffic: "service" | "workload" | "any",
): WaypointStatus {
  const gw = findWaypoint(index, ref);
  if (!gw) {
    if (!knowsWaypoints(index) || index.isOpaque(ref.ns)) return { ok: undefined };
    return {
      ok: false,
      why: "which the render does not declare (no Gateway of class istio-waypoint by that name)",
    };
  }
  const admits = waypointAdmits(index, gw, fromNs);
  if (admits === false)
    return {
      ok: false,
      why: `whose HBONE listener (port 15008) does not admit namespace ${fromNs} (allowedRoutes.namespaces.from is Same unless set to All or a Selector)`,
    };
  const type = waypointTrafficType(index, gw);
  const serves = type === "all" || (type !== "none" && (traffic === "any" || type === traffic));
  if (!serves)
    return {
      ok: false,
      why: `which is for ${type} traffic (istio.io/waypoint-for), not ${traffic === "any" ? "any" : traffic} traffic`,
    };
  return { ok: admits };
}

export interface WaypointUse {
  ref: { name: string; ns: string };
  /** Where the reference is: "its pod template", "Service demo/api", "Namespace demo". */
  via: string;
  status: WaypointStatus;
}

/**
 * The waypoints that serve the workload's traffic, as istiod picks them: for the traffic to each of
 * its Services, the Service's label, else the namespace's (a waypoint for service traffic); for
 * traffic addressed to the pods, the pod's own label, else the namespace's (a waypoint for workload
 * traffic). `none` opts out at its level. Empty when nothing enrols it.
 */
export function waypointsOf(index: ResourceIndex, p: PodWorkload): WaypointUse[] {
  const ns = p.r.ns;
  const nsLabels = index.namespaceLabels(ns);
  const out: WaypointUse[] = [];
  const use = (
    ref: { name: string; ns: string } | undefined,
    via: string,
    traffic: "service" | "workload",
  ) => {
    if (ref) out.push({ ref, via, status: resolveWaypoint(index, ref, ns, traffic) });
  };
  const pick = (own: Record<string, string>, via: string, traffic: "service" | "workload") => {
    if (own[USE_WAYPOINT] !== undefined) use(waypointReference(own, ns, undefined), via, traffic);
    else use(waypointReference(undefined, ns, nsLabels), `Namespace ${ns}`, traffic);
  };
  for (const s of servicesOf(index.allOf("Service"), ns, p.labels))
    pick(asStringMap(asObj(s.object.metadata).labels), `Service ${ns}/${s.name}`, "service");
  pick(p.labels, "its pod template", "workload");
  return out;
}
