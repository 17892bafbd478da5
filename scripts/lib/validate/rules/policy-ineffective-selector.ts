import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { GATEWAY_NAME_LABEL } from "../gwapi-pods.ts";
import { hasTargetRef, policySelector } from "../istio.ts";

/** The kinds istioctl's k8sgateway.SelectorAnalyzer checks. */
const KINDS = ["AuthorizationPolicy", "RequestAuthentication", "Telemetry", "WasmPlugin"];

export default defineRule({
  code: "policy/ineffective-selector",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0166"],
  title: "Policies attach to Gateway API gateways by targetRefs, not by selecting their pods",
  description:
    "An AuthorizationPolicy, RequestAuthentication, Telemetry or WasmPlugin whose `selector` matches the pods of a Gateway API Gateway in its namespace (pods labelled `gateway.networking.k8s.io/gateway-name`: the ones istiod deploys for a Gateway of an Istio class, modelled from the Gateway, or such pods in the render) should name the Gateway in `targetRefs` instead: Istio attaches policies to Gateway API gateways by reference (waypoints ignore selectors altogether), and the labels of the pods it generates are not an API. As istioctl, only pods of the policy's own namespace count, the root namespace included; policies with `targetRef(s)` are not concerned.",
  hint: "replace the selector by `targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: <gateway>}]`",
  check({ index }) {
    const out: Report[] = [];
    if (!index.workloads.some((w) => w.labels[GATEWAY_NAME_LABEL] !== undefined)) return out;
    for (const kind of KINDS) {
      for (const r of index.of(kind)) {
        if (hasTargetRef(r)) continue;
        const sel = policySelector(r);
        if (!sel) continue;
        const gateways = new Set<string>();
        for (const w of index.workloadsSelected(sel.labels, r.ns)) {
          // Pods of the mesh's other clusters follow their own cluster's policies.
          const name = w.labels[GATEWAY_NAME_LABEL];
          if (name !== undefined && !w.resource?.peer) gateways.add(name);
        }
        for (const gw of [...gateways].sort())
          out.push({
            resource: r,
            path: sel.path,
            message: `${describe(r)} selects the pods of Gateway API Gateway ${r.ns}/${gw} by label; that selector is ineffective, attach the policy with targetRefs`,
          });
      }
    }
    return out;
  },
});
