import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { podTemplates } from "../resource-index.ts";

const PROXY_UID = 1337;

export default defineRule({
  code: "k8s/application-uid",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0144"],
  title: "Application containers do not run as the proxy's user ID 1337",
  description:
    "Istio's iptables rules let traffic from UID 1337 (the sidecar's) bypass the proxy. An application container running as 1337 escapes the mesh: no mTLS, no policies, no telemetry for its outbound traffic.",
  hint: "run the application as another user ID",
  check({ index }) {
    const out: Report[] = [];
    for (const [r, t] of podTemplates(index)) {
      if (asObj(t.spec.securityContext).runAsUser === PROXY_UID) {
        out.push({
          resource: r,
          path: [...t.path, "securityContext", "runAsUser"],
          message: `${describe(r)} runs its pods as UID ${PROXY_UID}, the sidecar's`,
        });
      }
      for (const field of ["containers", "initContainers"]) {
        asArray(t.spec[field]).forEach((c, i) => {
          const co = asObj(c);
          if (co.name === "istio-proxy" || asObj(co.securityContext).runAsUser !== PROXY_UID) return;
          out.push({
            resource: r,
            path: [...t.path, field, i, "securityContext", "runAsUser"],
            message: `${describe(r)} container '${String(co.name)}' runs as UID ${PROXY_UID}, the sidecar's`,
          });
        });
      }
    }
    return out;
  },
});
