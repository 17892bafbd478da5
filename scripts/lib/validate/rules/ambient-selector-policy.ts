import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { hasTargetRef } from "../istio.ts";
import { anyAmbient } from "./ambient-util.ts";
import {
  ambientL7Policies,
  capturedByZtunnel,
  selectedWorkloads,
  whatZtunnelLacks,
} from "./ambient-policy-util.ts";

/** Kiali's code per kind (`<kind>.ambient.l7notargetrefs`). */
const CODE: Record<string, string> = {
  AuthorizationPolicy: "KIA0110",
  RequestAuthentication: "KIA1115",
  WasmPlugin: "KIA1116",
  Telemetry: "KIA1117",
};

export default defineRule({
  code: "ambient/selector-policy",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA0110", "KIA1115", "KIA1116", "KIA1117"],
  title: "L7 policies in Ambient namespaces attach with targetRefs",
  description:
    "In Ambient mode the L7 proxy is the waypoint, and a waypoint applies only the policies attached to it or to the Services that use it with `targetRefs`; it ignores those that attach by `selector` or to the whole namespace (Istio's pilot never applies selector policies to a waypoint). ztunnel, which carries the pods' traffic, does not do L7: an AuthorizationPolicy with HTTP or JWT conditions, a RequestAuthentication, a WasmPlugin or a Telemetry with tracing, access logging or metric overrides attached so does not take effect as written. Checked, as Kiali does, for the policies in a namespace labelled `istio.io/dataplane-mode: ambient`; a policy whose selector matches only pods with a proxy of their own (a sidecar, a gateway, `istio.io/dataplane-mode: none` pods) is not reported: their Envoy applies it. Kiali's L7 classification (HTTP methods, paths and hosts, request principals, `request.*` conditions) is extended with AuthorizationPolicies of `action: CUSTOM` or `AUDIT`, which Istio's documentation also sends to a waypoint; an AuthorizationPolicy with L7 rules that ztunnel enforces fails safe, as a DENY. Unlike Kiali, a namespace-wide Telemetry (no selector, no targetRefs) is not reported: waypoints do apply the namespace-wide Telemetry of their own and of their Services' namespaces. Silent when nothing in the render is in Ambient.",
  hint: "attach the policy with `targetRefs` to the Service (or the waypoint Gateway) and enrol the Service with a waypoint (`istio.io/use-waypoint`)",
  check({ index }) {
    if (!anyAmbient(index)) return [];
    const out: Report[] = [];
    for (const { r, why } of ambientL7Policies(index)) {
      if (hasTargetRef(r)) continue;
      const sel = selectedWorkloads(index, r);
      // Istio's waypoints apply namespace-wide Telemetry (not other namespace-wide policies).
      if (!sel && r.kind === "Telemetry") continue;
      // Pods with an Envoy of their own apply selector policies themselves.
      if (sel?.workloads.length && !sel.workloads.some((w) => capturedByZtunnel(index, w))) continue;
      const how = sel ? "a selector" : "namespace (no selector, no targetRefs)";
      out.push({
        resource: r,
        path: sel?.path ?? ["spec"],
        message: `${describe(r)} uses ${why} and attaches by ${how} in Ambient namespace ${r.ns}: waypoints ignore such policies and ${whatZtunnelLacks(r.kind)}, so it does not take effect as written`,
        anchors: [CODE[r.kind] ?? "KIA0110"],
      });
    }
    return out;
  },
});
