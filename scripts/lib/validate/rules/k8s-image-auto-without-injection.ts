import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe, isObj } from "../resource.ts";
import { podTemplate } from "../resource-index.ts";
import { namespaceInjection } from "./mesh.ts";

/** A Kubernetes label selector (matchLabels and matchExpressions); an absent one matches everything. */
export function labelSelectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  if (!isObj(selector)) return true;
  const ml = selector.matchLabels;
  if (isObj(ml)) for (const k in ml) if (labels[k] !== ml[k]) return false;
  for (const e of asArray(selector.matchExpressions).map(asObj)) {
    const key = asString(e.key) ?? "";
    const values = asArray(e.values).filter((x): x is string => typeof x === "string");
    const has = key in labels;
    switch (e.operator) {
      case "In":
        if (!has || !values.includes(labels[key]!)) return false;
        break;
      case "NotIn":
        if (has && values.includes(labels[key]!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

export default defineRule({
  code: "k8s/image-auto-without-injection",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0146", "IST0147"],
  title: "Pods with `image: auto` are injected",
  description:
    "An `istio-proxy` container with `image: auto` (the gateway chart's) is a placeholder that Istio's injection webhook fills in; without injection the pod pulls the image `auto` and never starts. A Deployment must be matched by one of Istio's injection webhooks (namespaceSelector over the namespace's labels, objectSelector over the pod's); when the files contain no webhook configuration, by the injector's labels (`sidecar.istio.io/inject: \"true\"` on the pod, or the namespace's `istio-injection: enabled` / `istio.io/rev`). A bare Pod with `image: auto` is an error: the webhook never sees a pod that is created already injected-looking.",
  hint: 'label the pod template `sidecar.istio.io/inject: "true"` or the namespace `istio-injection: enabled`',
  check({ index }) {
    const out: Report[] = [];
    const webhooks = index
      .allOf("MutatingWebhookConfiguration")
      .flatMap((m) => asArray(m.object.webhooks).map(asObj))
      .filter((w) => (asString(w.name) ?? "").endsWith("istio.io"));
    for (const kind of ["Deployment", "Pod"]) {
      for (const r of index.of(kind)) {
        const t = podTemplate(r);
        if (!t) continue;
        const i = asArray(t.spec.containers).findIndex(
          (c) => asObj(c).name === "istio-proxy" && asObj(c).image === "auto",
        );
        if (i < 0) continue;
        const path = [...t.path, "containers", i, "image"];
        if (kind === "Pod") {
          out.push({
            resource: r,
            path,
            severity: "error",
            anchors: ["IST0147"],
            message: `${describe(r)} has an istio-proxy container with image 'auto', which only injection replaces`,
          });
          continue;
        }
        let injected: boolean;
        if (webhooks.length) {
          const nsLabels = { "kubernetes.io/metadata.name": r.ns, ...index.namespaceLabels(r.ns) };
          injected = webhooks.some(
            (w) =>
              labelSelectorMatches(w.namespaceSelector, nsLabels) &&
              labelSelectorMatches(w.objectSelector, t.labels),
          );
        } else {
          // The istio-proxy container itself says nothing here: the pod's label, else the namespace's.
          const pod = t.labels["sidecar.istio.io/inject"];
          injected = pod !== undefined ? pod === "true" : (namespaceInjection(index, r.ns) ?? false);
        }
        if (injected) continue;
        out.push({
          resource: r,
          path,
          anchors: ["IST0146"],
          message: `${describe(r)} has an istio-proxy container with image 'auto', but ${webhooks.length ? "no Istio injection webhook matches its namespace and pod labels" : "neither its pod labels nor its namespace enable injection"}`,
        });
      }
    }
    return out;
  },
});
