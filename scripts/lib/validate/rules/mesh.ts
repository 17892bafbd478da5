/** Shared by the rules about pods: whether a workload gets a sidecar (istioctl's `inMesh`). */
import { asArray, asObj, asStringMap, type Resource } from "../resource.ts";
import { podTemplate, type ResourceIndex } from "../resource-index.ts";

const INJECT = "sidecar.istio.io/inject";

/** Injection as the namespace says: `istio-injection=enabled` or a revision label; undefined if unknown. */
export function namespaceInjection(index: ResourceIndex, ns: string): boolean | undefined {
  const nsObj = index.allOf("Namespace").find((n) => n.name === ns);
  if (!nsObj) return undefined;
  const labels = asStringMap(asObj(nsObj.object.metadata).labels);
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
