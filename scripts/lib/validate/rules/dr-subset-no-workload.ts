import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asStringMap, describe } from "../resource.ts";
import { selects } from "../resource-index.ts";

export default defineRule({
  code: "dr/subset-no-workload",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0173", "KIA0203"],
  title: "DestinationRule subset labels select at least one workload",
  description:
    "The labels of a subset are matched against the pods behind the host's Service (Deployment, StatefulSet, DaemonSet... pod templates). A subset that selects no pod has no endpoints: traffic routed to it fails with 503. Checked for hosts that are Kubernetes Services; in path mode only when the files contain workloads.",
  hint: "fix the subset labels (usually `version: vN`) or deploy the workload they describe",
  check({ index }) {
    if (!index.knowsWorkloads()) return [];
    const out: Report[] = [];
    for (const dr of index.of("DestinationRule")) {
      const spec = asObj(dr.object.spec);
      if (typeof spec.host !== "string") continue;
      const svc = index.service(index.fqdn(spec.host, dr.ns));
      if (!svc || index.isOpaque(svc.ns)) continue;
      const selector = asStringMap(asObj(svc.object.spec).selector);
      if (Object.keys(selector).length === 0) continue;
      const behind = index.workloadsOfService(svc);
      asArray(spec.subsets).forEach((s, i) => {
        const so = asObj(s);
        const labels = asStringMap(so.labels);
        if (Object.keys(labels).length === 0) return;
        if (behind.some((w) => selects(labels, w.labels))) return;
        out.push({
          resource: dr,
          path: ["spec", "subsets", i, "labels"],
          message: `${describe(dr)} subset '${String(so.name)}' (${Object.entries(labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(
              ", ",
            )}) selects no pod of Service ${svc.ns}/${svc.name}${behind.length ? ` (its pods: ${behind.map((w) => w.origin).join(", ")})` : " (which selects no workload)"}`,
        });
      });
    }
    return out;
  },
});
