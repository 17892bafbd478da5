import { defineRule, type Report } from "../rule.ts";
import { asObj, asStringMap, describe } from "../resource.ts";

export default defineRule({
  code: "k8s/multiple-injection-labels",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0123"],
  title: "A namespace has one kind of injection label",
  description:
    "`istio-injection` and `istio.io/rev` on one namespace contradict each other: `istio-injection` wins, so the revision the label names is not the one that injects (a canary upgrade then silently keeps the old proxies).",
  hint: "keep `istio-injection: enabled` or `istio.io/rev: <revision>`, not both",
  check({ index }) {
    const out: Report[] = [];
    for (const ns of index.of("Namespace")) {
      const labels = asStringMap(asObj(ns.object.metadata).labels);
      if (labels["istio-injection"] === undefined || labels["istio.io/rev"] === undefined) continue;
      out.push({
        resource: ns,
        path: ["metadata", "labels", "istio.io/rev"],
        message: `${describe(ns)} has both istio-injection=${labels["istio-injection"]} and istio.io/rev=${labels["istio.io/rev"]}`,
      });
    }
    return out;
  },
});
