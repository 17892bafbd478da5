import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { podTemplates } from "../resource-index.ts";

const PROBES = ["livenessProbe", "readinessProbe", "startupProbe"];

export default defineRule({
  code: "k8s/probe-port-not-found",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Probes name ports their container declares",
  description:
    "A probe's `httpGet.port`, `tcpSocket.port` or `grpc.port` given by name must be the name of one of the container's ports; the kubelet fails the probe otherwise (a liveness probe then restarts the container forever, a readiness probe keeps it out of its Service).",
  hint: "use the name of one of the container's `ports`, or the port number",
  check({ index }) {
    const out: Report[] = [];
    for (const [r, t] of podTemplates(index)) {
      for (const field of ["containers", "initContainers"]) {
        asArray(t.spec[field]).forEach((c, i) => {
          const co = asObj(c);
          if (
            co.livenessProbe === undefined &&
            co.readinessProbe === undefined &&
            co.startupProbe === undefined
          )
            return;
          const names = asArray(co.ports).map((p) => asObj(p).name);
          for (const probe of PROBES) {
            const pr = asObj(co[probe]);
            for (const handler of ["httpGet", "tcpSocket", "grpc"]) {
              const port = asObj(pr[handler]).port;
              if (typeof port !== "string" || /^\d+$/.test(port) || names.includes(port)) continue;
              out.push({
                resource: r,
                path: [...t.path, field, i, probe, handler, "port"],
                message: `${describe(r)} container '${String(co.name)}' ${probe} uses port '${port}', which the container does not declare (its named ports: ${names.filter(Boolean).join(", ") || "none"})`,
              });
            }
          }
        });
      }
    }
    return out;
  },
});
