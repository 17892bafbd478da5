import { defineRule, type Report } from "../rule.ts";
import { asObj, describe } from "../resource.ts";
import { podTemplates } from "../resource-index.ts";

export default defineRule({
  code: "k8s/service-account-not-found",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Workloads run as service accounts that exist",
  description:
    "A pod template's `serviceAccountName` must be a ServiceAccount in the same namespace, or the pods are never created (the ReplicaSet reports `serviceaccount not found`). The service account is also the workload's mTLS identity, so AuthorizationPolicies depend on it. In path mode checked only when the files contain ServiceAccounts.",
  hint: "add the ServiceAccount (in the chart), or fix serviceAccountName",
  check({ index }) {
    if (!index.knows("ServiceAccount")) return [];
    const out: Report[] = [];
    for (const [r, t] of podTemplates(index)) {
      const field =
        typeof t.spec.serviceAccountName === "string"
          ? "serviceAccountName"
          : typeof t.spec.serviceAccount === "string"
            ? "serviceAccount"
            : undefined;
      if (!field) continue;
      const sa = String(asObj(t.spec)[field]);
      if (index.hasServiceAccount(r.ns, sa)) continue;
      out.push({
        resource: r,
        path: [...t.path, field],
        message: `${describe(r)} runs as service account '${sa}', which does not exist in namespace ${r.ns}`,
      });
    }
    return out;
  },
});
