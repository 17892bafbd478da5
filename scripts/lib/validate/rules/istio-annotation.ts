import { defineRule, type Report } from "../rule.ts";
import { asObj, asStringMap, describe, type Resource } from "../resource.ts";
import { ISTIO_ANNOTATIONS } from "../istio-annotations.ts";
import { podTemplates } from "../resource-index.ts";
import { INJECT_VALIDATION } from "../inject-validation.ts";

/** Annotations istioctl never reports (its maturity analyzer's AlwaysIgnoredAnnotations). */
const IGNORED = new Set(["sidecar.istio.io/status", "gateway.istio.io/controller-version", "istio.io/rev"]);

/** The annotation domains istioctl treats as Istio's: any `*istio.io/` prefix. */
function isIstio(name: string): boolean {
  const i = name.indexOf("/");
  return i > 0 && name.slice(0, i).endsWith("istio.io");
}

export default defineRule({
  code: "istio/annotation",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0107", "IST0108", "IST0135", "IST0125"],
  title: "Istio annotations exist, sit on the kind they belong to, and have values the injector accepts",
  description:
    "An annotation in an `istio.io` domain that Istio does not define is ignored (IST0108: usually a typo, `sidecar.istio.io/proxyCpu` for `proxyCPU`); one on the wrong kind of object (IST0107: a Pod annotation on a Deployment's own metadata or on a Service) does nothing there; a deprecated one (IST0135, info) still works but is going away. One whose value the sidecar injector refuses (IST0125: `traffic.sidecar.istio.io/excludeOutboundIPRanges: 10.0.0.0/8, 172.16.0.0/12` with a space, a port list with a name, `proxyCPU: 200 m`, a `proxy.istio.io/config` field of the wrong type) makes the injection webhook refuse the pod, so the ReplicaSet never gets one. Values are checked as istiod's `AnnotationValidation` parses them (`inject-validation.ts`). Checked on Namespaces, Services, Deployments (their own metadata, as istioctl does) and on every pod template (as the Pod it becomes), against Istio's annotation table (`istio-annotations.ts`).",
  hint: "fix the annotation's name or value (Istio's annotation reference lists them), or move it to the pod template",
  check({ index }) {
    const out: Report[] = [];
    const checkOne = (r: Resource, meta: unknown, kind: string, base: Array<string | number>) => {
      const annotations = asStringMap(asObj(meta).annotations);
      const labels = asStringMap(asObj(meta).labels);
      for (const name of Object.keys(annotations)) {
        if (!isIstio(name) || IGNORED.has(name)) continue;
        const fact = ISTIO_ANNOTATIONS[name];
        const path = [...base, name];
        if (!fact) {
          out.push({
            resource: r,
            path,
            anchors: ["IST0108"],
            message: `${describe(r)} has annotation '${name}', which Istio does not define`,
          });
          continue;
        }
        // With the `sidecar.istio.io/inject` label beside it the deprecated annotation is not reported (as istioctl).
        if (fact.deprecated && !(name === "sidecar.istio.io/inject" && labels[name] !== undefined))
          out.push({
            resource: r,
            path,
            severity: "info",
            anchors: ["IST0135"],
            message: `${describe(r)} uses the deprecated annotation '${name}'${name === "sidecar.istio.io/inject" ? " (use the sidecar.istio.io/inject label)" : ""}`,
          });
        if (fact.resources.includes("Any") || fact.resources.includes(kind)) {
          // As istioctl: the value is checked only where the annotation belongs.
          const problem = INJECT_VALIDATION[name]?.(annotations[name] ?? "");
          if (problem)
            out.push({
              resource: r,
              path,
              anchors: ["IST0125"],
              message: `${describe(r)} has annotation '${name}'${kind !== r.kind ? " on its pod template" : ""} with a value the sidecar injector refuses: ${problem}`,
            });
          continue;
        }
        out.push({
          resource: r,
          path,
          anchors: ["IST0107"],
          message: `${describe(r)} has annotation '${name}'${kind !== r.kind ? " on its pod template" : ""}, which belongs on ${fact.resources.join(", ")}, not on a ${kind}`,
        });
      }
    };
    for (const kind of ["Namespace", "Service", "Deployment", "Pod"])
      for (const r of index.of(kind)) checkOne(r, r.object.metadata, kind, ["metadata", "annotations"]);
    for (const [r, t] of podTemplates(index)) {
      // A Pod's own metadata is checked above; templates are the pod metadata of the other kinds.
      if (r.kind === "Pod") continue;
      const metaPath = [...t.path.slice(0, -1), "metadata"];
      let meta: unknown = r.object;
      for (const k of metaPath) meta = asObj(meta)[k];
      checkOne(r, meta, "Pod", [...metaPath, "annotations"]);
    }
    return out;
  },
});
