import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { actionOf, policyWorkloads, rulesOf } from "./authz-util.ts";

export default defineRule({
  code: "authz/port-not-on-workload",
  layer: "semantic",
  severity: "warning",
  anchors: [],
  title: "AuthorizationPolicy ports are ports the selected workloads listen on",
  description:
    "`to.operation.ports` are the workload's (container) ports, not the Service's: a Service port 80 sending to 8080 is matched as 8080. A port none of the selected workloads declares never matches, so an ALLOW rule on it allows nothing (the requests it was meant for are denied) and a DENY rule on it denies nothing. Workloads whose ports the manifest does not show (injected gateways, operator-made pods) are not checked.",
  hint: "use the container port (the Service's targetPort), not the Service port",
  check({ index }) {
    const out: Report[] = [];
    for (const ap of index.of("AuthorizationPolicy")) {
      const named = rulesOf(ap).some((r) =>
        asArray(r.to).some((t) => asArray(asObj(asObj(t).operation).ports).length),
      );
      if (!named) continue;
      const ws = policyWorkloads(index, ap);
      if (!ws?.length || ws.some((w) => !w.resource || w.portsUnknown || w.ports.length === 0)) continue;
      const declared = new Set(ws.flatMap((w) => w.ports.map((p) => p.port)));
      rulesOf(ap).forEach((rule, i) => {
        asArray(rule.to).forEach((t, j) => {
          asArray(asObj(asObj(t).operation).ports).forEach((p, k) => {
            if (typeof p !== "string" || !/^\d+$/.test(p) || declared.has(Number(p))) return;
            out.push({
              resource: ap,
              path: ["spec", "rules", i, "to", j, "operation", "ports", k],
              message: `${describe(ap)} ${actionOf(ap)} rule on port ${p}, which none of its workloads declares (${[...declared].sort((a, b) => a - b).join(", ")}): it never matches`,
            });
          });
        });
      });
    }
    return out;
  },
});
