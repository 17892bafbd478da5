import { defineRule, type Report } from "../rule.ts";
import { asObj, asStringMap, describe, type Resource } from "../resource.ts";

const INJECTOR_CONFIGMAP = /^istio-sidecar-injector(-(.+))?$/;

/** Whether an injector ConfigMap's `values` turns injection on for unlabelled namespaces. */
function enablesByDefault(cm: Resource): boolean {
  const raw = asStringMap(asObj(cm.object).data).values;
  if (!raw) return false;
  try {
    const values = asObj(JSON.parse(raw));
    return asObj(values.sidecarInjectorWebhook).enableNamespacesByDefault === true;
  } catch {
    return false;
  }
}

export default defineRule({
  code: "istio/injection-by-default",
  layer: "semantic",
  severity: "info",
  anchors: ["IST0148"],
  title: "Unlabelled namespaces are injected when istiod enables namespaces by default",
  description:
    "With `sidecarInjectorWebhook.enableNamespacesByDefault: true` (in the injector ConfigMap `istio-sidecar-injector`, or `-<revision>`, that the istiod chart renders) every namespace without an injection label gets sidecars, not only the labelled ones. A namespace meant to stay outside the mesh then needs `istio-injection: disabled`. Reported, as istioctl does, for each namespace with neither `istio-injection` nor `istio.io/rev` (Ambient namespaces aside).",
  hint: "label the namespace `istio-injection: enabled` to say it is meant, or `istio-injection: disabled` to keep it out",
  check({ index }) {
    const out: Report[] = [];
    const cm = index
      .allOf("ConfigMap")
      .find(
        (c) =>
          c.ns === index.platform.rootNamespace && INJECTOR_CONFIGMAP.test(c.name) && enablesByDefault(c),
      );
    if (!cm) return out;
    for (const ns of index.of("Namespace")) {
      if (ns.name === index.platform.rootNamespace) continue;
      const labels = asStringMap(asObj(ns.object.metadata).labels);
      if (labels["istio-injection"] !== undefined || labels["istio.io/rev"] !== undefined) continue;
      if (labels["istio.io/dataplane-mode"] === "ambient") continue;
      out.push({
        resource: ns,
        path: ["metadata", "name"],
        message: `${describe(ns)} has no injection label, and ${describe(cm)} enables namespaces by default: its pods get sidecars`,
      });
    }
    return out;
  },
});
