import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asStringMap, describe, fromUpstreamChart } from "../resource.ts";
import { ISTIO_PROTOCOLS, protocolOfAppProtocol, protocolOfPortName } from "../istio.ts";

export default defineRule({
  code: "svc/port-protocol",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0118", "KIA0601", "KIA0602"],
  title: "Service ports declare their protocol (name prefix or appProtocol)",
  description:
    "Istio selects the protocol of a port from `appProtocol`, or else from the port name `<protocol>[-<suffix>]` (http, http2, https, grpc, grpc-web, tcp, tls, mongo, mysql, redis, udp...). Without either, Istio falls back to protocol sniffing, which breaks server-first protocols and loses HTTP features. As in istioctl, Services labelled `istio` (control plane, gateways) are exempt; on Services an upstream platform chart renders the finding is an info, since their port names are the chart's.",
  hint: `name the port \`http\`, \`http-web\`, \`grpc\`... or set appProtocol (one of ${ISTIO_PROTOCOLS.join(", ")})`,
  check({ index }) {
    const out: Report[] = [];
    for (const svc of index.of("Service")) {
      if (index.isOpaque(svc.ns) || asObj(svc.object.spec).type === "ExternalName") continue;
      // As istioctl's PortNameAnalyzer: the control plane and gateways (label `istio`, or
      // `release: istio`) are Istio's own and exempt.
      const labels = asStringMap(asObj(svc.object.metadata).labels);
      if ("istio" in labels || labels.release === "istio") continue;
      // An upstream chart's port names are not the user's to change: said, as Istio says it (info).
      const severity = fromUpstreamChart(svc) ? ("info" as const) : undefined;
      asArray(asObj(svc.object.spec).ports).forEach((p, i) => {
        const po = asObj(p);
        if (typeof po.appProtocol === "string") {
          if (!protocolOfAppProtocol(po.appProtocol)) {
            out.push({
              resource: svc,
              path: ["spec", "ports", i, "appProtocol"],
              message: `${describe(svc)} port ${String(po.port)} has appProtocol '${po.appProtocol}', which Istio does not recognize`,
              anchors: ["KIA0602"],
              ...(severity ? { severity } : {}),
            });
          }
          return;
        }
        const name = typeof po.name === "string" ? po.name : "";
        if (protocolOfPortName(name)) return;
        out.push({
          resource: svc,
          path: ["spec", "ports", i, name ? "name" : "port"],
          message: `${describe(svc)} port ${String(po.port)} ${name ? `is named '${name}', which` : "has no name and"} does not follow Istio's <protocol>[-suffix] convention`,
          anchors: ["IST0118", "KIA0601"],
          ...(severity ? { severity } : {}),
        });
      });
    }
    return out;
  },
});
