import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { hasTargetRef } from "../istio.ts";
import { anyAmbient } from "./ambient-util.ts";
import {
  ambientL7Policies,
  capturedByZtunnel,
  checkTargetRefs,
  namespaceServed,
  selectedWorkloads,
  workloadEnrolled,
} from "./ambient-policy-util.ts";

/** Kiali's code per kind (`<kind>.ambient.l7nowaypoint`). */
const CODE: Record<string, string> = {
  AuthorizationPolicy: "KIA0109",
  RequestAuthentication: "KIA1110",
  WasmPlugin: "KIA1111",
  Telemetry: "KIA1112",
};

export default defineRule({
  code: "ambient/policy-without-waypoint",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA0109", "KIA1110", "KIA1111", "KIA1112"],
  title: "L7 policies in Ambient namespaces apply to something that uses a waypoint",
  description:
    "In Ambient mode only a waypoint applies L7 policy (HTTP or JWT conditions of an AuthorizationPolicy, a RequestAuthentication, a WasmPlugin, a Telemetry with tracing, access logging or metric overrides), and traffic goes through a waypoint only for what is enrolled with one by the `istio.io/use-waypoint` label: the namespace, a Service (its label wins over the namespace's, `none` opts out) or a pod. As Kiali does, for the policies in a namespace labelled `istio.io/dataplane-mode: ambient`: a policy with `targetRefs` is reported for each targeted Service or ServiceEntry that is not enrolled, and for a targeted waypoint Gateway nothing uses; a policy with a selector for the selected Ambient pods that are not enrolled (neither they, their namespace nor a Service selecting them); a namespace-wide policy, or one whose targets (in repo mode) or selected pods the render does not contain, when nothing in the namespace is enrolled (neither the namespace nor a Service, ServiceEntry or pod in it). Pods with a proxy of their own (a sidecar, a gateway, `istio.io/dataplane-mode: none`) and ingress Gateways apply policies themselves and are not reported. Waypoints and enrolments created outside git (`istioctl waypoint apply --enroll-namespace`) are not seen. Silent when nothing in the render is in Ambient.",
  hint: "enrol the namespace or the Service with a waypoint (`istio.io/use-waypoint: <waypoint>`, and a waypoint Gateway of class `istio-waypoint`)",
  check({ index }) {
    if (!anyAmbient(index)) return [];
    const out: Report[] = [];
    for (const { r, why } of ambientL7Policies(index)) {
      const anchors = [CODE[r.kind] ?? "KIA0109"];
      const sel = selectedWorkloads(index, r);
      if (hasTargetRef(r)) {
        const t = checkTargetRefs(index, r);
        for (const m of t.missing)
          out.push({
            resource: r,
            path: m.path,
            message: `${describe(r)} uses ${why} and targets ${m.what}: no waypoint applies it`,
            anchors,
          });
        // Targets the render does not contain: Kiali falls back on the namespace, which only a
        // complete render can tell (in path mode the Service may be in another file).
        if (t.resolved || !index.complete) continue;
      } else if (sel?.workloads.length) {
        const captured = sel.workloads.filter((w) => capturedByZtunnel(index, w));
        const missing = captured.filter((w) => !workloadEnrolled(index, w));
        if (missing.length)
          out.push({
            resource: r,
            path: sel.path,
            message: `${describe(r)} uses ${why} and selects ${missing.map((w) => w.origin).join(", ")}, in Ambient and not enrolled with a waypoint (no \`istio.io/use-waypoint\` on the pods, their namespace or a Service selecting them): no waypoint applies it`,
            anchors,
          });
        continue;
      }
      if (namespaceServed(index, r.ns)) continue;
      out.push({
        resource: r,
        path: sel?.path ?? ["spec"],
        message: `${describe(r)} uses ${why} in Ambient namespace ${r.ns}, where nothing is enrolled with a waypoint (no \`istio.io/use-waypoint\` label on the namespace or on a Service or pod in it): no waypoint applies it`,
        anchors,
      });
    }
    return out;
  },
});
