import { defineRule, type Report } from "../rule.ts";
import { asObj, asStringMap, describe } from "../resource.ts";

export default defineRule({
  code: "svc/selector-no-workload",
  layer: "semantic",
  severity: "warning",
  anchors: [],
  title: "Service selectors match at least one workload",
  description:
    "A Service whose selector matches no pod template in its namespace has no endpoints: every request to it fails. Services without selector (manual Endpoints, ExternalName) are not checked. In path mode checked only when the files contain workloads.",
  hint: "align the selector with the pod template labels of the Deployment/StatefulSet",
  check({ index }) {
    if (!index.knowsWorkloads()) return [];
    const out: Report[] = [];
    for (const svc of index.of("Service")) {
      const sel = asStringMap(asObj(svc.object.spec).selector);
      if (Object.keys(sel).length === 0 || index.isOpaque(svc.ns)) continue;
      if (index.workloadsOfService(svc).length) continue;
      out.push({
        resource: svc,
        path: ["spec", "selector"],
        message: `${describe(svc)} selects ${Object.entries(sel)
          .map(([k, v]) => `${k}=${v}`)
          .join(", ")}, which matches no workload in namespace ${svc.ns}`,
      });
    }
    return out;
  },
});
