import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { policySelector } from "../istio.ts";

const KINDS = [
  "AuthorizationPolicy",
  "PeerAuthentication",
  "RequestAuthentication",
  "Telemetry",
  "Sidecar",
  "EnvoyFilter",
  "WasmPlugin",
  "DestinationRule",
];

export default defineRule({
  code: "policy/selector-no-workload",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0127", "KIA0004"],
  title: "Policy selectors match at least one workload",
  description:
    "The workload selector of an AuthorizationPolicy, PeerAuthentication, RequestAuthentication, Telemetry, Sidecar, EnvoyFilter, WasmPlugin or DestinationRule matches pods in its own namespace (any namespace for policies in the root namespace, istio-system). A selector that matches nothing means the policy applies to nothing. In path mode the check runs only when the files contain workloads.",
  hint: "fix the labels so that they match the pod template labels of the intended workload",
  check({ index }) {
    if (!index.knowsWorkloads()) return [];
    const out: Report[] = [];
    for (const kind of KINDS) {
      for (const r of index.of(kind)) {
        const sel = policySelector(r);
        if (!sel) continue;
        const scope = r.ns === index.platform.rootNamespace ? undefined : r.ns;
        if (scope && index.isOpaque(scope)) continue;
        if (index.workloadsSelected(sel.labels, scope).length) continue;
        out.push({
          resource: r,
          path: sel.path,
          message: `${describe(r)} selects ${Object.entries(sel.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(", ")}, which matches no workload${scope ? ` in namespace ${scope}` : ""}`,
        });
      }
    }
    return out;
  },
});
